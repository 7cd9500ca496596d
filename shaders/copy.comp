// y = x, cast to the output binding's dtype by the load/store helpers
// bindings: 0 out, 1-3 inputs, 4 meta; see map.glsl
// vkgrad: casts
#version 450
#extension GL_GOOGLE_include_directive : require
#include "map.glsl"

float op(float a, float b, float c) {
    return a;
}
