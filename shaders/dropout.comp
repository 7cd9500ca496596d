// y[i] = keep(i / group) ? x[i] * scale : 0, keep from rng.glsl (the same mask in backward)
// bindings: 0 out, 1 x; attrs: seed0, seed1, threshold, group, scale; see norm.glsl
// vkgrad: grid elements
#version 450
#extension GL_GOOGLE_include_directive : require
#include "norm.glsl"
#include "rng.glsl"

float value(uint i) {
    return keep(i / attr_u(3u), attr_u(0u), attr_u(1u), attr_u(2u)) ? IN0(i) * attr_f(4u) : 0.0;
}

void main() {
    uint n = pc.M * pc.K;
    uint stride = gl_NumWorkGroups.x * WG;
#if D0 == DT_F16
    // Each thread owns one whole word: the pair of elements 2w, 2w+1.
    for (uint w = gl_GlobalInvocationID.x; w < (n + 1u) / 2u; w += stride) {
        float v1 = 2u * w + 1u < n ? value(2u * w + 1u) : 0.0;
        out_[w] = packHalf2x16(vec2(value(2u * w), v1));
    }
#else
    for (uint i = gl_GlobalInvocationID.x; i < n; i += stride) out_[i] = encode_word(value(i), D0);
#endif
}
