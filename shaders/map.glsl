// map.glsl: elementwise kernels. Bindings: 0 out, 1-3 inputs, 4 meta (uint).
// Push: n, modes (2 bits per input: 0 tensor, 2 scalar, 3 absent), scalars, ndim, use_meta
// (strided/broadcast/view), scatter (out written through the view), attrs (the row's scalar
// attrs, f32 bits). Meta: shape[8]; per input and out: offset, strides[8].
#include "common.glsl"
#include "mathfn.glsl"

// Push constants (kinds/ declares the same names in the same order).
layout(push_constant) uniform PC { uint n; uint modes; uint scalars[3]; uint ndim; uint use_meta; uint scatter; uint attrs[24]; } pc;

layout(std430, binding = 0) buffer Out { uint out_[]; };
F16_VIEW(0, out_)
layout(std430, binding = 1) buffer In0 { uint in0[]; };
F16_VIEW(1, in0)
layout(std430, binding = 2) buffer In1 { uint in1[]; };
F16_VIEW(2, in1)
layout(std430, binding = 3) buffer In2 { uint in2[]; };
F16_VIEW(3, in2)
layout(std430, binding = 4) readonly buffer Meta { uint meta[]; };
F16_VIEW(4, meta)

float op(float a, float b, float c);

float attr(uint k) { return uintBitsToFloat(pc.attrs[k]); }

// Element offsets of flat output index i in each input (0-2) and in the output (3).
void offsets(uint i, out uint o[4]) {
    o = uint[4](i, i, i, i);
    if (pc.use_meta == 0u) return;
    o = uint[4](meta[8], meta[17], meta[26], meta[35]);
    for (int d = int(pc.ndim) - 1; d >= 0; --d) {
        uint s = meta[d];
        uint c = i % s;
        i /= s;
        o[0] += c * meta[9 + d];
        o[1] += c * meta[18 + d];
        o[2] += c * meta[27 + d];
        o[3] += c * meta[36 + d];
    }
}

float input_value(uint k, uint off) {
    uint mode = (pc.modes >> (2u * k)) & 3u;
    if (mode == 2u) return uintBitsToFloat(pc.scalars[k]);
    if (mode == 3u) return 0.0;
    if (k == 0u) return LOAD(in0, D1, off);
    if (k == 1u) return LOAD(in1, D2, off);
    return LOAD(in2, D3, off);
}

float compute(uint o[4]) {
    return op(input_value(0u, o[0]), input_value(1u, o[1]), input_value(2u, o[2]));
}

void main() {
    uint n = pc.n;
    uint stride = gl_NumWorkGroups.x * WG;
    uint o[4];
    if (pc.scatter != 0u) {
        // Scatter: the view may put neighbours' halves in one word, so store race-free.
        for (uint i = gl_GlobalInvocationID.x; i < n; i += stride) {
            offsets(i, o);
            float v = compute(o);
            STORE_ANY(out_, D0, o[3], v)
        }
        return;
    }
#if D0 == DT_F16
    // Each thread owns one whole word: the pair of elements 2w, 2w+1.
    uint nw = (n + 1u) / 2u;
    for (uint w = gl_GlobalInvocationID.x; w < nw; w += stride) {
        offsets(2u * w, o);
        float v0 = compute(o);
        float v1 = 0.0;
        if (2u * w + 1u < n) {
            offsets(2u * w + 1u, o);
            v1 = compute(o);
        }
        out_[w] = packHalf2x16(vec2(v0, v1));
    }
#else
    for (uint i = gl_GlobalInvocationID.x; i < n; i += stride) {
        offsets(i, o);
        out_[i] = encode_word(compute(o), D0);
    }
#endif
}
