// y = log(1 + e^(beta x)) / beta, x where beta x > threshold  (attrs beta, threshold)
// bindings: 0 out, 1-3 inputs, 4 meta; see map.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "map.glsl"
#include "elementwise.glsl"

float op(float a, float b, float c) {
    float z = a * attr(0u);
    return z > attr(1u) ? a : softplus_(z) / attr(0u);
}
