// L with A = L L^T per matrix (right-looking Cholesky; reads A's lower triangle only).
// bindings: 0 L (batch, n, n), 1 A, 3 workspace; see smallmat.glsl. Not positive-definite: NaN.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "linsolve.glsl"

void main() {
    uint batch = pc.batch, n = pc.n, sa = pc.sa;
    FOR_MATRICES(batch) {
        uint base = bz * n * n;
        for (uint e = TID; e < n * n; e += WG) w_[base + e] = A_(bz * sa + e);
        SYNC();
        bool ok = true;
        for (uint p = 0u; p < n; ++p) {
            float d = w_[base + p * n + p];
            if (!(d > 0.0)) { ok = false; break; }  // uniform: every thread read the same d
            float l = sqrt(d);
            barrier();  // everyone has read d before W[p][p] is overwritten
            for (uint r = p + TID; r < n; r += WG)
                w_[base + r * n + p] = r == p ? l : w_[base + r * n + p] / l;
            SYNC();
            uint m = n - p - 1u;
            for (uint e = TID; e < m * m; e += WG) {
                uint rr = p + 1u + e / m, cc = p + 1u + e % m;
                if (cc <= rr) w_[base + rr * n + cc] -= w_[base + rr * n + p] * w_[base + cc * n + p];
            }
            SYNC();
        }
        for (uint e = TID; e < n * n; e += WG) {
            uint r = e / n, c = e % n;
            float v = !ok ? uintBitsToFloat(0x7fc00000u) : (c <= r ? w_[base + e] : 0.0);
            STORE_ANY(out_, D0, bz * n * n + e, v)
        }
        SYNC();
    }
}
