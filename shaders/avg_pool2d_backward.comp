// gx[n, c, y, x] = sum over the windows covering (y, x) of g[n, c, oh, ow] / divisor(oh, ow)
// bindings: 0 gx (N, C, H, W), 1 g (N, C, Ho, Wo)
#version 450
#extension GL_GOOGLE_include_directive : require
#include "avg_pool.glsl"

float compute(uint i) {
    int x = int(i % W_), y = int((i / W_) % H_);
    uint nc = i / (W_ * H_);
    float s = 0.0;
    for (uint ki = 0u; ki < KH; ++ki) {
        uint oh;
        if (!tap(y, int(ki), SH, PT, 1, HO, oh)) continue;
        for (uint kj = 0u; kj < KW; ++kj) {
            uint ow;
            if (!tap(x, int(kj), SW, PL, 1, WO, ow)) continue;
            s += X((nc * HO + oh) * WO + ow) / avg_divisor(oh, ow);
        }
    }
    return s;
}
