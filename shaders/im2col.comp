// cols[n, (c, i, j), (oh, ow)] = x[n, c, oh sh - pt + i dh, ow sw - pl + j dw] (0 off the image)
// bindings: 0 cols (N, C kh kw, Ho Wo), 1 x (N, C, H, W); geometry in window.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "window.glsl"

float compute(uint i) {
    uint l = i % (HO * WO), r = i / (HO * WO);
    uint k = r % (KH * KW), nc = r / (KH * KW);  // nc = n C + c
    int y = int(l / WO) * SH - PT + int(k / KW) * DH;
    int x = int(l % WO) * SW - PL + int(k % KW) * DW;
    if (y < 0 || x < 0 || y >= int(H_) || x >= int(W_)) return 0.0;
    return X((nc * H_ + uint(y)) * W_ + uint(x));
}
