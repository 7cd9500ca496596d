// g_ = ±g + wd*master; m = b1 m + (1-b1) g_; u = max(b2 u, |g_| + eps); master -= clr m/u with clr = lr/(1-b1^t); p = master
// bindings: 0 p, 1 g, 2 exp_avg f32, 3 exp_inf f32, 4 master f32; attrs clr beta1 beta2 eps weight_decay maximize
#version 450
#extension GL_GOOGLE_include_directive : require
#include "update.glsl"
layout(std430, binding = 1) buffer G { uint g_[]; };
F16_VIEW(1, g_)
layout(std430, binding = 2) buffer Mb { float m_[]; };
layout(std430, binding = 3) buffer U { float u_[]; };
layout(std430, binding = 4) buffer W { float w_[]; };
float step_(uint i) {
    float clr = attr(0u), b1 = attr(1u), b2 = attr(2u), eps = attr(3u), wd = attr(4u);
    float w = w_[i];
    float g = LOAD(g_, D1, i);
    if (attr(5u) != 0.0) g = -g;
    g += wd * w;
    float m = b1 * m_[i] + (1.0 - b1) * g;
    // eps joins |g_| before the max (PyTorch's placement): u is never 0, so m/u is finite.
    float u = max(b2 * u_[i], abs(g) + eps);
    m_[i] = m;
    u_[i] = u;
    w -= clr * m / u;
    w_[i] = w;
    return w;
}
