// y = d loss / dx = (1 + (pw - 1) t) sigmoid(x) - pw t  (inputs: x, t, pw)
// bindings: 0 out, 1-3 inputs, 4 meta; see map.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "map.glsl"

float op(float a, float b, float c) {
    return (1.0 + (c - 1.0) * b) * sigmoid_(a) - c * b;
}
