// g_ = ±g + wd*master; sum += g_^2; master -= clr g_/(sqrt(sum)+eps) with clr = lr/(1+(t-1) lr_decay); p = master
// bindings: 0 p, 1 g, 2 sum f32, 3 master f32; attrs clr weight_decay eps maximize
#version 450
#extension GL_GOOGLE_include_directive : require
#include "update.glsl"
layout(std430, binding = 1) buffer G { uint g_[]; };
F16_VIEW(1, g_)
layout(std430, binding = 2) buffer S { float s_[]; };
layout(std430, binding = 3) buffer W { float w_[]; };
float step_(uint i) {
    float clr = attr(0u), wd = attr(1u), eps = attr(2u);
    float w = w_[i];
    float g = LOAD(g_, D1, i);
    if (attr(3u) != 0.0) g = -g;
    g += wd * w;
    float s = s_[i] + g * g;
    s_[i] = s;
    w -= clr * g / (sqrt(s) + eps);
    w_[i] = w;
    return w;
}
