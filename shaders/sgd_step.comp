// d = ±g + wd*master; momentum: buf = first ? d : mom*buf + (1-damp)*d; d = nesterov ? d + mom*buf : buf; master -= lr*d; p = master
// bindings: 0 p, 1 g, 2 buf f32, 3 master f32; attrs lr momentum dampening weight_decay nesterov first_step maximize
#version 450
#extension GL_GOOGLE_include_directive : require
#include "update.glsl"
layout(std430, binding = 1) buffer G { uint g_[]; };
F16_VIEW(1, g_)
layout(std430, binding = 2) buffer B { float b_[]; };
layout(std430, binding = 3) buffer W { float w_[]; };
float step_(uint i) {
    float lr = attr(0u), mom = attr(1u), damp = attr(2u), wd = attr(3u);
    float w = w_[i];
    float g = LOAD(g_, D1, i);
    float d = (attr(6u) != 0.0 ? -g : g) + wd * w;
    if (mom != 0.0) {
        float b = attr(5u) != 0.0 ? d : mom * b_[i] + (1.0 - damp) * d;
        b_[i] = b;
        d = attr(4u) != 0.0 ? d + mom * b : b;
    }
    w -= lr * d;
    w_[i] = w;
    return w;
}
