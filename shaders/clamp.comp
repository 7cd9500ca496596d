// y = clamp(x, min, max) (attrs min, max, has_min, has_max)
// bindings: 0 out, 1-3 inputs, 4 meta; see map.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "map.glsl"

float op(float a, float b, float c) {
    float y = a;
    if (attr(2u) != 0.0) y = max(y, attr(0u));
    if (attr(3u) != 0.0) y = min(y, attr(1u));
    return y;
}
