// y = g (1 + t^2)  (inputs: t = tan output, g)
// bindings: 0 out, 1-3 inputs, 4 meta; see map.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "map.glsl"

float op(float a, float b, float c) {
    return b * (1.0 + a * a);
}
