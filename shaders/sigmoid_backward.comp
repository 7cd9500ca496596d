// y = g * s * (1 - s)  (inputs: s = sigmoid output, g)
// bindings: 0 out, 1-3 inputs, 4 meta; see map.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "map.glsl"

float op(float a, float b, float c) {
    return b * a * (1.0 - a);
}
