// rowred.glsl: one workgroup per row, shared-memory tree reductions (WG a power of two).
#include "common.glsl"

shared float red_[WG];

float wg_sum(float v) {
    uint t = gl_LocalInvocationID.x;
    red_[t] = v;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1u) {
        if (t < s) red_[t] += red_[t + s];
        barrier();
    }
    float r = red_[0];
    barrier();  // everyone has read red_[0] before the next reduction overwrites it
    return r;
}

float wg_max(float v) {
    uint t = gl_LocalInvocationID.x;
    red_[t] = v;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1u) {
        if (t < s) red_[t] = max(red_[t], red_[t + s]);
        barrier();
    }
    float r = red_[0];
    barrier();
    return r;
}

#define TID gl_LocalInvocationID.x
// Rows: grid-stride over workgroups; uniform across the group, so barriers are legal.
#define FOR_ROWS(M) for (uint row = gl_WorkGroupID.x; row < (M); row += gl_NumWorkGroups.x)
#define FOR_COLS(K) for (uint col = TID; col < (K); col += WG)
