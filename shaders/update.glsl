// update.glsl: optimizer steps, in place. Push: n (elements of p). The row's attrs are read
// from a small f32 buffer at binding HYPER (after the row's tensors), not from push constants:
// a captured step is replayed with new values (lr, bias corrections) written into that buffer.
// p (binding 0) may be f16: a thread then owns one word of p, i.e. elements 2w and 2w+1.
#include "common.glsl"

// Push constants (kinds/ declares the same names in the same order).
layout(push_constant) uniform PC { uint n; } pc;

layout(std430, binding = HYPER) readonly buffer Hyper { float hyper_[]; };
float attr(uint k) { return hyper_[k]; }
float step_(uint i);  // updates the f32 state of element i, returns the new master value

layout(std430, binding = 0) buffer P { uint p_[]; };
F16_VIEW(0, p_)

void main() {
    uint n = pc.n;
    uint stride = gl_NumWorkGroups.x * WG;
#if D0 == DT_F16
    for (uint w = gl_GlobalInvocationID.x; w < (n + 1u) / 2u; w += stride) {
        float v0 = step_(2u * w);
        float v1 = 2u * w + 1u < n ? step_(2u * w + 1u) : 0.0;
        p_[w] = packHalf2x16(vec2(v0, v1));
    }
#else
    for (uint i = gl_GlobalInvocationID.x; i < n; i += stride) {
        // When p is f32 the caller binds the master array as p too: same value, same thread.
        p_[i] = encode_word(step_(i), D0);
    }
#endif
}
