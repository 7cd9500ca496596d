// out[..., c] = (t[...] == c) as int32; a class value outside [0, C) gives a zero row.
// bindings: 0 out int32 (..., C), 1 t int32 (...), 4 meta; see shape_index.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "shape_index.glsl"

float value(uint i) {
    uint C = out_dim(out_ndim() - 1u);
    return load0(i / C) == float(i % C) ? 1.0 : 0.0;
}
