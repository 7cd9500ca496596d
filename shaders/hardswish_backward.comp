// y = g (x < -3 ? 0 : x <= 3 ? x / 3 + 1/2 : 1)  (inputs: x, g)
// bindings: 0 out, 1-3 inputs, 4 meta; see map.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "map.glsl"

float op(float a, float b, float c) {
    return a < -3.0 ? 0.0 : (a <= 3.0 ? b * (a / 3.0 + 0.5) : b);
}
