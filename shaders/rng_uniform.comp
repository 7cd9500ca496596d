// out[i] = low + u_i (high - low), u_i = (w_i >> (32 - bits)) 2^-bits in [0, 1): bits = 11
// for f16 outputs (exact in f16), 24 for f32; attrs: low, high, bits
#version 450
#extension GL_GOOGLE_include_directive : require
#include "rng.glsl"

float value(uvec4 st, uint i) {
    uint bits = attr_u(2u);
    float u = ldexp(float(philox_word(st, i) >> (32u - bits)), -int(bits));
    // precise: no fused multiply-add, so the rounding is NumPy's f32 a + b * c
    precise float span = attr_f(1u) - attr_f(0u);
    precise float v = attr_f(0u) + u * span;
    return v;
}

void main() { store_values(); }
