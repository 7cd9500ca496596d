// y = 0 everywhere, then g written through the slice view (scatter)
// bindings: 0 out, 1-3 inputs, 4 meta; see map.glsl
// vkgrad: zero fill
#version 450
#extension GL_GOOGLE_include_directive : require
#include "map.glsl"

float op(float a, float b, float c) {
    return a;
}
