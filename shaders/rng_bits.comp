// out[i] = word i of the draw (philox.glsl), as int32; bindings: rng.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#define RNG_WORDS
#include "rng.glsl"

void main() {
    uvec4 st = draw_state();
    uint stride = gl_NumWorkGroups.x * WG;
    for (uint i = gl_GlobalInvocationID.x; i < pc.n; i += stride) out_[i] = philox_word(st, i);
}
