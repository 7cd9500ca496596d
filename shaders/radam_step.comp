// g_ = ±g (+ wd*master unless decoupled, else master *= 1 - lr wd); m = b1 m + (1-b1) g_; v = b2 v + (1-b2) g_^2;
// rectified: master -= lr (m/bias1) rect/(sqrt(v)+eps) with rect = r_t sqrt(1-b2^t); else master -= lr m/bias1; p = master
// the host decides the branch (rho_t > 5 depends on the step count only) and passes it as rectified
// bindings: 0 p, 1 g, 2 exp_avg f32, 3 exp_avg_sq f32, 4 master f32; attrs lr beta1 beta2 eps weight_decay decoupled bias1 rectified rect maximize
#version 450
#extension GL_GOOGLE_include_directive : require
#include "update.glsl"
layout(std430, binding = 1) buffer G { uint g_[]; };
F16_VIEW(1, g_)
layout(std430, binding = 2) buffer Mb { float m_[]; };
layout(std430, binding = 3) buffer Vb { float v_[]; };
layout(std430, binding = 4) buffer W { float w_[]; };
float step_(uint i) {
    float lr = attr(0u), b1 = attr(1u), b2 = attr(2u), eps = attr(3u), wd = attr(4u);
    float w = w_[i];
    float g = LOAD(g_, D1, i);
    if (attr(9u) != 0.0) g = -g;
    if (attr(5u) != 0.0) w *= 1.0 - lr * wd;
    else g += wd * w;
    float m = b1 * m_[i] + (1.0 - b1) * g;
    float v = b2 * v_[i] + (1.0 - b2) * g * g;
    m_[i] = m;
    v_[i] = v;
    float mhat = m / attr(6u);
    if (attr(7u) != 0.0) w -= lr * mhat * (attr(8u) / (sqrt(v) + eps));
    else w -= lr * mhat;
    w_[i] = w;
    return w;
}
