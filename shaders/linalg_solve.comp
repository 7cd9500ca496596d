// X = A^-1 B per matrix: elimination with partial pivoting on [A | B], then back substitution.
// bindings: 0 X (batch, n, k), 1 A, 2 B, 3 workspace; see smallmat.glsl. Singular A: X is NaN.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "linsolve.glsl"

void main() {
    uint batch = pc.batch, n = pc.n, k = pc.k, sa = pc.sa, sb = pc.sb;
    uint ld = n + k;
    FOR_MATRICES(batch) {
        uint base = bz * n * ld;
        for (uint e = TID; e < n * ld; e += WG) {
            uint r = e / ld, c = e % ld;
            w_[base + e] = c < n ? A_(bz * sa + r * n + c) : B_(bz * sb + r * k + (c - n));
        }
        SYNC();
        float sgn, logabs;
        bool ok = eliminate(base, ld, n, sgn, logabs);
        if (ok) {
            for (uint q = 0u; q < n; ++q) {
                uint p = n - 1u - q;
                float d = w_[base + p * ld + p];
                for (uint j = TID; j < k; j += WG) w_[base + p * ld + n + j] /= d;
                SYNC();
                for (uint e = TID; e < p * k; e += WG) {
                    uint r = e / k, j = e % k;
                    w_[base + r * ld + n + j] -= w_[base + r * ld + p] * w_[base + p * ld + n + j];
                }
                SYNC();
            }
        }
        for (uint e = TID; e < n * k; e += WG) {
            uint r = e / k, j = e % k;
            float v = ok ? w_[base + r * ld + n + j] : uintBitsToFloat(0x7fc00000u);
            STORE_ANY(out_, D0, bz * n * k + e, v)
        }
        SYNC();
    }
}
