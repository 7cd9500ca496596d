// y = (1 - t) x + (1 + (pw - 1) t) softplus(-x), softplus stable for any |x| (inputs: x, t, pw)
// bindings: 0 out, 1-3 inputs, 4 meta; see map.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "map.glsl"

float op(float a, float b, float c) {
    float sp = max(-a, 0.0) + log(1.0 + exp(-abs(a)));
    return (1.0 - b) * a + (1.0 + (c - 1.0) * b) * sp;
}
