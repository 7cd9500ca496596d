// y[.., j, ..] = x[.., index[j], ..] along dim (attr 0)
// bindings: 0 out, 1 x, 2 index (int32), 3 offsets (int32, unused), 4 meta; see shape_index.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "shape_index.glsl"

float value(uint i) {
    uint dim = uint(attr(0u, 0u));
    uint src = 0u;
    uint step = 1u;
    for (int d = int(out_ndim()) - 1; d >= 0; --d) {
        uint s = out_dim(uint(d));
        uint c = i % s;
        i /= s;
        if (uint(d) == dim) {
            c = uint(index1(c));
        }
        src += c * step;
        step *= in_dim(0u, uint(d));
    }
    return load0(src);
}
