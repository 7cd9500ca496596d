// out = acc + wrap(t) * stride (int32, over the broadcast shape); wrap(t) = t + size for t < 0;
// -1 (skipped by the gather) where t is outside [-size, size) or acc < 0.
// bindings: 0 out, 1 acc int32, 2 t int32, 3 meta (shape[8], acc strides[8], t strides[8]);
// push: n, ndim, scalar (acc is the scalar 0), size, stride
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

// Push constants (kinds/ declares the same names in the same order).
layout(push_constant) uniform PC { uint n; uint ndim; uint scalar; uint size; uint stride; } pc;

layout(std430, binding = 0) buffer Out { int out_[]; };
layout(std430, binding = 1) readonly buffer Acc { int acc_[]; };
layout(std430, binding = 2) readonly buffer T { int t_[]; };
layout(std430, binding = 3) readonly buffer Meta { uint meta[]; };
F16_VIEW(3, meta)

void main() {
    uint n = pc.n, nd = pc.ndim;
    int size = int(pc.size), stride = int(pc.stride);
    for (uint i = gl_GlobalInvocationID.x; i < n; i += gl_NumWorkGroups.x * WG) {
        uint r = i, ao = 0u, to = 0u;
        for (int d = int(nd) - 1; d >= 0; --d) {
            uint s = meta[d];
            uint c = r % s;
            r /= s;
            ao += c * meta[8 + d];
            to += c * meta[16 + d];
        }
        int a = pc.scalar != 0u ? 0 : acc_[ao];
        int t = t_[to];
        bool ok = a >= 0 && t >= -size && t < size;
        out_[i] = ok ? a + (t < 0 ? t + size : t) * stride : -1;
    }
}
