// y[m] = max + log(sum_k exp(x[m, k] - max)); -inf for a row of -inf, inf if any x is inf
// bindings: 0 out (M,), 1 x (M, K); see axis.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "axis.glsl"
void main() {
    uint M = pc.M, K = pc.K;
    FOR_ROWS(M) {
        uint base = row * K;
        float m = -INF;
        FOR_COLS(K) m = max(m, X(base + col));
        m = wg_max(m);
        float shift = isinf(m) ? 0.0 : m;  // no inf - inf
        float s = 0.0;
        FOR_COLS(K) s += exp(X(base + col) - shift);
        s = wg_sum(s);
        if (TID == 0u) STORE(row, shift + log(s));
    }
}
