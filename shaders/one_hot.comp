// out[i] = (t[i / C] == i % C) as int32; a class value outside [0, C) gives a zero row.
// bindings: 0 out int32, 1 t int32; push u0 n (elements of out), u1 C
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(std430, binding = 0) buffer Out { uint out_[]; };
layout(std430, binding = 1) readonly buffer T { int t_[]; };

void main() {
    uint n = pc.u[0], C = pc.u[1];
    for (uint i = gl_GlobalInvocationID.x; i < n; i += gl_NumWorkGroups.x * WG) {
        out_[i] = t_[i / C] == int(i % C) ? 1u : 0u;
    }
}
