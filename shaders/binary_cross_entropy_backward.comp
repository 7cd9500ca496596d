// y = g (x - t) / max(x (1 - x), 1e-12)  (inputs: x, t, g)
// bindings: 0 out, 1-3 inputs, 4 meta; see map.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "map.glsl"

float op(float a, float b, float c) {
    return c * (a - b) / max(a * (1.0 - a), 1e-12);
}
