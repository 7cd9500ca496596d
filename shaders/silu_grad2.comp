// y = silu''(x) = s (1 - s) (2 + x (1 - 2 s))
// bindings: 0 out, 1-3 inputs, 4 meta; see map.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "map.glsl"

float op(float a, float b, float c) {
    float s = sigmoid_(a);
    return s * (1.0 - s) * (2.0 + a * (1.0 - 2.0 * s));
}
