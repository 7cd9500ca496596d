// y = -(t max(log x, -100) + (1 - t) max(log(1 - x), -100))  (inputs: x, t)
// bindings: 0 out, 1-3 inputs, 4 meta; see map.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "map.glsl"

float op(float a, float b, float c) {
    return -(b * max(log(a), -100.0) + (1.0 - b) * max(log(1.0 - a), -100.0));
}
