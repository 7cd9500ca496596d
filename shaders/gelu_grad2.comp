// y = gelu''(x)  (attr approximate)
// bindings: 0 out, 1-3 inputs, 4 meta; see map.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "map.glsl"

float op(float a, float b, float c) {
    if (attr(0u) != 0.0) {
        float t = tanh_(GELU_K * (a + GELU_C * a * a * a));
        float du = GELU_K * (1.0 + 3.0 * GELU_C * a * a);
        float ddu = GELU_K * 6.0 * GELU_C * a;
        float s = 1.0 - t * t;
        return s * du + 0.5 * a * s * (ddu - 2.0 * t * du * du);
    }
    return INV_SQRT_2PI * exp(-0.5 * a * a) * (2.0 - a * a);
}
