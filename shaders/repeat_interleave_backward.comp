// y[.., k, ..] = sum of g[.., j, ..] for j in [offsets[k], offsets[k + 1]) along dim (attr 0)
// bindings: 0 out, 1 g, 2 index (int32, unused), 3 offsets (int32), 4 meta; see shape_index.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "shape_index.glsl"

float value(uint i) {
    uint dim = uint(attr(0u, 0u));
    uint base = 0u;
    uint step = 1u;
    uint dstep = 1u;
    uint k = 0u;
    for (int d = int(out_ndim()) - 1; d >= 0; --d) {
        uint s = out_dim(uint(d));
        uint c = i % s;
        i /= s;
        if (uint(d) == dim) {
            k = c;
            dstep = step;
        } else {
            base += c * step;
        }
        step *= in_dim(0u, uint(d));
    }
    float acc = 0.0;
    int hi = index2(k + 1u);
    for (int j = index2(k); j < hi; ++j) {
        acc += load0(base + uint(j) * dstep);
    }
    return acc;
}
