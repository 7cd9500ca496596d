// reduce.glsl: (M, K) -> (M,) over the last axis. Bindings: 0 out, 1 x. Push: M (outputs),
// K, L: 0 for one output per row; else each row is cut into C = ceil(K / L) chunks of
// L elements, output r = m C + j the reduction of chunk j of row m (M = rows C), which a second
// dispatch reduces again: a few long rows then fill many workgroups.
// The op file defines RED_INIT and RED(a, b), then includes this file.
#include "rowred.glsl"

// Push constants (kinds/ declares the same names in the same order).
layout(push_constant) uniform PC { uint M; uint K; uint L; } pc;

layout(std430, binding = 0) buffer Out { uint out_[]; };
F16_VIEW(0, out_)
layout(std430, binding = 1) buffer In0 { uint in0[]; };
F16_VIEW(1, in0)

shared float acc_[WG];

void main() {
    uint M = pc.M, K = pc.K, L = pc.L;
    uint C = L == 0u ? 1u : (K + L - 1u) / L;
    if (L == 0u) L = K;
    FOR_ROWS(M) {
        uint base = (row / C) * K, lo = (row % C) * L, hi = min(K, lo + L);
        float a = RED_INIT;
        for (uint col = lo + TID; col < hi; col += WG) a = RED(a, LOAD(in0, D1, base + col));
        acc_[TID] = a;
        barrier();
        for (uint s = WG / 2u; s > 0u; s >>= 1u) {
            if (TID < s) acc_[TID] = RED(acc_[TID], acc_[TID + s]);
            barrier();
        }
        // Rows are one element each: neighbours' halves share a word, so store race-free.
        if (TID == 0u) STORE_ANY(out_, D0, row, acc_[0])
        barrier();
    }
}
