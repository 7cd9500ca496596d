// out[i] = low + floor(w_i * span / 2^32) (w_i: word i of the draw), int32; attrs: low, span
#version 450
#extension GL_GOOGLE_include_directive : require
#define RNG_WORDS
#include "rng.glsl"

void main() {
    uvec4 st = draw_state();
    uint low = attr_u(0u), span = attr_u(1u);
    uint stride = gl_NumWorkGroups.x * WG;
    for (uint i = gl_GlobalInvocationID.x; i < pc.n; i += stride) {
        uint hi, lo;
        umulExtended(philox_word(st, i), span, hi, lo);
        out_[i] = low + hi;  // uint arithmetic wraps: a negative low is its two's complement
    }
}
