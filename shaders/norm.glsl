// norm.glsl: kernels of the norm family (kinds norm_row, norm_col, norm_elem).
// Bindings: 0 out, 1-4 inputs. Push: M, K (rows x cols; elementwise: M*K elements),
// scalar_inputs (bit k set: input k is a Python scalar, f32 bits in scalars[k]), attrs (the row's attrs
// in order (ints as uint, floats as f32 bits).
#include "rowred.glsl"

// Push constants (kinds/ declares the same names in the same order).
layout(push_constant) uniform PC { uint M; uint K; uint scalar_inputs; uint scalars[4]; uint attrs[25]; } pc;

layout(std430, binding = 0) buffer Out { uint out_[]; };
F16_VIEW(0, out_)
layout(std430, binding = 1) buffer In0 { uint in0[]; };
F16_VIEW(1, in0)
layout(std430, binding = 2) buffer In1 { uint in1[]; };
F16_VIEW(2, in1)
layout(std430, binding = 3) buffer In2 { uint in2[]; };
F16_VIEW(3, in2)
layout(std430, binding = 4) buffer In3 { uint in3[]; };
F16_VIEW(4, in3)

bool scalar_input(uint k) { return ((pc.scalar_inputs >> k) & 1u) != 0u; }
#define IN_(buf, dt, k, i) (scalar_input(k) ? uintBitsToFloat(pc.scalars[k]) : LOAD(buf, dt, (i)))
#define IN0(i) IN_(in0, D1, 0u, (i))
#define IN1(i) IN_(in1, D2, 1u, (i))
#define IN2(i) IN_(in2, D3, 2u, (i))
#define IN3(i) IN_(in3, D4, 3u, (i))
// Rows may start mid-word (odd K), so f16 outputs use the race-free half store.
#define STORE(i, v) STORE_ANY(out_, D0, (i), (v))

uint attr_u(uint k) { return pc.attrs[k]; }
float attr_f(uint k) { return uintBitsToFloat(pc.attrs[k]); }

// Mean and 1/sqrt(var + eps) of row `base` of input 0, two passes (no E[x^2] - E[x]^2
// cancellation); rms: mean fixed at 0, so var is the mean square.
void row_stats(uint base, uint K, float eps, bool rms, out float mean, out float rstd) {
    mean = 0.0;
    if (!rms) {
        float s = 0.0;
        FOR_COLS(K) { s += IN0(base + col); }
        mean = wg_sum(s) / float(K);
    }
    float q = 0.0;
    FOR_COLS(K) { float d = IN0(base + col) - mean; q += d * d; }
    rstd = 1.0 / sqrt(wg_sum(q) / float(K) + eps);
}
