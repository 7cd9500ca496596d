// y = exp(x - max) / sum(exp(x - max)) over the last axis
// bindings: 0 out (M, K), 1 x (M, K); see rowop.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "rowop.glsl"
void main() {
    uint M = pc.M, K = pc.K;
    FOR_ROWS(M) {
        float mx, lse;
        row_lse(row * K, K, mx, lse);
        FOR_COLS(K) { uint i = row * K + col; STORE(i, exp(X(i) - lse)); }
    }
}
