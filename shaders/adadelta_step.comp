// g_ = ±g + wd*master; sq = rho sq + (1-rho) g_^2; delta = sqrt(acc+eps)/sqrt(sq+eps) g_; acc = rho acc + (1-rho) delta^2; master -= lr delta; p = master
// bindings: 0 p, 1 g, 2 square_avg f32, 3 acc_delta f32, 4 master f32; attrs lr rho eps weight_decay maximize
#version 450
#extension GL_GOOGLE_include_directive : require
#include "update.glsl"
layout(std430, binding = 1) buffer G { uint g_[]; };
F16_VIEW(1, g_)
layout(std430, binding = 2) buffer Sq { float sq_[]; };
layout(std430, binding = 3) buffer Acc { float acc_[]; };
layout(std430, binding = 4) buffer W { float w_[]; };
float step_(uint i) {
    float lr = attr(0u), rho = attr(1u), eps = attr(2u), wd = attr(3u);
    float w = w_[i];
    float g = LOAD(g_, D1, i);
    if (attr(4u) != 0.0) g = -g;
    g += wd * w;
    float sq = rho * sq_[i] + (1.0 - rho) * g * g;
    sq_[i] = sq;
    float acc = acc_[i];
    float delta = sqrt(acc + eps) / sqrt(sq + eps) * g;
    acc_[i] = rho * acc + (1.0 - rho) * delta * delta;
    w -= lr * delta;
    w_[i] = w;
    return w;
}
