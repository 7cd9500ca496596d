// gx[n, c, y, x] = sum over the adaptive windows covering (y, x) of g / window size: windows oh in
// [floor(y Ho / H), ceil((y + 1) Ho / H)); bindings: 0 gx (N, C, H, W), 1 g (N, C, Ho, Wo)
#version 450
#extension GL_GOOGLE_include_directive : require
#include "window.glsl"

float compute(uint i) {
    uint x = i % W_, y = (i / W_) % H_, nc = i / (W_ * H_);
    uint h0 = y * HO / H_, h1 = ((y + 1u) * HO + H_ - 1u) / H_;
    uint w0 = x * WO / W_, w1 = ((x + 1u) * WO + W_ - 1u) / W_;
    float s = 0.0;
    for (uint oh = h0; oh < h1; ++oh) {
        float rows = float(((oh + 1u) * H_ + HO - 1u) / HO - oh * H_ / HO);
        for (uint ow = w0; ow < w1; ++ow) {
            float cols = float(((ow + 1u) * W_ + WO - 1u) / WO - ow * W_ / WO);
            s += X((nc * HO + oh) * WO + ow) / (rows * cols);
        }
    }
    return s;
}
