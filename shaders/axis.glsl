// axis.glsl: kernels over the last axis of (M, K) rows, one workgroup per row ("axis" kind).
// Bindings: 0 out, 1-5 inputs (dtypes D0-D5). Push: M, K, attrs (the row's scalar attrs).
#include "rowred.glsl"

// Push constants (kinds/ declares the same names in the same order).
layout(push_constant) uniform PC { uint M; uint K; uint attrs[30]; } pc;
#ifndef D5
#define D5 DT_F32
#endif

layout(std430, binding = 0) buffer Out { uint out_[]; };
F16_VIEW(0, out_)
layout(std430, binding = 1) buffer In0 { uint in0[]; };
F16_VIEW(1, in0)
layout(std430, binding = 2) buffer In1 { uint in1[]; };
F16_VIEW(2, in1)
layout(std430, binding = 3) buffer In2 { uint in2[]; };
F16_VIEW(3, in2)
layout(std430, binding = 4) buffer In3 { uint in3[]; };
F16_VIEW(4, in3)
layout(std430, binding = 5) buffer In4 { uint in4[]; };
F16_VIEW(5, in4)

#define X(i) LOAD(in0, D1, (i))
#define Y(i) LOAD(in1, D2, (i))
#define Z(i) LOAD(in2, D3, (i))
#define W(i) LOAD(in3, D4, (i))
#define V(i) LOAD(in4, D5, (i))
// Rows may start mid-word (odd K) and (M,) outputs put rows' halves in one word: store
// race-free.
#define STORE(i, v) STORE_ANY(out_, D0, (i), (v))

float attr(uint k) { return uintBitsToFloat(pc.attrs[k]); }

float wg_min(float v) { return -wg_max(-v); }

float wg_prod(float v) {
    uint t = gl_LocalInvocationID.x;
    red_[t] = v;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1u) {
        if (t < s) red_[t] *= red_[t + s];
        barrier();
    }
    float r = red_[0];
    barrier();
    return r;
}

// Affine-map scans: element e = (a, b) maps a running state s to b + a * s. Sums are (1, x),
// products (x, 0); a first-order recurrence y_k = b_k + a_k y_{k-1} is the general case.
shared vec2 scan_[WG];

// e1 first, then e2.
vec2 compose(vec2 e1, vec2 e2) { return vec2(e2.x * e1.x, e2.y + e2.x * e1.y); }

// Inclusive and exclusive scans of the workgroup's elements in thread order (Hillis-Steele);
// total: the composition of all WG elements.
void wg_scan(vec2 e, out vec2 incl, out vec2 excl, out vec2 total) {
    uint t = gl_LocalInvocationID.x;
    scan_[t] = e;
    barrier();
    for (uint off = 1u; off < WG; off <<= 1u) {
        vec2 cur = scan_[t];
        vec2 prev = t >= off ? scan_[t - off] : vec2(1.0, 0.0);
        barrier();
        scan_[t] = compose(prev, cur);
        barrier();
    }
    incl = scan_[t];
    excl = t > 0u ? scan_[t - 1u] : vec2(1.0, 0.0);
    total = scan_[WG - 1u];
    barrier();
}
