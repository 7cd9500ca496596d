// rng.glsl: the rng kind's header (kinds/rng.py): draws from a generator state.
// Bindings: 0 out, 1 the generator state (4 words, philox.glsl), 2 the row's data input (if
// any; dtype D2). Push: n (output elements), scalar_input (1: the data input is the Python
// scalar whose f32 bits are scalar_value), attrs (the row's attrs in order, ints as uint,
// floats as f32 bits).
#include "common.glsl"
#include "philox.glsl"

// Push constants (kinds/ declares the same names in the same order).
layout(push_constant) uniform PC { uint n; uint scalar_input; uint scalar_value; uint attrs[29]; } pc;

layout(std430, binding = 0) buffer Out { uint out_[]; };
F16_VIEW(0, out_)
layout(std430, binding = 1) buffer State { uint state_[]; };
layout(std430, binding = 2) buffer In0 { uint in0[]; };
F16_VIEW(2, in0)

#define IN0(i) (pc.scalar_input != 0u ? uintBitsToFloat(pc.scalar_value) : LOAD(in0, D2, (i)))

uint attr_u(uint k) { return pc.attrs[k]; }
float attr_f(uint k) { return uintBitsToFloat(pc.attrs[k]); }

uvec4 draw_state() { return uvec4(state_[0], state_[1], state_[2], state_[3]); }

// 2^-24 and 2^-23: uniforms are integers scaled by powers of two, exact in f32.
#define TWO_M24 5.9604644775390625e-8
#define TWO_M23 1.1920928955078125e-7

#ifndef RNG_WORDS
// Float rows define value(st, i), element i of the output; store_values() writes them all,
// one thread per element (f16: per pair of elements, so that each thread owns a whole word).
// Rows writing whole words (int32 outputs) define RNG_WORDS and their own main.
float value(uvec4 st, uint i);

void store_values() {
    uvec4 st = draw_state();
    uint n = pc.n;
    uint stride = gl_NumWorkGroups.x * WG;
#if D0 == DT_F16
    for (uint w = gl_GlobalInvocationID.x; w < (n + 1u) / 2u; w += stride) {
        float v1 = 2u * w + 1u < n ? value(st, 2u * w + 1u) : 0.0;
        out_[w] = packHalf2x16(vec2(value(st, 2u * w), v1));
    }
#else
    for (uint i = gl_GlobalInvocationID.x; i < n; i += stride) out_[i] = encode_word(value(st, i), D0);
#endif
}
#endif
