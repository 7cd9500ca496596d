// argbest.glsl: index of the best element of each row (the first on ties; NaN is best, as in
// PyTorch). The op file defines BETTER(a, b) (a strictly better than b, both non-NaN).
// Bindings: 0 out int32 (M,), 1 x (M, K); see axis.glsl.
#include "axis.glsl"

shared float bval_[WG];
shared uint bidx_[WG];

// Is (va, ia) before (vb, ib) in the order: NaN first, then better values, then lower index.
bool wins(float va, uint ia, float vb, uint ib) {
    if (ia == 0xFFFFFFFFu) return false;
    if (ib == 0xFFFFFFFFu) return true;
    bool na = isnan(va), nb = isnan(vb);
    if (na != nb) return na;
    if (!na && va != vb) return BETTER(va, vb);
    return ia < ib;
}

void main() {
    uint M = pc.M, K = pc.K;
    FOR_ROWS(M) {
        float bv = 0.0;
        uint bi = 0xFFFFFFFFu;  // none yet
        FOR_COLS(K) {
            float v = X(row * K + col);
            if (wins(v, col, bv, bi)) { bv = v; bi = col; }
        }
        bval_[TID] = bv;
        bidx_[TID] = bi;
        barrier();
        for (uint s = WG / 2u; s > 0u; s >>= 1u) {
            if (TID < s && wins(bval_[TID + s], bidx_[TID + s], bval_[TID], bidx_[TID])) {
                bval_[TID] = bval_[TID + s];
                bidx_[TID] = bidx_[TID + s];
            }
            barrier();
        }
        if (TID == 0u) out_[row] = bidx_[0];  // int32 output: one whole word per row
        barrier();
    }
}
