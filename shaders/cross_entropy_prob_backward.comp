// out[n, c] = (softmax(x)[n, c] * sum(p[n]) - p[n, c]) * g[n]
// bindings: 0 out (N, C), 1 x (N, C), 2 p (N, C), 3 g (N,); see rowop.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "rowop.glsl"
void main() {
    uint M = pc.M, K = pc.K;
    FOR_ROWS(M) {
        float mx, lse;
        row_lse(row * K, K, mx, lse);
        float sp = 0.0;
        FOR_COLS(K) sp += Y(row * K + col);
        sp = wg_sum(sp);
        float g = Z(row);
        FOR_COLS(K) { uint i = row * K + col; STORE(i, (exp(X(i) - lse) * sp - Y(i)) * g); }
    }
}
