// y = 1 where clamp's gradient goes to input `which` (0 x, 1 lo, 2 hi), as PyTorch  (inputs: x, lo, hi)
// bindings: 0 out, 1-3 inputs, 4 meta; see map.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "map.glsl"

float op(float a, float b, float c) {
    bool lo = attr(1u) != 0.0, hi = attr(2u) != 0.0;
    float w = attr(0u);
    bool r;
    if (w == 0.0) r = (!lo || a >= b) && (!hi || a <= c);
    else if (w == 1.0) r = a < b && (!hi || b < c);  // a min above max loses to the max
    else r = a > c || (lo && c < b);
    return r ? 1.0 : 0.0;
}
