// out[i] = mean + std z_i, z by Box-Muller on the block of element i: words (w0, w1) give
// elements 4b, 4b+1 and (w2, w3) elements 4b+2, 4b+3, as r cos(theta), r sin(theta) with
// r = sqrt(-2 log u1), u1 = ((w >> 8) + 1) 2^-24 in (0, 1], theta = pi s, s = ((w >> 8) - 2^23)
// 2^-23 in [-1, 1). attrs: mean, std, bits (24; 53 is the cpu's f64)
#version 450
#extension GL_GOOGLE_include_directive : require
#include "rng.glsl"
#include "mathfn.glsl"
#include "elementwise.glsl"

#define PI_F 3.14159265358979323846

float value(uvec4 st, uint i) {
    uvec4 b = philox_block(st, i >> 2u);
    bool first = (i & 2u) == 0u;
    uint w1 = first ? b.x : b.z;
    uint w2 = first ? b.y : b.w;
    precise float u1 = float((w1 >> 8u) + 1u) * TWO_M24;
    precise float theta = (float(int(w2 >> 8u) - 8388608) * TWO_M23) * PI_F;
    // Near 1, log has only an absolute error bound (~2^-21), a large relative one as log(u1)
    // goes to 0: log1p of u1 - 1 (exact) keeps it relative there.
    float lg = u1 > 0.75 ? log1p_(u1 - 1.0) : log(u1);
    precise float r = sqrt(-2.0 * lg);
    precise float z = (i & 1u) == 0u ? r * cos(theta) : r * sin(theta);
    precise float v = attr_f(0u) + attr_f(1u) * z;
    return v;
}

void main() { store_values(); }
