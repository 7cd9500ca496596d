// y = x rounded to attr decimals places, halves to even (as PyTorch)
// bindings: 0 out, 1-3 inputs, 4 meta; see map.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "map.glsl"

float op(float a, float b, float c) {
    float d = attr(0u);
    if (d == 0.0) return roundEven(a);
    float s = 1.0;
    for (float k = 0.0; k < abs(d); k += 1.0) s *= 10.0;
    return d > 0.0 ? roundEven(a * s) / s : roundEven(a / s) * s;
}
