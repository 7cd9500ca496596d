// gx[n, c, y, x] = sum over the taps (i, j) whose window (oh, ow) covers (y, x) and the outputs o
// of c's group of g[n, o, oh, ow] w[o, c mod C/groups, i, j]; bindings: 0 gx, 1 g, 2 w
// vkgrad: loops taps out_channels
#version 450
#extension GL_GOOGLE_include_directive : require
#include "window.glsl"

float compute(uint idx) {
    int x = int(idx % W_), y = int((idx / W_) % H_);
    uint nc = idx / (W_ * H_);
    uint c = nc % C_, n = nc / C_;
    uint cg = C_ / GROUPS, og = COUT / GROUPS;
    uint o0 = (c / cg) * og;
    float s = 0.0;
    for (uint i = 0u; i < KH; ++i) {
        uint oh;
        if (!tap(y, int(i), SH, PT, DH, HO, oh)) continue;
        for (uint j = 0u; j < KW; ++j) {
            uint ow;
            if (!tap(x, int(j), SW, PL, DW, WO, ow)) continue;
            uint gi = ((n * COUT + o0) * HO + oh) * WO + ow;
            uint wi = ((o0 * cg + c % cg) * KH + i) * KW + j;
            for (uint o = 0u; o < og; ++o) s += X(gi + o * HO * WO) * Y(wi + o * cg * KH * KW);
        }
    }
    return s;
}
