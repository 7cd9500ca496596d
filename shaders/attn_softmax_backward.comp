// dz = p * (d - sum(p * d)), d = dropout mask(dp) (rng.glsl; none when `dropout` is 0)
// bindings: 0 out (M, K) (may alias dp), 1 dp (M, K), 2 p (M, K); attrs: dropout, seed0,
// seed1, threshold, scale (the dropout's 1/(1-p)); see norm.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "norm.glsl"
#include "rng.glsl"

float dropped(uint i) {
    if (attr_u(0u) == 0u) return IN0(i);
    return keep(i, attr_u(1u), attr_u(2u), attr_u(3u)) ? IN0(i) * attr_f(4u) : 0.0;
}

void main() {
    uint M = pc.M, K = pc.K;
    FOR_ROWS(M) {
        float s = 0.0;
        FOR_COLS(K) { uint i = row * K + col; s += IN1(i) * dropped(i); }
        s = wg_sum(s);
        FOR_COLS(K) { uint i = row * K + col; STORE(i, IN1(i) * (dropped(i) - s)); }
    }
}
