// y[i] = keep(i / group) ? x[i] * scale : 0, keep from philox.glsl with the key of binding 1
// (the backward runs this same kernel on the gradient with the same key: the same mask).
// attrs: threshold, group, scale; bindings: rng.glsl (binding 2: x)
#version 450
#extension GL_GOOGLE_include_directive : require
#include "rng.glsl"

float value(uvec4 st, uint i) {
    return philox_keep(st, i / attr_u(1u), attr_u(0u)) ? IN0(i) * attr_f(2u) : 0.0;
}

void main() { store_values(); }
