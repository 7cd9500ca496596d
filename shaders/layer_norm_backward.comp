// gx = rstd * (gw - mean(gw) - xh * mean(gw * xh)), gw = g * w, xh = (x - mean) * rstd
// (rms: no mean(gw) term). bindings: 0 out (M, K), 1 x, 2 w (K,) or scalar, 3 g, 4 stats (M, 2)
// vkgrad: in D4 float32
#version 450
#extension GL_GOOGLE_include_directive : require
#include "norm.glsl"
void main() {
    uint M = pc.M, K = pc.K;
    bool rms = attr_u(0u) != 0u;
    FOR_ROWS(M) {
        float mean = IN3(2u * row), rstd = IN3(2u * row + 1u);
        float a = 0.0, c = 0.0;
        FOR_COLS(K) {
            uint i = row * K + col;
            float gw = IN2(i) * IN1(col);
            a += gw;
            c += gw * (IN0(i) - mean) * rstd;
        }
        a = rms ? 0.0 : wg_sum(a) / float(K);
        c = wg_sum(c) / float(K);
        FOR_COLS(K) {
            uint i = row * K + col;
            float xh = (IN0(i) - mean) * rstd;
            STORE(i, rstd * (IN2(i) * IN1(col) - a - xh * c));
        }
    }
}
