// y = scale (x > 0 ? x : alpha (e^x - 1))  (attrs alpha, scale)
// bindings: 0 out, 1-3 inputs, 4 meta; see map.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "map.glsl"
#include "elementwise.glsl"

float op(float a, float b, float c) {
    return attr(1u) * (a > 0.0 ? a : attr(0u) * expm1_(a));
}
