// out = g sign(x) (|x| / y)^(p - 1), 0 where x = 0 or y = 0 (inputs: x, y = norm, g)
// bindings: 0 out, 1-3 inputs, 4 meta; attr 0 p; see map.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "map.glsl"

float op(float a, float b, float c) {
    float p = attr(0);
    if (a == 0.0 || b == 0.0) return 0.0;
    float r = abs(a) / b;
    float d = p == 1.0 ? 1.0 : (p == 2.0 ? r : pow(r, p - 1.0));
    return c * sign(a) * d;
}
