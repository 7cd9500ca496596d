// y = x / sqrt(mean(x^2) + eps) * w over each row; w: (K,) or a scalar
// bindings: 0 out (M, K), 1 x (M, K), 2 w; attrs: eps; see norm.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "norm.glsl"
void main() {
    uint M = pc.M, K = pc.K;
    float eps = attr_f(0u);
    FOR_ROWS(M) {
        float mean, rstd;
        row_stats(row * K, K, eps, true, mean, rstd);
        FOR_COLS(K) { uint i = row * K + col; STORE(i, IN0(i) * rstd * IN1(col)); }
    }
}
