// out[..., index[i], ...] = src[i] along dim (out already holds the input); see scatter.glsl
// bindings: 0 out, 1 index int32, 2 src, 3 meta. f16: the race-free half store.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "scatter.glsl"

void put(uint o, float v, uint raw) {
#if D0 == DT_F16
    STORE_HALF_ATOMIC(out_, o, v)
#else
    out_[o] = (D0 == D2 && pc.scalar == 0u) ? raw : encode_word(v, D0);
#endif
}
