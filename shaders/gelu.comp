// y = x Phi(x) (attr approximate: 0 erf, 1 tanh form)
// bindings: 0 out, 1-3 inputs, 4 meta; see map.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "map.glsl"

float op(float a, float b, float c) {
    if (attr(0u) != 0.0) return 0.5 * a * (1.0 + tanh_(GELU_K * (a + GELU_C * a * a * a)));
    return 0.5 * a * one_plus_erf(a * SQRT1_2);
}
