// y = a ^ b (NumPy semantics for a <= 0: integer b keeps the sign rule)
// bindings: 0 out, 1-3 inputs, 4 meta; see map.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "map.glsl"

float op(float a, float b, float c) {
    if (a > 0.0) return pow(a, b);
    if (b == 0.0) return 1.0;
    if (a == 0.0) return b > 0.0 ? 0.0 : INF;
    if (floor(b) != b) return uintBitsToFloat(0x7fc00000u);  // NaN, as NumPy
    float r = pow(-a, b);
    return mod(b, 2.0) == 1.0 ? -r : r;
}
