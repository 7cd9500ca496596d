// y[m] = sum_k (x[m, k] - mean)^2 / (K - correction), two passes (corrected two-pass sum)
// bindings: 0 out (M,), 1 x (M, K); attr 0 correction; see axis.glsl
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
        float q = 0.0, e = 0.0;
        FOR_COLS(K) { float d = X(base + col) - mean; q += d * d; e += d; }
        q = wg_sum(q);
        e = wg_sum(e);
        // e is the rounding error of the mean: subtracting e^2 / K removes its first-order effect.
        if (TID == 0u) STORE(row, (q - e * e / float(K)) / (float(K) - attr(0)));
    }
}
