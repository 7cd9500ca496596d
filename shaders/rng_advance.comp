// The state after a draw: offset += count (64-bit, with carry); out may be the state itself.
// attrs: count. One thread.
#version 450
#extension GL_GOOGLE_include_directive : require
#define RNG_WORDS
#include "rng.glsl"

void main() {
    if (gl_GlobalInvocationID.x != 0u) return;
    uvec4 st = draw_state();  // read every word before writing: out aliases the state
    uint count = attr_u(0u);
    uint lo = st.z + count;
    out_[0] = st.x;
    out_[1] = st.y;
    out_[2] = lo;
    out_[3] = st.w + (lo < count ? 1u : 0u);
}
