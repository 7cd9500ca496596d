// y = g / sqrt(1 - x^2)  (inputs: x, g)
// bindings: 0 out, 1-3 inputs, 4 meta; see map.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "map.glsl"

float op(float a, float b, float c) {
    return b * inversesqrt(1.0 - a * a);
}
