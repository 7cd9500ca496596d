// y = a - b floor(a / b): the sign of b (Python's %); int32 out: exact
// bindings: 0 out, 1-3 inputs, 4 meta; see map.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "map.glsl"

float op(float a, float b, float c) {
#if D0 == DT_I32
    int ia = int(a), ib = int(b);
    if (ib == 0) return 0.0;  // PyTorch raises; a kernel has no way to
    int r = abs(ia) % abs(ib);
    if (ia < 0) r = -r;
#else
    // fmod, then moved into the divisor's sign: robust where a / b rounds to an integer.
    float r = a - b * trunc(a / b);
    float ib = b;
#endif
    if (r != 0 && ((r < 0) != (ib < 0))) r += ib;
    return float(r);
}
