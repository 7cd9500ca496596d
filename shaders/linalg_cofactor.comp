// cof(A) = adj(A)^T = det(U) det(V) U diag(c) V^T with c_i = prod_{j != i} s_j (A = U S V^T,
// square n x n; defined for singular A too); the gradient of det. Bindings: svd.glsl.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "svd.glsl"

void main() {
    uint batch = pc.batch, n = pc.n, ws = pc.ws;
    FOR_MATRICES(batch) {
        uint base = bz * ws;
        for (uint e = TID; e < n * n; e += WG) w_[base + (e % n) * n + e / n] = A_(bz * n * n + e);
        jacobi(base, n, n);
        sort_values(base, n, n);
        build_u(base, n, n, n);
        uint W = base + w_off(n, n), V = base + v_off(n, n), S = base + s_off(n, n);
        uint U = base + u_off(n, n), C = base + c_off(n, n, n);
        for (uint i = TID; i < n; i += WG) {
            float c = 1.0;
            for (uint j = 0u; j < n; ++j)
                if (j != i) c *= w_[S + perm_at(base, n, n, j)];
            w_[C + i] = c;
        }
        // det(U) and det(V) (+-1) by elimination in W's space, free now: U^T (column-major
        // read as row-major) and the sorted V^T have the same determinants.
        float sgn_u, sgn_v, logabs;
        for (uint e = TID; e < n * n; e += WG) w_[W + e] = w_[U + e];
        SYNC();
        eliminate(W, n, n, sgn_u, logabs);
        for (uint e = TID; e < n * n; e += WG)
            w_[W + e] = w_[V + perm_at(base, n, n, e / n) * n + e % n];
        SYNC();
        eliminate(W, n, n, sgn_v, logabs);
        float sg = sgn_u * sgn_v;
        for (uint e = TID; e < n * n; e += WG) {
            uint r = e / n, col = e % n;
            float acc = 0.0;
            for (uint i = 0u; i < n; ++i)
                acc += w_[U + i * n + r] * w_[C + i] * w_[V + perm_at(base, n, n, i) * n + col];
            STORE_ANY(out_, D0, bz * n * n + e, sg * acc)
        }
        SYNC();
    }
}
