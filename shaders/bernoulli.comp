// out[i] = u_i < p_i ? 1 : 0, u_i = (w_i >> 8) 2^-24 (exact); p: binding 2 or a scalar
#version 450
#extension GL_GOOGLE_include_directive : require
#include "rng.glsl"

float value(uvec4 st, uint i) {
    float u = float(philox_word(st, i) >> 8u) * TWO_M24;
    return u < IN0(i) ? 1.0 : 0.0;
}

void main() { store_values(); }
