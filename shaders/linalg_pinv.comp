// P = pinv(A) (n x m) of A (m x n, m >= n): sum over kept j of V[:, j] W[:, j]^T / s_j^2 (W = A V
// = U S), keeping s_j > max(atol, rtol * s_max); attrs atol, rtol. Bindings: svd.glsl.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "svd.glsl"

void main() {
    uint batch = pc.batch, m = pc.m, n = pc.n, ws = pc.ws;
    float atol = uintBitsToFloat(pc.attrs[0]), rtol = uintBitsToFloat(pc.attrs[1]);
    FOR_MATRICES(batch) {
        uint base = bz * ws;
        for (uint e = TID; e < m * n; e += WG) w_[base + (e % n) * m + e / n] = A_(bz * m * n + e);
        jacobi(base, m, n);
        sort_values(base, m, n);
        uint W = base + w_off(m, n), V = base + v_off(m, n), S = base + s_off(m, n);
        float cut = max(atol, rtol * w_[S + perm_at(base, m, n, 0u)]);
        for (uint e = TID; e < n * m; e += WG) {
            uint r = e / m, i = e % m;
            float acc = 0.0;
            for (uint j = 0u; j < n; ++j) {
                float s = w_[S + j];
                // (W / s) / s: s * s underflows for tiny kept values.
                if (s > cut) acc += w_[V + j * n + r] * (w_[W + j * m + i] / s) / s;
            }
            STORE_ANY(out_, D0, bz * n * m + e, acc)
        }
        SYNC();
    }
}
