// X = T^-1 B per matrix by substitution (T lower, or upper with attr 0; unit diagonal with
// attr 1). bindings: 0 X (batch, n, k), 1 T, 2 B, 3 workspace; see smallmat.glsl.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "linsolve.glsl"

void main() {
    uint batch = pc.batch, n = pc.n, k = pc.k, sa = pc.sa, sb = pc.sb;
    bool upper = uintBitsToFloat(pc.attrs[0]) != 0.0, unit = uintBitsToFloat(pc.attrs[1]) != 0.0;
    FOR_MATRICES(batch) {
        uint base = bz * n * k, ta = bz * sa;
        for (uint e = TID; e < n * k; e += WG) w_[base + e] = B_(bz * sb + e);
        SYNC();
        for (uint q = 0u; q < n; ++q) {
            uint p = upper ? n - 1u - q : q;
            if (!unit) {
                float d = A_(ta + p * n + p);
                for (uint j = TID; j < k; j += WG) w_[base + p * k + j] /= d;
                SYNC();
            }
            // Rows still to solve: below p (lower) or above p (upper).
            uint r0 = upper ? 0u : p + 1u, rows = upper ? p : n - p - 1u;
            for (uint e = TID; e < rows * k; e += WG) {
                uint r = r0 + e / k, j = e % k;
                w_[base + r * k + j] -= A_(ta + r * n + p) * w_[base + p * k + j];
            }
            SYNC();
        }
        for (uint e = TID; e < n * k; e += WG) STORE_ANY(out_, D0, bz * n * k + e, w_[base + e])
        SYNC();
    }
}
