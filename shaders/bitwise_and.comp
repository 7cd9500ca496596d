// y = a & b: int32 bits (exact below 2^24, as ints pass through f32), or bool and
// bindings: 0 out, 1-3 inputs, 4 meta; see map.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "map.glsl"

float op(float a, float b, float c) {
#if D0 == DT_I32
    return float(int(a) & int(b));
#else
    return (a != 0.0 && b != 0.0) ? 1.0 : 0.0;
#endif
}
