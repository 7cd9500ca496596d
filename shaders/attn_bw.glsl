// attn_bw.glsl: the fused attention backward (kind attn_bw) from the saved probabilities
// p (B, L, S), with no (B, L, S) temporary: each workgroup recomputes dp_ij = go_i . v_j for
// the chunk of (i, j) it needs. Bindings: 0 out (grads of q, k, v one after the other), 1 go
// (B, L, Ev), 2 p (B, L, S), 3 v (B, S, Ev), 4 q (B, L, E), 5 k (B, S, E), 6 D (B, L) f32,
// 7 the dropout's key (a generator state, philox.glsl; unused without dropout).
// Push: batch, queries, keys, ev, e, cols (this kernel's output columns), offset (its offset
// in out), rows (its output rows), attrs: scale, dropout, threshold, drop_scale.
#ifndef D5
#define D5 DT_F32
#endif
#ifndef D6
#define D6 DT_F32
#endif
#include "rowred.glsl"
#include "philox.glsl"

// Push constants (kinds/ declares the same names in the same order).
layout(push_constant) uniform PC { uint batch; uint queries; uint keys; uint ev; uint e; uint cols; uint offset; uint rows; uint attrs[24]; } pc;

layout(std430, binding = 0) buffer Out { uint out_[]; };
F16_VIEW(0, out_)
layout(std430, binding = 1) buffer Go { uint go_[]; };
F16_VIEW(1, go_)
layout(std430, binding = 2) buffer P { uint p_[]; };
F16_VIEW(2, p_)
layout(std430, binding = 3) buffer V { uint v_[]; };
F16_VIEW(3, v_)
layout(std430, binding = 4) buffer Q { uint q_[]; };
F16_VIEW(4, q_)
layout(std430, binding = 5) buffer K { uint k_[]; };
F16_VIEW(5, k_)
layout(std430, binding = 6) buffer Delta { uint delta_[]; };
F16_VIEW(6, delta_)
layout(std430, binding = 7) buffer Key { uint key_[]; };

#define GO(i) LOAD(go_, D1, (i))
#define PR(i) LOAD(p_, D2, (i))
#define VV(i) LOAD(v_, D3, (i))
#define QQ(i) LOAD(q_, D4, (i))
#define KK(i) LOAD(k_, D5, (i))
#define DELTA(i) LOAD(delta_, D6, (i))
// Output rows may start mid-word (odd C or offset), so f16 uses the race-free half store.
#define STORE(i, v) STORE_ANY(out_, D0, (i), (v))

uint nB() { return pc.batch; }
uint nL() { return pc.queries; }
uint nS() { return pc.keys; }
uint nEv() { return pc.ev; }
uint nE() { return pc.e; }
uint nC() { return pc.cols; }
float attn_scale() { return uintBitsToFloat(pc.attrs[0]); }

// The forward's dropout factor of p at flat index idx = (b L + i) S + j: 1 / keep or 0.
float drop_factor(uint idx) {
    if (pc.attrs[1] == 0u) return 1.0;
    uvec4 st = uvec4(key_[0], key_[1], key_[2], key_[3]);
    return philox_keep(st, idx, pc.attrs[2]) ? uintBitsToFloat(pc.attrs[3]) : 0.0;
}

// d_ij dp_ij, dp_ij = go_i . v_j
float ddp(uint b, uint i, uint j, uint idx) {
    float d = drop_factor(idx);
    if (d == 0.0) return 0.0;
    uint Ev = nEv(), g0 = (b * nL() + i) * Ev, v0 = (b * nS() + j) * Ev;
    float s = 0.0;
    for (uint e = 0u; e < Ev; e++) s += GO(g0 + e) * VV(v0 + e);
    return d * s;
}

// dz_ij = p_ij (d_ij dp_ij - D_i); masked and causal positions have p = 0 and give 0.
float dz(uint b, uint i, uint j) {
    uint idx = (b * nL() + i) * nS() + j;
    float p = PR(idx);
    if (p == 0.0) return 0.0;
    return p * (ddp(b, i, j, idx) - DELTA(b * nL() + i));
}

// The kernel's own pieces: the weight of reduced index t for output row r, and component c
// of the vector that index t contributes.
float weight(uint b, uint r, uint t);
float vec_at(uint b, uint t, uint c);

shared float w_[WG];

// out[b, r, c] = outscale * sum_{t < T} weight(b, r, t) vec_at(b, t, c), one workgroup per
// (b, r) of R rows, written at offset pc.offset of out. Per chunk of WG indices t, each thread computes one weight into shared
// memory; then the threads split into `parts` groups of `ec` columns, each group summing its
// share of the chunk, and the groups' partial sums are added at the end.
void contract(uint R, uint T, float outscale) {
    uint C = nC();
    uint ec = min(C, uint(WG)), parts = uint(WG) / ec;
    uint part = TID / ec, lane = TID % ec;
    FOR_ROWS(pc.rows) {
        uint b = row / R, r = row % R;
        for (uint c0 = 0u; c0 < C; c0 += ec) {
            uint c = c0 + lane;
            bool mine = part < parts && c < C;
            float acc = 0.0;
            for (uint t0 = 0u; t0 < T; t0 += WG) {
                uint t = t0 + TID;
                w_[TID] = t < T ? weight(b, r, t) : 0.0;
                barrier();
                uint n = min(uint(WG), T - t0);
                if (mine) {
                    for (uint u = part; u < n; u += parts) acc += w_[u] * vec_at(b, t0 + u, c);
                }
                barrier();
            }
            red_[TID] = acc;
            barrier();
            if (part == 0u && c < C) {
                float s = 0.0;
                for (uint k = 0u; k < parts; k++) s += red_[lane + k * ec];
                STORE(pc.offset + row * C + c, s * outscale);
            }
            barrier();
        }
    }
}
