// y = sign(a)
// bindings: 0 out, 1-3 inputs, 4 meta; see map.glsl
// vkgrad: out float32 float16 int32
#version 450
#extension GL_GOOGLE_include_directive : require
#include "map.glsl"

float op(float a, float b, float c) {
    return sign(a);
}
