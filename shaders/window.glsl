// window.glsl: kernels over the sliding windows of (N, C, H, W) images, one output element per
// thread (f16: one output word). Bindings: 0 out, 1 in0, 2 in1. Push: u0 n (outputs), u1 N,
// u2 C, u3 H, u4 W (image), u5 Ho, u6 Wo (grid), u7 kh, u8 kw, u9 sh, u10 sw, u11 pad top,
// u12 pad left, u13 dh, u14 dw, u15 count_include_pad, u16 divisor (f32 bits, 0: none),
// u17 out_channels, u18 groups (convolutions), u19 slices (rows with Op.splits).
#include "common.glsl"

layout(std430, binding = 0) buffer Out { uint out_[]; };
layout(std430, binding = 1) readonly buffer In0 { uint in0[]; };
layout(std430, binding = 2) readonly buffer In1 { uint in1[]; };

#define X(i) LOAD(in0, D1, (i))
#define Y(i) LOAD(in1, D2, (i))

#define C_ pc.u[2]
#define H_ pc.u[3]
#define W_ pc.u[4]
#define HO pc.u[5]
#define WO pc.u[6]
#define KH pc.u[7]
#define KW pc.u[8]
#define SH int(pc.u[9])
#define SW int(pc.u[10])
#define PT int(pc.u[11])
#define PL int(pc.u[12])
#define DH int(pc.u[13])
#define DW int(pc.u[14])
#define COUT pc.u[17]
#define GROUPS pc.u[18]

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
    uint n = pc.u[0];
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
