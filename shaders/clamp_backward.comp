// y = g where min <= x <= max else 0  (inputs: x, g; clamp's attrs)
// bindings: 0 out, 1-3 inputs, 4 meta; see map.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "map.glsl"

float op(float a, float b, float c) {
    bool in_ = (attr(2u) == 0.0 || a >= attr(0u)) && (attr(3u) == 0.0 || a <= attr(1u));
    return in_ ? b : 0.0;
}
