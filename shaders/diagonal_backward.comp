// y = zeros(in_shape) with g (rest dims..., L) on the offset-th diagonal of dims dim1, dim2
// bindings: 0 out, 1 g, 4 meta; attrs: 0 in_shape, 1 offset, 2 dim1, 3 dim2 (shape_index.glsl)
#version 450
#extension GL_GOOGLE_include_directive : require
#include "shape_index.glsl"

float value(uint i) {
    uint c[8];
    coords(i, c);
    int off = attr(1u, 0u);
    uint d1 = uint(attr(2u, 0u));
    uint d2 = uint(attr(3u, 0u));
    if (int(c[d2]) - int(c[d1]) != off) {
        return 0.0;
    }
    uint src = 0u;
    for (uint d = 0u; d < out_ndim(); ++d) {
        if (d != d1 && d != d2) {
            src = src * out_dim(d) + c[d];
        }
    }
    uint len = in_dim(0u, in0_ndim() - 1u);
    return load0(src * len + (off >= 0 ? c[d1] : c[d2]));
}
