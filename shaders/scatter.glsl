// scatter.glsl: for each element i of the loop shape (the index's, or the source's for a 1-D
// index along dim): out[ooff(i) with the dim coordinate = index[ioff(i)]] <- src[soff(i)] * alpha,
// through put(word offset, value, raw src word) defined by the kernel. An index out of [0, size)
// or equal to skip drops the element. Bindings: 0 out, 1 index int32, 2 src, 3 meta (loop
// shape[8], out strides[8], index strides[8], src strides[8]). Push: n, ndim, dim,
// size (of out along dim), skip (-1: none), scalar (src is a scalar, f32 bits in value), alpha.
#include "common.glsl"

// Push constants (kinds/ declares the same names in the same order).
layout(push_constant) uniform PC { uint n; uint ndim; uint dim; uint size; uint skip; uint scalar; uint value; uint alpha; } pc;

layout(std430, binding = 0) buffer Out { uint out_[]; };
F16_VIEW(0, out_)
layout(std430, binding = 1) readonly buffer Idx { int idx_[]; };
layout(std430, binding = 2) readonly buffer Src { uint src_[]; };
F16_VIEW(2, src_)
layout(std430, binding = 3) readonly buffer Meta { uint meta[]; };
F16_VIEW(3, meta)

void put(uint o, float v, uint raw);

void main() {
    uint n = pc.n, nd = pc.ndim, dim = pc.dim;
    uint stride = gl_NumWorkGroups.x * WG;
    float alpha = uintBitsToFloat(pc.alpha);
    for (uint i = gl_GlobalInvocationID.x; i < n; i += stride) {
        uint r = i, oo = 0u, io = 0u, so = 0u;
        for (int d = int(nd) - 1; d >= 0; --d) {
            uint s = meta[d];
            uint c = r % s;
            r /= s;
            if (uint(d) != dim) oo += c * meta[8 + d];
            io += c * meta[16 + d];
            so += c * meta[24 + d];
        }
        int k = idx_[io];
        if (k < 0 || uint(k) >= pc.size || k == int(pc.skip)) continue;
        oo += uint(k) * meta[8 + dim];
        if (pc.scalar != 0u) {
            float v = uintBitsToFloat(pc.value);
            put(oo, v, encode_word(v, D0));
        } else {
            put(oo, LOAD(src_, D2, so) * alpha, D2 == DT_F16 ? 0u : src_[so]);
        }
    }
}
