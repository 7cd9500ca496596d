// y = cosh(x), up to overflow
// bindings: 0 out, 1-3 inputs, 4 meta; see map.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "map.glsl"
#include "elementwise.glsl"

float op(float a, float b, float c) {
    return cosh_(a);
}
