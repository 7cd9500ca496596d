// y = g (x > 0 ? 1 : slope)  (inputs: x, g; attr negative_slope)
// bindings: 0 out, 1-3 inputs, 4 meta; see map.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "map.glsl"

float op(float a, float b, float c) {
    return a > 0.0 ? b : b * attr(0u);
}
