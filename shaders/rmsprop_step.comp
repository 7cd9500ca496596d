// g_ = ±g + wd*master; sq = a sq + (1-a) g_^2; centered: gavg = a gavg + (1-a) g_, avg = sqrt(sq - gavg^2) + eps, else sqrt(sq) + eps; momentum: buf = mom buf + g_/avg, master -= lr buf; else master -= lr g_/avg
// bindings: 0 p, 1 g, 2 sq f32, 3 gavg f32, 4 buf f32 (unused ones alias sq), 5 master f32; attrs lr alpha eps weight_decay momentum centered maximize
#version 450
#extension GL_GOOGLE_include_directive : require
#include "update.glsl"
layout(std430, binding = 1) buffer G { uint g_[]; };
F16_VIEW(1, g_)
layout(std430, binding = 2) buffer Sq { float sq_[]; };
layout(std430, binding = 3) buffer Ga { float ga_[]; };
layout(std430, binding = 4) buffer Bf { float b_[]; };
layout(std430, binding = 5) buffer W { float w_[]; };
float step_(uint i) {
    float lr = attr(0u), a = attr(1u), eps = attr(2u), wd = attr(3u), mom = attr(4u);
    float w = w_[i];
    float g = LOAD(g_, D1, i);
    if (attr(6u) != 0.0) g = -g;
    g += wd * w;
    float sq = a * sq_[i] + (1.0 - a) * g * g;
    sq_[i] = sq;
    float avg;
    if (attr(5u) != 0.0) {
        float ga = a * ga_[i] + (1.0 - a) * g;
        ga_[i] = ga;
        avg = sqrt(sq - ga * ga) + eps;
    } else {
        avg = sqrt(sq) + eps;
    }
    if (mom != 0.0) {
        float b = mom * b_[i] + g / avg;
        b_[i] = b;
        w -= lr * b;
    } else {
        w -= lr * g / avg;
    }
    w_[i] = w;
    return w;
}
