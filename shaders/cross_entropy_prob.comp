// loss[n] = -sum_c p[n, c] * log_softmax(x)[n, c] = sum(p) * lse - sum(p * x)
// bindings: 0 out (N,), 1 x (N, C), 2 p (N, C); push M = N, K = C; see rowop.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "rowop.glsl"
void main() {
    uint M = pc.M, K = pc.K;
    FOR_ROWS(M) {
        float mx, lse;
        row_lse(row * K, K, mx, lse);
        float s = 0.0;
        FOR_COLS(K) { uint i = row * K + col; s += Y(i) * (lse - X(i)); }
        s = wg_sum(s);
        if (TID == 0u) STORE(row, s);
    }
}
