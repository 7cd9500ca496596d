// y = mish''(x) = (1 - t^2) s (2 + x (1 - s - 2 t s)), s = sigmoid(x)
// bindings: 0 out, 1-3 inputs, 4 meta; see map.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "map.glsl"
#include "elementwise.glsl"

float op(float a, float b, float c) {
    float t, q;
    mish_parts(a, t, q);
    float s = sigmoid_(a);
    return q * s * (2.0 + a * (sigmoid_(-a) - 2.0 * t * s));  // 1 - s without cancellation
}
