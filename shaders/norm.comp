// y[m] = (sum_k |x[m, k]|^p)^(1/p), scaled by max |x| (no overflow); p = inf: max |x|,
// -inf: min |x|, 0: count of nonzeros. bindings: 0 out (M,), 1 x (M, K); attr 0 p; axis.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "axis.glsl"
void main() {
    uint M = pc.M, K = pc.K;
    float p = attr(0);
    FOR_ROWS(M) {
        uint base = row * K;
        float r;
        if (p == -INF) {
            float mn = INF;
            FOR_COLS(K) mn = min(mn, abs(X(base + col)));
            r = wg_min(mn);
        } else if (p == 0.0) {
            float c = 0.0;
            FOR_COLS(K) c += X(base + col) != 0.0 ? 1.0 : 0.0;
            r = wg_sum(c);
        } else if (p == 1.0) {
            float s = 0.0;
            FOR_COLS(K) s += abs(X(base + col));
            r = wg_sum(s);
        } else {
            float mx = 0.0;
            FOR_COLS(K) mx = max(mx, abs(X(base + col)));
            mx = wg_max(mx);
            if (p == INF) {
                r = mx;
            } else {
                float sc = (mx > 0.0 && !isinf(mx)) ? mx : 1.0;
                float s = 0.0;
                FOR_COLS(K) {
                    float t = abs(X(base + col)) / sc;
                    s += p == 2.0 ? t * t : pow(t, p);
                }
                s = wg_sum(s);
                r = sc * (p == 2.0 ? sqrt(s) : pow(s, 1.0 / p));
            }
        }
        if (TID == 0u) STORE(row, r);
    }
}
