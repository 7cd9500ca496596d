// loss[n] = logsumexp(x[n]) - x[n, t[n]]
// bindings: 0 out (N,), 1 x (N, C), 2 t int32 (N,); push M = N, K = C; see rowop.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "rowop.glsl"
void main() {
    uint M = pc.M, K = pc.K;
    FOR_ROWS(M) {
        float mx, lse;
        row_lse(row * K, K, mx, lse);
        if (TID == 0u) { int t = int(in1[row]); STORE(row, lse - X(row * K + uint(t))); }
    }
}
