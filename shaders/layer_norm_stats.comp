// stats[m] = (mean, 1/sqrt(var + eps)) of row m (rms: (0, 1/sqrt(mean(x^2) + eps)))
// bindings: 0 out (M, 2), 1 x (M, K); attrs: eps, rms; see norm.glsl
// vkgrad: in D0 float32
#version 450
#extension GL_GOOGLE_include_directive : require
#include "norm.glsl"
void main() {
    uint M = pc.M, K = pc.K;
    float eps = attr_f(0u);
    bool rms = attr_u(1u) != 0u;
    FOR_ROWS(M) {
        float mean, rstd;
        row_stats(row * K, K, eps, rms, mean, rstd);
        if (TID == 0u) { STORE(2u * row, mean); STORE(2u * row + 1u, rstd); }
    }
}
