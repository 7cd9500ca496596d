// shape_index.glsl: kernels that compute output element i from its index (masks, rolls,
// gathers, diagonal embedding). Bindings: 0 out, 1-3 inputs, 4 meta (uint). Push: n, ndim (of out),
// in0_ndim. Meta: out shape[8], in0..in2 shapes[8], then 8 words per row attr (tuples
// padded, negative ints in two's complement).
#include "common.glsl"

// Push constants (kinds/ declares the same names in the same order).
layout(push_constant) uniform PC { uint n; uint ndim; uint in0_ndim; } pc;

layout(std430, binding = 0) buffer Out { uint out_[]; };
F16_VIEW(0, out_)
layout(std430, binding = 1) readonly buffer In0 { uint in0[]; };
F16_VIEW(1, in0)
layout(std430, binding = 2) readonly buffer In1 { uint in1[]; };
F16_VIEW(2, in1)
layout(std430, binding = 3) readonly buffer In2 { uint in2[]; };
F16_VIEW(3, in2)
layout(std430, binding = 4) readonly buffer Meta { uint meta[]; };
F16_VIEW(4, meta)

float value(uint i);

uint out_ndim() { return pc.ndim; }
uint in0_ndim() { return pc.in0_ndim; }
uint out_dim(uint d) { return meta[d]; }
uint in_dim(uint k, uint d) { return meta[8u * (k + 1u) + d]; }
int attr(uint k, uint j) { return int(meta[32u + 8u * k + j]); }

float load0(uint i) { return LOAD(in0, D1, i); }
// Inputs 1 and 2 of these rows are int32 indices: read the words as they are.
int index1(uint i) { return int(in1[i]); }
int index2(uint i) { return int(in2[i]); }

// The coordinates of flat output index i.
void coords(uint i, out uint c[8]) {
    c = uint[8](0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u);
    for (int d = int(out_ndim()) - 1; d >= 0; --d) {
        uint s = meta[d];
        c[d] = i % s;
        i /= s;
    }
}

void main() {
    uint n = pc.n;
    uint stride = gl_NumWorkGroups.x * WG;
#if D0 == DT_F16
    // Each thread owns one whole word: the pair of elements 2w, 2w+1.
    uint nw = (n + 1u) / 2u;
    for (uint w = gl_GlobalInvocationID.x; w < nw; w += stride) {
        float v0 = value(2u * w);
        float v1 = 0.0;
        if (2u * w + 1u < n) {
            v1 = value(2u * w + 1u);
        }
        out_[w] = packHalf2x16(vec2(v0, v1));
    }
#else
    for (uint i = gl_GlobalInvocationID.x; i < n; i += stride) {
        out_[i] = encode_word(value(i), D0);
    }
#endif
}
