// y = g (t + x (1 - t^2) sigmoid(x)), t = tanh(softplus(x))  (inputs: x, g)
// bindings: 0 out, 1-3 inputs, 4 meta; see map.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "map.glsl"
#include "elementwise.glsl"

float op(float a, float b, float c) {
    float t, q;
    mish_parts(a, t, q);
    return b * (t + a * q * sigmoid_(a));
}
