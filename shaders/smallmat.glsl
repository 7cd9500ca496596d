// smallmat.glsl: one workgroup per matrix of a batch (grid-stride); the matrix is copied to
// a global f32 workspace (no size limit) and each elimination step is split across threads.
// lavapipe stops any invocation after 65535 loop iterations in all (its loop limiter), which
// caps n near 350 there (WG 256: ~n^3 / 768 elimination iterations per thread).
// Bindings: 0 out, 1 A (batch, n, n), 2 B (batch, n, k) or unused, 3 workspace (f32,
// n * (n + k) words per matrix). Push (linsolve.glsl): batch, n, k, sa/sb (batch strides of A/B
// in elements, 0: a batch of 1, broadcast), attrs (the row's attrs).
#include "common.glsl"

layout(std430, binding = 0) buffer Out { uint out_[]; };
F16_VIEW(0, out_)
layout(std430, binding = 1) readonly buffer Ain { uint a_[]; };
F16_VIEW(1, a_)
layout(std430, binding = 2) readonly buffer Bin { uint b_[]; };
F16_VIEW(2, b_)
// coherent + memoryBarrierBuffer: one thread's workspace writes are seen by the others of its
// workgroup after SYNC.
layout(std430, binding = 3) coherent buffer Work { float w_[]; };

#define TID gl_LocalInvocationID.x
#define SYNC() { memoryBarrierBuffer(); barrier(); }
#define A_(i) LOAD(a_, D1, (i))
#define B_(i) LOAD(b_, D2, (i))
#define FOR_MATRICES(batch) \
    for (uint bz = gl_WorkGroupID.x; bz < (batch); bz += gl_NumWorkGroups.x)

shared float piv_v[WG];
shared uint piv_i[WG];

// The row r in [p, n) with the largest |W[r][p]| (the first on ties), the same for all threads.
uint pivot_row(uint base, uint ld, uint p, uint n) {
    float best = -1.0;
    uint bi = p;
    for (uint r = p + TID; r < n; r += WG) {
        float v = abs(w_[base + r * ld + p]);
        if (v > best) { best = v; bi = r; }
    }
    piv_v[TID] = best;
    piv_i[TID] = bi;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1u) {
        if (TID < s) {
            float o = piv_v[TID + s];
            uint oi = piv_i[TID + s];
            if (o > piv_v[TID] || (o == piv_v[TID] && oi < piv_i[TID])) {
                piv_v[TID] = o;
                piv_i[TID] = oi;
            }
        }
        barrier();
    }
    uint r = piv_i[0];
    barrier();
    return r;
}

// Gaussian elimination with partial pivoting of the n x ld matrix W at base (its first n
// columns square): W becomes [U | L^-1 P B]. Tracks the sign and log|.| of det(A); returns
// false at the first zero pivot (all threads agree: they read the same value).
bool eliminate(uint base, uint ld, uint n, out float sgn, out float logabs) {
    sgn = 1.0;
    logabs = 0.0;
    for (uint p = 0u; p < n; ++p) {
        uint r = pivot_row(base, ld, p, n);
        if (r != p) {
            for (uint c = p + TID; c < ld; c += WG) {
                float t = w_[base + p * ld + c];
                w_[base + p * ld + c] = w_[base + r * ld + c];
                w_[base + r * ld + c] = t;
            }
            sgn = -sgn;
            SYNC();
        }
        float d = w_[base + p * ld + p];
        if (d == 0.0) return false;
        if (d < 0.0) sgn = -sgn;
        logabs += log(abs(d));
        // Rows below p, columns right of p: column p and row p are only read.
        uint rows = n - p - 1u, cols = ld - p - 1u;
        for (uint e = TID; e < rows * cols; e += WG) {
            uint rr = p + 1u + e / cols, cc = p + 1u + e % cols;
            w_[base + rr * ld + cc] -= w_[base + rr * ld + p] / d * w_[base + p * ld + cc];
        }
        SYNC();
    }
    return true;
}
