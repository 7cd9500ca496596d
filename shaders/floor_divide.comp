// y = floor(a / b); int32 out: exact integer floor division (ints pass through f32)
// bindings: 0 out, 1-3 inputs, 4 meta; see map.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "map.glsl"

float op(float a, float b, float c) {
#if D0 == DT_I32
    int ia = int(a), ib = int(b);
    if (ib == 0) return 0.0;  // PyTorch raises; a kernel has no way to
    // On magnitudes, where GLSL's integer / and % are defined; then round toward -inf.
    int q = abs(ia) / abs(ib);
    bool inexact = abs(ia) % abs(ib) != 0;
    if ((ia < 0) != (ib < 0)) q = inexact ? -q - 1 : -q;
    return float(q);
#else
    return floor(a / b);
#endif
}
