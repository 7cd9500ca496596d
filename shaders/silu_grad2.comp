// y = silu''(x) = s (1 - s) (2 + x (1 - 2 s))
// bindings: 0 out, 1-3 inputs, 4 meta; see map.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "map.glsl"

float op(float a, float b, float c) {
    // 1 - s as sigmoid(-x): no cancellation for large x, where 1 - s underflows in f32.
    float s = sigmoid_(a), r = sigmoid_(-a);
    return s * r * (2.0 + a * (r - s));
}
