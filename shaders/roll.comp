// y[c] = x[(c - shift) mod size] in every dim; attr 0: shifts per dim, each in [0, size)
// bindings: 0 out, 1 x, 4 meta; see shape_index.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "shape_index.glsl"

float value(uint i) {
    uint src = 0u;
    uint step = 1u;
    for (int d = int(out_ndim()) - 1; d >= 0; --d) {
        uint s = out_dim(uint(d));
        uint c = i % s;
        i /= s;
        uint k = uint(attr(0u, uint(d)));
        src += (c >= k ? c - k : c + s - k) * step;
        step *= s;
    }
    return load0(src);
}
