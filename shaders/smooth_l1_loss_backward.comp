// y = g * (|d| < beta ? d / beta : sign(d)); d = x - t (inputs: x, t, g)
// bindings: 0 out, 1-3 inputs, 4 meta; attr 0 beta; see map.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "map.glsl"

float op(float a, float b, float c) {
    float beta = attr(0);
    float d = a - b;
    return c * (abs(d) < beta ? d / beta : sign(d));
}
