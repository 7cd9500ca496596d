// g_ = ±g + wd*master; master *= 1 - lambd eta; master -= eta g_; ax = master if mu == 1 else ax + mu (master - ax); p = master
// eta and mu follow the step count on the host (PyTorch keeps them as scalars too)
// bindings: 0 p, 1 g, 2 ax f32, 3 master f32; attrs eta lambd mu weight_decay maximize
#version 450
#extension GL_GOOGLE_include_directive : require
#include "update.glsl"
layout(std430, binding = 1) buffer G { uint g_[]; };
F16_VIEW(1, g_)
layout(std430, binding = 2) buffer Ax { float ax_[]; };
layout(std430, binding = 3) buffer W { float w_[]; };
float step_(uint i) {
    float eta = attr(0u), lambd = attr(1u), mu = attr(2u), wd = attr(3u);
    float w = w_[i];
    float g = LOAD(g_, D1, i);
    if (attr(4u) != 0.0) g = -g;
    g += wd * w;
    w *= 1.0 - lambd * eta;
    w -= eta * g;
    // Before t0 the average is the iterate itself: copied, not blended, as PyTorch does.
    if (mu == 1.0) ax_[i] = w;
    else ax_[i] += (w - ax_[i]) * mu;
    w_[i] = w;
    return w;
}
