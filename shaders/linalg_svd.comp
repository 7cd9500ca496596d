// A (m x n, m >= n) = U[:, :n] diag(S) Vh, S decreasing, U m x ku orthonormal (ku = n, or m
// with full matrices): packed per matrix as out[b] = [U row-major | S | Vh row-major].
// Bindings and workspace: svd.glsl (one-sided Jacobi, one workgroup per matrix).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "svd.glsl"

void main() {
    uint batch = pc.batch, m = pc.m, n = pc.n, ku = pc.ku, ws = pc.ws;
    uint len = m * ku + n + n * n;
    FOR_MATRICES(batch) {
        uint base = bz * ws;
        for (uint e = TID; e < m * n; e += WG) w_[base + (e % n) * m + e / n] = A_(bz * m * n + e);
        jacobi(base, m, n);
        sort_values(base, m, n);
        build_u(base, m, n, ku);
        uint o = bz * len, U = base + u_off(m, n), S = base + s_off(m, n);
        uint V = base + v_off(m, n);
        for (uint e = TID; e < m * ku; e += WG)
            STORE_ANY(out_, D0, o + e, w_[U + (e % ku) * m + e / ku])
        for (uint j = TID; j < n; j += WG)
            STORE_ANY(out_, D0, o + m * ku + j, w_[S + perm_at(base, m, n, j)])
        for (uint e = TID; e < n * n; e += WG)
            STORE_ANY(out_, D0, o + m * ku + n + e, w_[V + perm_at(base, m, n, e / n) * n + e % n])
        SYNC();
    }
}
