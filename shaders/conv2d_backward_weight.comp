// gw[o, c, i, j] = sum over n, oh, ow of g[n, o, oh, ow] x[n, g C/groups + c, oh sh - pt + i dh,
// ow sw - pl + j dw]; bindings: 0 gw (C_out, C/groups, kh, kw), 1 x (N, C, H, W), 2 g.
// slices S > 1: the (n, oh) rows are cut into S slices and output e S + s is slice s's part of
// weight element e (f32), summed by a second dispatch: S times the threads, 1/S the loop.
// vkgrad: loops images-by-grid
// vkgrad: splits sum
#version 450
#extension GL_GOOGLE_include_directive : require
#include "window.glsl"

// First and one-past-last window position o whose tap t lands inside [0, size).
void span(int t, int s, int p, int d, uint size, uint n, out uint lo, out uint hi) {
    int off = p - t * d;  // o s - off must lie in [0, size)
    int a = off > 0 ? (off + s - 1) / s : 0;
    int b = (int(size) - 1 + off) >= 0 ? (int(size) - 1 + off) / s + 1 : 0;
    lo = uint(a);
    hi = uint(max(min(b, int(n)), a));  // empty when a >= n
}

float compute(uint idx) {
    uint S = max(pc.slices, 1u);
    uint part = idx % S;
    idx /= S;
    uint j = idx % KW, i = (idx / KW) % KH, oc = idx / (KW * KH);
    uint cg = C_ / GROUPS;
    uint cl = oc % cg, o = oc / cg;
    uint c = (o / (COUT / GROUPS)) * cg + cl;
    uint h0, h1, w0, w1;
    span(int(i), SH, PT, DH, H_, HO, h0, h1);
    span(int(j), SW, PL, DW, W_, WO, w0, w1);
    uint rows = pc.batch * HO, per = (rows + S - 1u) / S;
    uint q1 = min(rows, (part + 1u) * per);
    float s = 0.0;
    for (uint q = part * per; q < q1; ++q) {
        uint n = q / HO, oh = q % HO;
        if (oh < h0 || oh >= h1) continue;
        uint xb = (n * C_ + c) * H_ * W_;
        uint gb = (n * COUT + o) * HO * WO;
        uint y = uint(int(oh) * SH - PT + int(i) * DH);
        for (uint ow = w0; ow < w1; ++ow) {
            uint x = uint(int(ow) * SW - PL + int(j) * DW);
            s += X(xb + y * W_ + x) * Y(gb + oh * WO + ow);
        }
    }
    return s;
}
