// y = g scale (x > 0 ? 1 : alpha e^x)  (inputs: x, g; attrs alpha, scale)
// bindings: 0 out, 1-3 inputs, 4 meta; see map.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "map.glsl"

float op(float a, float b, float c) {
    return b * attr(1u) * (a > 0.0 ? 1.0 : attr(0u) * exp(min(a, 0.0)));
}
