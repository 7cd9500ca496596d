// reduce.glsl: (M, K) -> (M,) over the last axis. Bindings: 0 out, 1 x. Push: u0 M, u1 K.
// The op file defines RED_INIT and RED(a, b), then includes this file.
#include "rowred.glsl"

layout(std430, binding = 0) buffer Out { uint out_[]; };
layout(std430, binding = 1) buffer In0 { uint in0[]; };

shared float acc_[WG];

void main() {
    uint M = pc.u[0], K = pc.u[1];
    FOR_ROWS(M) {
        float a = RED_INIT;
        FOR_COLS(K) { a = RED(a, LOAD(in0, D1, row * K + col)); }
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
