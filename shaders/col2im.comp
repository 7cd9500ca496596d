// x[n, c, y, x] = sum over the taps (i, j) whose window covers (y, x) of cols[n, (c, i, j), (oh, ow)]
// (the adjoint of im2col, as a gather: no atomics); bindings: 0 x (N, C, H, W), 1 cols
#version 450
#extension GL_GOOGLE_include_directive : require
#include "window.glsl"

float compute(uint i) {
    int x = int(i % W_), y = int((i / W_) % H_);
    uint nc = i / (W_ * H_);
    float s = 0.0;
    for (uint ki = 0u; ki < KH; ++ki) {
        uint oh;
        if (!tap(y, int(ki), SH, PT, DH, HO, oh)) continue;
        for (uint kj = 0u; kj < KW; ++kj) {
            uint ow;
            if (!tap(x, int(kj), SW, PL, DW, WO, ow)) continue;
            s += X(((nc * KH + ki) * KW + kj) * (HO * WO) + oh * WO + ow);
        }
    }
    return s;
}
