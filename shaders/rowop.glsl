// rowop.glsl: row kernels over (M, K). Bindings: 0 out, 1-3 inputs. Push: M, K.
#include "rowred.glsl"

// Push constants (kinds/ declares the same names in the same order).
layout(push_constant) uniform PC { uint M; uint K; } pc;

layout(std430, binding = 0) buffer Out { uint out_[]; };
F16_VIEW(0, out_)
layout(std430, binding = 1) buffer In0 { uint in0[]; };
F16_VIEW(1, in0)
layout(std430, binding = 2) buffer In1 { uint in1[]; };
F16_VIEW(2, in1)
layout(std430, binding = 3) buffer In2 { uint in2[]; };
F16_VIEW(3, in2)

#define X(i) LOAD(in0, D1, (i))
#define Y(i) LOAD(in1, D2, (i))
#define Z(i) LOAD(in2, D3, (i))
// Rows may start mid-word (odd K), so f16 outputs use the race-free half store.
#define STORE(i, v) STORE_ANY(out_, D0, (i), (v))

// max and log(sum(exp(x - max))) of row `base`: the stable log-sum-exp pieces.
void row_lse(uint base, uint K, out float mx, out float lse) {
    float m = -INF;
    for (uint col = TID; col < K; col += WG) m = max(m, X(base + col));
    mx = wg_max(m);
    float s = 0.0;
    for (uint col = TID; col < K; col += WG) s += exp(X(base + col) - mx);
    lse = mx + log(wg_sum(s));
}
