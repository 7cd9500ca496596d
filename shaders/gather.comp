// out[i] = x[xoff(i) + index[ioff(i)] * xstride[dim]] over the output shape (gather, index_select,
// embedding); an index out of [0, size) or equal to skip reads 0. dim >= ndim: a strided copy.
// bindings: 0 out, 1 x, 2 index int32, 3 meta (shape[8], x strides[8], index strides[8]).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

// Push constants (kinds/ declares the same names in the same order).
layout(push_constant) uniform PC { uint n; uint ndim; uint dim; uint size; uint skip; } pc;

layout(std430, binding = 0) buffer Out { uint out_[]; };
F16_VIEW(0, out_)
layout(std430, binding = 1) readonly buffer X { uint x_[]; };
F16_VIEW(1, x_)
layout(std430, binding = 2) readonly buffer Idx { int idx_[]; };
layout(std430, binding = 3) readonly buffer Meta { uint meta[]; };
F16_VIEW(3, meta)

// push: n, ndim, dim, size (of x along dim), skip (-1: none)

// The element offset in x read by output element i; false when its index is skipped.
bool source(uint i, out uint xo) {
    uint nd = pc.ndim, dim = pc.dim;
    uint io = 0u;
    xo = 0u;
    for (int d = int(nd) - 1; d >= 0; --d) {
        uint s = meta[d];
        uint c = i % s;
        i /= s;
        io += c * meta[16 + d];
        if (uint(d) != dim) xo += c * meta[8 + d];
    }
    if (dim >= nd) return true;
    int k = idx_[io];
    if (k < 0 || uint(k) >= pc.size || k == int(pc.skip)) return false;
    xo += uint(k) * meta[8 + dim];
    return true;
}

float value(uint i) {
    uint xo;
    return source(i, xo) ? LOAD(x_, D1, xo) : 0.0;
}

void main() {
    uint n = pc.n;
    uint stride = gl_NumWorkGroups.x * WG;
#if D0 == DT_F16
    // Each thread owns one whole word: the pair of elements 2w, 2w+1.
    uint nw = (n + 1u) / 2u;
    for (uint w = gl_GlobalInvocationID.x; w < nw; w += stride) {
        float v1 = 2u * w + 1u < n ? value(2u * w + 1u) : 0.0;
        out_[w] = packHalf2x16(vec2(value(2u * w), v1));
    }
#else
    // 32-bit elements are copied bit for bit (int32 values stay exact).
    for (uint i = gl_GlobalInvocationID.x; i < n; i += stride) {
        uint xo;
        out_[i] = source(i, xo) ? x_[xo] : 0u;
    }
#endif
}
