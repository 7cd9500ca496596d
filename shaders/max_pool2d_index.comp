// idx[n, c, oh, ow] = flat offset y W + x of the first maximum of the window (-inf padding;
// NaN wins; -1 for a window without image pixels); bindings: 0 idx int32, 1 x (N, C, H, W)
#version 450
#extension GL_GOOGLE_include_directive : require
#include "window.glsl"

float compute(uint i) {
    uint ow = i % WO, oh = (i / WO) % HO, nc = i / (WO * HO);
    uint base = nc * H_ * W_;
    float best = -INF;
    int arg = -1;
    for (uint ki = 0u; ki < KH; ++ki) {
        int y = int(oh) * SH - PT + int(ki) * DH;
        if (y < 0 || y >= int(H_)) continue;
        for (uint kj = 0u; kj < KW; ++kj) {
            int x = int(ow) * SW - PL + int(kj) * DW;
            if (x < 0 || x >= int(W_)) continue;
            int at = y * int(W_) + x;
            float v = X(base + uint(at));
            if (arg < 0 || v > best || (isnan(v) && !isnan(best))) {
                best = v;
                arg = at;
            }
        }
    }
    return float(arg);
}
