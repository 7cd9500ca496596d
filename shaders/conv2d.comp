// y[n, o, oh, ow] = sum over c < C/groups, taps (i, j) of x[n, g C/groups + c, oh sh - pt + i dh,
// ow sw - pl + j dw] w[o, c, i, j], g = o's group; bindings: 0 y, 1 x (N, C, H, W), 2 w
// vkgrad: loops taps image 0
#version 450
#extension GL_GOOGLE_include_directive : require
#include "window.glsl"

// One thread per output: no tile is wasted on few channels, and no barriers (costly on CPU
// Vulkan implementations).
float compute(uint idx) {
    uint ow = idx % WO, oh = (idx / WO) % HO, no = idx / (WO * HO);
    uint o = no % COUT, n = no / COUT;
    uint cg = C_ / GROUPS;
    uint c0 = (o / (COUT / GROUPS)) * cg;
    int y0 = int(oh) * SH - PT, x0 = int(ow) * SW - PL;
    float s = 0.0;
    for (uint i = 0u; i < KH; ++i) {
        int y = y0 + int(i) * DH;
        if (y < 0 || y >= int(H_)) continue;
        for (uint j = 0u; j < KW; ++j) {
            int x = x0 + int(j) * DW;
            if (x < 0 || x >= int(W_)) continue;
            uint xi = ((n * C_ + c0) * H_ + uint(y)) * W_ + uint(x);
            uint wi = (o * cg * KH + i) * KW + j;
            for (uint c = 0u; c < cg; ++c) s += X(xi + c * H_ * W_) * Y(wi + c * KH * KW);
        }
    }
    return s;
}
