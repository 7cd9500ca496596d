// y = x where col - row >= diagonal (last two dims), 0 below; attr 0: diagonal
// bindings: 0 out, 1 x, 4 meta; see shape_index.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "shape_index.glsl"

float value(uint i) {
    uint nd = out_ndim();
    uint cols = out_dim(nd - 1u);
    uint rows = out_dim(nd - 2u);
    int c = int(i % cols);
    int r = int((i / cols) % rows);
    return (c - r >= attr(0u, 0u)) ? load0(i) : 0.0;
}
