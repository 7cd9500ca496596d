// window.glsl: kernels over the sliding windows of (N, C, H, W) images, one output element per
// thread (f16: one output word). Bindings: 0 out, 1 in0, 2 in1. Push: n (outputs), batch,
// c, h, w (image), ho, wo (grid), kh, kw, sh, sw, pt, pl (padding top, left), dh, dw,
// include_pad, divisor (f32 bits, 0: none), cout, groups (convolutions), slices (shaders
// that declare `splits`).
#include "common.glsl"

// Push constants (kinds/ declares the same names in the same order).
layout(push_constant) uniform PC { uint n; uint batch; uint c; uint h; uint w; uint ho; uint wo; uint kh; uint kw; uint sh; uint sw; uint pt; uint pl; uint dh; uint dw; uint include_pad; uint divisor; uint cout; uint groups; uint slices; } pc;

layout(std430, binding = 0) buffer Out { uint out_[]; };
F16_VIEW(0, out_)
layout(std430, binding = 1) readonly buffer In0 { uint in0[]; };
F16_VIEW(1, in0)
layout(std430, binding = 2) readonly buffer In1 { uint in1[]; };
F16_VIEW(2, in1)

#define X(i) LOAD(in0, D1, (i))
#define Y(i) LOAD(in1, D2, (i))

#define C_ pc.c
#define H_ pc.h
#define W_ pc.w
#define HO pc.ho
#define WO pc.wo
#define KH pc.kh
#define KW pc.kw
#define SH int(pc.sh)
#define SW int(pc.sw)
#define PT int(pc.pt)
#define PL int(pc.pl)
#define DH int(pc.dh)
#define DW int(pc.dw)
#define COUT pc.cout
#define GROUPS pc.groups

// The value of output element i.
float compute(uint i);

// Window position o along an axis (stride s, padding p, dilation d, kernel k) covering pixel y:
// the o with o * s - p + t * d == y for kernel tap t; false when tap t misses the grid.
bool tap(int y, int t, int s, int p, int d, uint n, out uint o) {
    int v = y + p - t * d;
    if (v < 0 || v % s != 0 || uint(v / s) >= n) return false;
    o = uint(v / s);
    return true;
}

void main() {
    uint n = pc.n;
    uint stride = gl_NumWorkGroups.x * WG;
#if D0 == DT_F16
    uint nw = (n + 1u) / 2u;
    for (uint w = gl_GlobalInvocationID.x; w < nw; w += stride) {
        float v0 = compute(2u * w);
        float v1 = 2u * w + 1u < n ? compute(2u * w + 1u) : 0.0;
        out_[w] = packHalf2x16(vec2(v0, v1));
    }
#else
    for (uint i = gl_GlobalInvocationID.x; i < n; i += stride) out_[i] = encode_word(compute(i), D0);
#endif
}
