// y[n, c, oh, ow] = mean of x over rows [floor(oh H / Ho), ceil((oh + 1) H / Ho)) and the same
// for columns; bindings: 0 y (N, C, Ho, Wo), 1 x (N, C, H, W)
#version 450
#extension GL_GOOGLE_include_directive : require
#include "window.glsl"

float compute(uint i) {
    uint ow = i % WO, oh = (i / WO) % HO, nc = i / (WO * HO);
    uint y0 = oh * H_ / HO, y1 = ((oh + 1u) * H_ + HO - 1u) / HO;
    uint x0 = ow * W_ / WO, x1 = ((ow + 1u) * W_ + WO - 1u) / WO;
    float s = 0.0;
    for (uint y = y0; y < y1; ++y)
        for (uint x = x0; x < x1; ++x) s += X((nc * H_ + y) * W_ + x);
    return s / float((y1 - y0) * (x1 - x0));
}
