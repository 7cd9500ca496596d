// y = ~a: int32 bits (-a - 1), or bool not
// bindings: 0 out, 1-3 inputs, 4 meta; see map.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "map.glsl"

float op(float a, float b, float c) {
#if D0 == DT_I32
    return float(~int(a));
#else
    return a == 0.0 ? 1.0 : 0.0;
#endif
}
