// (sign, log|det A|) per matrix from the pivots of elimination with partial pivoting.
// bindings: 0 out (batch, 2), 1 A, 3 workspace; see smallmat.glsl. Singular: (0, -inf).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "linsolve.glsl"

void main() {
    uint batch = pc.batch, n = pc.n, sa = pc.sa;
    FOR_MATRICES(batch) {
        uint base = bz * n * n;
        for (uint e = TID; e < n * n; e += WG) w_[base + e] = A_(bz * sa + e);
        SYNC();
        float sgn, logabs;
        bool ok = eliminate(base, n, n, sgn, logabs);
        if (TID == 0u) {
            STORE_ANY(out_, D0, 2u * bz, ok ? sgn : 0.0)
            STORE_ANY(out_, D0, 2u * bz + 1u, ok ? logabs : -INF)
        }
        SYNC();
    }
}
