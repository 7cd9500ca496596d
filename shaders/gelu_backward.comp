// y = g * gelu'(x)  (inputs: x, g; attr approximate)
// bindings: 0 out, 1-3 inputs, 4 meta; see map.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "map.glsl"

float op(float a, float b, float c) {
    if (attr(0u) != 0.0) {
        float t = tanh_(GELU_K * (a + GELU_C * a * a * a));
        float du = GELU_K * (1.0 + 3.0 * GELU_C * a * a);
        return b * (0.5 * (1.0 + t) + 0.5 * a * (1.0 - t * t) * du);
    }
    float phi = INV_SQRT_2PI * exp(-0.5 * a * a);
    return b * (0.5 * one_plus_erf(a * SQRT1_2) + a * phi);
}
