// y = g sigmoid(beta x), g where beta x > threshold  (inputs: x, g)
// bindings: 0 out, 1-3 inputs, 4 meta; see map.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "map.glsl"

float op(float a, float b, float c) {
    float z = a * attr(0u);
    return z > attr(1u) ? b : b * sigmoid_(z);
}
