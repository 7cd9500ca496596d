// g_ = ±g (+ wd*master unless decoupled); m = b1 m + (1-b1) g_; v = b2 v + (1-b2) g_^2; vmax = max(vmax, v) if amsgrad; master -= lr (m/bias1)/(sqrt(v|vmax/bias2)+eps); p = master
// bindings: 0 p, 1 g, 2 m f32, 3 v f32, 4 vmax f32 (v again without amsgrad), 5 master f32; attrs lr beta1 beta2 eps weight_decay bias1 bias2 decoupled amsgrad maximize
#version 450
#extension GL_GOOGLE_include_directive : require
#include "update.glsl"
layout(std430, binding = 1) buffer G { uint g_[]; };
F16_VIEW(1, g_)
layout(std430, binding = 2) buffer Mb { float m_[]; };
layout(std430, binding = 3) buffer Vb { float v_[]; };
layout(std430, binding = 4) buffer Vmax { float vmax_[]; };
layout(std430, binding = 5) buffer W { float w_[]; };
float step_(uint i) {
    float lr = attr(0u), b1 = attr(1u), b2 = attr(2u), eps = attr(3u), wd = attr(4u);
    float w = w_[i];
    float g = LOAD(g_, D1, i);
    if (attr(9u) != 0.0) g = -g;
    if (attr(7u) != 0.0) w *= 1.0 - lr * wd;
    else g += wd * w;
    float m = b1 * m_[i] + (1.0 - b1) * g;
    float v = b2 * v_[i] + (1.0 - b2) * g * g;
    m_[i] = m;
    v_[i] = v;
    if (attr(8u) != 0.0) {
        v = max(vmax_[i], v);
        vmax_[i] = v;
    }
    w -= lr * (m / attr(5u)) / (sqrt(v / attr(6u)) + eps);
    w_[i] = w;
    return w;
}
