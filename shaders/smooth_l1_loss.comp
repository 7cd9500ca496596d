// y = 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta; d = x - t (inputs: x, t)
// bindings: 0 out, 1-3 inputs, 4 meta; attr 0 beta; see map.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "map.glsl"

float op(float a, float b, float c) {
    float beta = attr(0);
    float d = abs(a - b);
    return d < beta ? 0.5 * d * d / beta : d - 0.5 * beta;
}
