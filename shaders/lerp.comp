// y = a + w (b - a), two-sided as PyTorch (exact at w = 0 and 1)  (inputs: a, b, w)
// bindings: 0 out, 1-3 inputs, 4 meta; see map.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "map.glsl"

float op(float a, float b, float c) {
    return abs(c) < 0.5 ? a + c * (b - a) : b - (b - a) * (1.0 - c);
}
