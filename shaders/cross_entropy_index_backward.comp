// out[n, c] = (softmax(x)[n, c] - (c == t[n])) * g[n]
// bindings: 0 out (N, C), 1 x (N, C), 2 t int32 (N,), 3 g (N,); see rowop.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "rowop.glsl"
void main() {
    uint M = pc.M, K = pc.K;
    FOR_ROWS(M) {
        float mx, lse;
        row_lse(row * K, K, mx, lse);
        uint t = in1[row];
        float g = Z(row);
        FOR_COLS(K) {
            uint i = row * K + col;
            STORE(i, (exp(X(i) - lse) - (col == t ? 1.0 : 0.0)) * g);
        }
    }
}
