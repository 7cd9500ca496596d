// p = softmax(s * scale + mask) per row, masked: causal (col > row % Lq) or a false bool mask
// or -inf; fully masked rows give 0. bindings: 0 out (M, K) (may alias s), 1 s, 2 mask
// ((R, K) bool/float, row index row % R) or scalar; attrs: scale, causal, mask_mode, Lq, R
// vkgrad: in D2 same bool
#version 450
#extension GL_GOOGLE_include_directive : require
#include "norm.glsl"

float logit(uint row, uint col, uint K) {
    if (attr_u(1u) != 0u && col > row % attr_u(3u)) return -INF;
    float z = IN0(row * K + col) * attr_f(0u);
    uint mode = attr_u(2u);
    if (mode == 0u) return z;
    float m = IN1((row % attr_u(4u)) * K + col);
    if (mode == 1u) return m != 0.0 ? z : -INF;
    return z + m;
}

void main() {
    uint M = pc.M, K = pc.K;
    FOR_ROWS(M) {
        float mx = -INF;
        FOR_COLS(K) { mx = max(mx, logit(row, col, K)); }
        mx = wg_max(mx);
        float s = 0.0;
        if (mx != -INF) { FOR_COLS(K) { s += exp(logit(row, col, K) - mx); } }
        s = wg_sum(s);
        float inv = mx == -INF ? 0.0 : 1.0 / s;
        // Read all of a row before any write: out may be the same buffer as s.
        barrier();
        FOR_COLS(K) {
            float z = logit(row, col, K);
            STORE(row * K + col, z == -INF ? 0.0 : exp(z - mx) * inv);
        }
    }
}
