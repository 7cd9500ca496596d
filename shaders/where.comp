// y = cond ? a : b  (inputs: cond, a, b)
// bindings: 0 out, 1-3 inputs, 4 meta; see map.glsl
// vkgrad: in D1 bool
// vkgrad: out float32 float16
#version 450
#extension GL_GOOGLE_include_directive : require
#include "map.glsl"

float op(float a, float b, float c) {
    return a != 0.0 ? b : c;
}
