// y = min(max(x, lo), hi), each bound used only if has_min / has_max  (inputs: x, lo, hi)
// bindings: 0 out, 1-3 inputs, 4 meta; see map.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "map.glsl"

float op(float a, float b, float c) {
    float y = a;
    if (attr(0u) != 0.0) y = max(y, b);
    if (attr(1u) != 0.0) y = min(y, c);
    return y;
}
