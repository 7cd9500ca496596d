// y = x relu6(x + 3) / 6
// bindings: 0 out, 1-3 inputs, 4 meta; see map.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "map.glsl"

float op(float a, float b, float c) {
    return a * clamp(a + 3.0, 0.0, 6.0) / 6.0;
}
