// out[..., index[i], ...] += alpha * src[i] along dim, atomically (out already holds the input);
// bindings: 0 out, 1 index int32, 2 src, 3 meta; see scatter.glsl. No float atomics without
// extensions: f32 is a compare-and-swap loop on the bits, f16 a CAS on the word holding the half.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "scatter.glsl"

void put(uint o, float v, uint raw) {
#if D0 == DT_F16
    uint w = o >> 1u, sh = (o & 1u) * 16u;
    uint old = out_[w];
    for (;;) {
        float cur = unpackHalf2x16(old >> sh).x;
        uint h = packHalf2x16(vec2(cur + v, 0.0)) & 0xFFFFu;
        uint nw = (old & ~(0xFFFFu << sh)) | (h << sh);
        uint prev = atomicCompSwap(out_[w], old, nw);
        if (prev == old) break;
        old = prev;
    }
#elif D0 == DT_I32
    atomicAdd(out_[o], uint(int(v)));
#else
    uint old = out_[o];
    for (;;) {
        uint nw = floatBitsToUint(uintBitsToFloat(old) + v);
        uint prev = atomicCompSwap(out_[o], old, nw);
        if (prev == old) break;
        old = prev;
    }
#endif
}
