// y = g / 6 on (-3, 3), else 0  (inputs: x, g)
// bindings: 0 out, 1-3 inputs, 4 meta; see map.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "map.glsl"

float op(float a, float b, float c) {
    return (a > -3.0 && a < 3.0) ? b / 6.0 : 0.0;
}
