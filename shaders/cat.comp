// y[r, c0 + c] = x[r, c] over the rows r of out viewed as (outer, row): one input into its slot
// bindings: 0 out, 1 x; push: outer, row (out row length), start (slot start), m (x row length)
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

// Push constants (kinds/ declares the same names in the same order).
layout(push_constant) uniform PC { uint outer; uint row; uint start; uint m; } pc;

layout(std430, binding = 0) buffer Out { uint out_[]; };
F16_VIEW(0, out_)
layout(std430, binding = 1) readonly buffer In0 { uint in0[]; };
F16_VIEW(1, in0)

void main() {
    uint outer = pc.outer;
    uint row = pc.row;
    uint c0 = pc.start;
    uint m = pc.m;
    uint stride = gl_NumWorkGroups.x * WG;
#if D0 == DT_F16
    // A thread owns one output word of a row's slot (at most m / 2 + 1 words per row): a plain
    // store when both halves are in the slot; at the slot's ends the other half belongs to a
    // neighbouring input, so only that end's half is stored, atomically.
    uint wpr = m / 2u + 1u;
    uint total = outer * wpr;
    for (uint t = gl_GlobalInvocationID.x; t < total; t += stride) {
        uint r = t / wpr;
        uint lo = r * row + c0;
        uint hi = lo + m;
        uint w = (lo >> 1) + (t - r * wpr);
        uint e0 = 2u * w;
        if (e0 >= hi) {
            continue;
        }
        uint src = r * m + e0 - lo;  // wraps when e0 = lo - 1; then only the second half is read
        bool first = e0 >= lo;
        bool second = e0 + 1u < hi;
        if (first && second) {
            out_[w] = packHalf2x16(vec2(LOAD(in0, D1, src), LOAD(in0, D1, src + 1u)));
        } else if (first) {
            STORE_HALF_ATOMIC(out_, e0, LOAD(in0, D1, src))
        } else {
            STORE_HALF_ATOMIC(out_, e0 + 1u, LOAD(in0, D1, src + 1u))
        }
    }
#else
    uint n = outer * m;
    for (uint t = gl_GlobalInvocationID.x; t < n; t += stride) {
        uint r = t / m;
        out_[r * row + c0 + (t - r * m)] = encode_word(LOAD(in0, D1, t), D0);
    }
#endif
}
