// y = g * s (1 + x (1 - s)), s = sigmoid(x)  (inputs: x, g)
// bindings: 0 out, 1-3 inputs, 4 meta; see map.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "map.glsl"

float op(float a, float b, float c) {
    float s = sigmoid_(a);
    return b * s * (1.0 + a * sigmoid_(-a));  // 1 - s without cancellation
}
