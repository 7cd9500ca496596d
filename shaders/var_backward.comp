// out[m, k] = (x[m, k] - mean_k x[m]) * 2 g[m] / (K - correction)
// bindings: 0 out (M, K), 1 x (M, K), 2 g (M,); attr 0 correction; see axis.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "axis.glsl"
void main() {
    uint M = pc.M, K = pc.K;
    FOR_ROWS(M) {
        uint base = row * K;
        float s = 0.0;
        FOR_COLS(K) s += X(base + col);
        float mean = wg_sum(s) / float(K);
        float f = 2.0 * Y(row) / (float(K) - attr(0));
        FOR_COLS(K) STORE(base + col, (X(base + col) - mean) * f);
    }
}
