// dz = p * (d - sum(p * d)), d = dropout mask(dp) (philox.glsl; none when `dropout` is 0)
// bindings: 0 out (M, K) (may alias dp), 1 dp (M, K), 2 p (M, K), 3 the dropout's key (a
// generator state; a scalar 0 without dropout); attrs: dropout, threshold, scale (the
// dropout's 1/(1-p)); see norm.glsl
// vkgrad: in D3 int32 same
#version 450
#extension GL_GOOGLE_include_directive : require
#include "norm.glsl"
#include "philox.glsl"

float dropped(uint i, uvec4 st) {
    if (attr_u(0u) == 0u) return IN0(i);
    return philox_keep(st, i, attr_u(1u)) ? IN0(i) * attr_f(2u) : 0.0;
}

void main() {
    uint M = pc.M, K = pc.K;
    uvec4 st = uvec4(0u);
    if (attr_u(0u) != 0u) st = uvec4(in2[0], in2[1], in2[2], in2[3]);
    FOR_ROWS(M) {
        float s = 0.0;
        FOR_COLS(K) { uint i = row * K + col; s += IN1(i) * dropped(i, st); }
        s = wg_sum(s);
        FOR_COLS(K) { uint i = row * K + col; STORE(i, IN1(i) * (dropped(i, st) - s)); }
    }
}
