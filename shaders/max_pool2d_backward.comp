// gx[n, c, y, x] = sum of g over the windows covering (y, x) whose argmax idx is y W + x
// bindings: 0 gx (N, C, H, W), 1 g (N, C, Ho, Wo), 2 idx int32 (N, C, Ho, Wo)
#version 450
#extension GL_GOOGLE_include_directive : require
#include "window.glsl"

float compute(uint i) {
    int x = int(i % W_), y = int((i / W_) % H_);
    uint nc = i / (W_ * H_);
    int me = y * int(W_) + x;
    float s = 0.0;
    for (uint ki = 0u; ki < KH; ++ki) {
        uint oh;
        if (!tap(y, int(ki), SH, PT, DH, HO, oh)) continue;
        for (uint kj = 0u; kj < KW; ++kj) {
            uint ow;
            if (!tap(x, int(kj), SW, PL, DW, WO, ow)) continue;
            uint o = (nc * HO + oh) * WO + ow;
            if (int(Y(o)) == me) s += X(o);
        }
    }
    return s;
}
