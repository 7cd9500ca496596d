// y = log2(x)
// bindings: 0 out, 1-3 inputs, 4 meta; see map.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "map.glsl"
#include "elementwise.glsl"

float op(float a, float b, float c) {
    // Near 1, log2 has only an absolute error bound (~2^-21): log1p keeps it relative there.
    return abs(a - 1.0) < 0.25 ? log1p_(a - 1.0) * 1.44269504088896341 : log2(a);
}
