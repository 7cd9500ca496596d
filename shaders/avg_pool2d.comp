// y[n, c, oh, ow] = sum of x over the window (clipped to the image) / divisor (avg_pool.glsl)
// bindings: 0 y (N, C, Ho, Wo), 1 x (N, C, H, W)
#version 450
#extension GL_GOOGLE_include_directive : require
#include "avg_pool.glsl"

float compute(uint i) {
    uint ow = i % WO, oh = (i / WO) % HO, nc = i / (WO * HO);
    int y0, y1, ph, x0, x1, pw;
    avg_span(oh, SH, PT, KH, H_, y0, y1, ph);
    avg_span(ow, SW, PL, KW, W_, x0, x1, pw);
    float s = 0.0;
    for (int y = y0; y < y1; ++y)
        for (int x = x0; x < x1; ++x) s += X((nc * H_ + uint(y)) * W_ + uint(x));
    return s / avg_divisor(oh, ow);
}
