// svd.glsl: one-sided (Hestenes) Jacobi SVD of one m x n matrix (m >= n) per workgroup, for
// the kernels of the ``svd`` kind. Bindings as smallmat.glsl (0 out, 1 A, 3 f32 workspace);
// push: batch, m, n, ku (columns of U to build), ws (workspace words per matrix),
// attrs (the row's attrs). Workspace per matrix (column-major blocks): W (m x n, A rotated to
// A V), V (n x n), s (n), perm (n: column of W of the i-th largest s), U (m x ku), coef (m).
#include "smallmat.glsl"

// Push constants (kinds/ declares the same names in the same order).
layout(push_constant) uniform PC { uint batch; uint m; uint n; uint ku; uint ws; uint attrs[27]; } pc;

// The host's loop-count estimate (kinds/svd.py) assumes this cap.
#define SWEEPS 15u

shared float red_[3 * WG];
shared uint flag_;

uint w_off(uint m, uint n) { return 0u; }
uint v_off(uint m, uint n) { return m * n; }
uint s_off(uint m, uint n) { return m * n + n * n; }
uint p_off(uint m, uint n) { return m * n + n * n + n; }
uint u_off(uint m, uint n) { return m * n + n * n + 2u * n; }
uint c_off(uint m, uint n, uint ku) { return m * n + n * n + 2u * n + m * ku; }

// The player at seat `pos` in round r of the round-robin over N (even) columns: seat 0 is
// fixed, the others turn, so every pair meets once per sweep and each round's pairs are
// disjoint (they rotate concurrently).
uint player(uint pos, uint r, uint N) {
    return pos == 0u ? 0u : (pos - 1u + r) % (N - 1u) + 1u;
}

// Sum of v over the workgroup, the same for every thread.
float wg_total(float v) {
    red_[TID] = v;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1u) {
        if (TID < s) red_[TID] += red_[TID + s];
        barrier();
    }
    float r = red_[0];
    barrier();
    return r;
}

// Rotate column pairs of W = A (and V = I alongside) until every pair is orthogonal to
// within m * eps32 relative to the columns' norms, or SWEEPS sweeps. Each pair is worked by
// T threads (a power of two): the three dot products are reduced over them in shared memory.
void jacobi(uint base, uint m, uint n) {
    uint W = base + w_off(m, n), V = base + v_off(m, n);
    for (uint e = TID; e < n * n; e += WG) w_[V + e] = (e / n == e % n) ? 1.0 : 0.0;
    uint N = n + (n & 1u), np = N / 2u;
    uint T = WG;
    while (T > 1u && T * np > WG) T >>= 1u;
    uint groups = WG / T, g = TID / T, lane = TID % T, h = g * T;
    uint passes = (np + groups - 1u) / groups;
    float tol = float(m) * 1.1920929e-7;
    // A column below eps32 * ||A||_F is rounding noise: rotating it against a large one never
    // converges (the noise is renewed by each rotation), so it is left alone (build_u then
    // treats it as zero).
    SYNC();  // the caller's copy of A into W
    float part = 0.0;
    for (uint e = TID; e < m * n; e += WG) part += w_[W + e] * w_[W + e];
    float floor2 = wg_total(part) * 1.4210855e-14;
    SYNC();
    for (uint sweep = 0u; sweep < SWEEPS; ++sweep) {
        if (TID == 0u) flag_ = 0u;
        barrier();
        for (uint r = 0u; r + 1u < N; ++r) {
            for (uint it = 0u; it < passes; ++it) {
                uint k = it * groups + g;
                uint p = n, q = n;
                if (k < np) {
                    p = player(k, r, N);
                    q = player(N - 1u - k, r, N);
                }
                bool act = p < n && q < n;
                float al = 0.0, be = 0.0, ga = 0.0;
                if (act) {
                    for (uint i = lane; i < m; i += T) {
                        float x = w_[W + p * m + i], y = w_[W + q * m + i];
                        al += x * x;
                        be += y * y;
                        ga += x * y;
                    }
                }
                red_[TID] = al;
                red_[WG + TID] = be;
                red_[2u * WG + TID] = ga;
                barrier();
                for (uint s = T / 2u; s > 0u; s >>= 1u) {
                    if (lane < s) {
                        red_[TID] += red_[TID + s];
                        red_[WG + TID] += red_[WG + TID + s];
                        red_[2u * WG + TID] += red_[2u * WG + TID + s];
                    }
                    barrier();
                }
                al = red_[h];
                be = red_[WG + h];
                ga = red_[2u * WG + h];
                // sqrt of each norm apart: al * be underflows for tiny columns.
                if (act && ga != 0.0 && min(al, be) > floor2 &&
                    abs(ga) > tol * sqrt(al) * sqrt(be)) {
                    if (lane == 0u) flag_ = 1u;
                    float zeta = (be - al) / (2.0 * ga);
                    float t = (zeta >= 0.0 ? 1.0 : -1.0) / (abs(zeta) + sqrt(1.0 + zeta * zeta));
                    float c = inversesqrt(1.0 + t * t), s = c * t;
                    for (uint i = lane; i < m; i += T) {
                        float x = w_[W + p * m + i], y = w_[W + q * m + i];
                        w_[W + p * m + i] = c * x - s * y;
                        w_[W + q * m + i] = s * x + c * y;
                    }
                    for (uint i = lane; i < n; i += T) {
                        float x = w_[V + p * n + i], y = w_[V + q * n + i];
                        w_[V + p * n + i] = c * x - s * y;
                        w_[V + q * n + i] = s * x + c * y;
                    }
                }
                SYNC();
            }
        }
        bool done = flag_ == 0u;
        barrier();  // all have read flag_ before thread 0 clears it
        if (done) break;
    }
}

// Column norms of W (the singular values, unsorted) and perm: the columns by decreasing s
// (ties by index, so every position is filled once).
void sort_values(uint base, uint m, uint n) {
    uint W = base + w_off(m, n), S = base + s_off(m, n), P = base + p_off(m, n);
    for (uint j = TID; j < n; j += WG) {
        float a = 0.0;
        for (uint i = 0u; i < m; ++i) a += w_[W + j * m + i] * w_[W + j * m + i];
        w_[S + j] = sqrt(a);
    }
    SYNC();
    for (uint j = TID; j < n; j += WG) {
        float sj = w_[S + j];
        uint pos = 0u;
        for (uint k = 0u; k < n; ++k) {
            float sk = w_[S + k];
            if (sk > sj || (sk == sj && k < j)) pos++;
        }
        w_[P + min(pos, n - 1u)] = float(j);
    }
    SYNC();
}

uint perm_at(uint base, uint m, uint n, uint i) {
    return min(uint(w_[base + p_off(m, n) + i]), n - 1u);
}

// x (U's column c) minus its projections on the columns before, twice (classical
// Gram-Schmidt twice: orthogonal to working precision); returns the norm of the result.
float project(uint U, uint C, uint m, uint c) {
    float part = 0.0;
    for (uint pass = 0u; pass < 2u; ++pass) {
        for (uint j = TID; j < c; j += WG) {
            float d = 0.0;
            for (uint i = 0u; i < m; ++i) d += w_[U + j * m + i] * w_[U + c * m + i];
            w_[C + j] = d;
        }
        SYNC();
        part = 0.0;
        for (uint i = TID; i < m; i += WG) {
            float x = w_[U + c * m + i];
            for (uint j = 0u; j < c; ++j) x -= w_[C + j] * w_[U + j * m + i];
            w_[U + c * m + i] = x;
            part += x * x;
        }
        SYNC();
    }
    return sqrt(wg_total(part));
}

// U (m x ku, column-major, orthonormal columns): column c < n is W's column perm[c] over its
// norm. A small column (below 1e-3 s_max, where Jacobi's relative orthogonality may have been
// spoilt by rounding) is projected off the columns before; a zero or noise column (less than
// half of it left), and the columns c >= n, are completed instead: the unit vector e_k least
// covered by the columns before (largest 1 - sum_j U[k][j]^2, at least (m - c) / m), minus
// its projections on them, normalised.
void build_u(uint base, uint m, uint n, uint ku) {
    uint W = base + w_off(m, n), S = base + s_off(m, n);
    uint U = base + u_off(m, n), C = base + c_off(m, n, ku);
    float smax = w_[S + perm_at(base, m, n, 0u)];
    for (uint c = 0u; c < ku; ++c) {
        uint src = c < n ? perm_at(base, m, n, c) : 0u;
        float nrm = c < n ? w_[S + src] : 0.0;
        if (nrm > 0.0) {
            for (uint i = TID; i < m; i += WG) w_[U + c * m + i] = w_[W + src * m + i] / nrm;
            SYNC();
            if (nrm >= smax * 1e-3) continue;
        }
        float r = nrm > 0.0 ? project(U, C, m, c) : 0.0;
        if (!(r > 0.5)) {
            float best = -1.0;
            uint bk = 0u;
            for (uint k = TID; k < m; k += WG) {
                float d = 1.0;
                for (uint j = 0u; j < c; ++j) d -= w_[U + j * m + k] * w_[U + j * m + k];
                if (d > best) { best = d; bk = k; }
            }
            piv_v[TID] = best;
            piv_i[TID] = bk;
            barrier();
            for (uint s = WG / 2u; s > 0u; s >>= 1u) {
                if (TID < s && (piv_v[TID + s] > piv_v[TID] ||
                                (piv_v[TID + s] == piv_v[TID] && piv_i[TID + s] < piv_i[TID]))) {
                    piv_v[TID] = piv_v[TID + s];
                    piv_i[TID] = piv_i[TID + s];
                }
                barrier();
            }
            uint k = piv_i[0];
            barrier();
            for (uint i = TID; i < m; i += WG) w_[U + c * m + i] = i == k ? 1.0 : 0.0;
            SYNC();
            r = project(U, C, m, c);
        }
        float inv = 1.0 / r;
        for (uint i = TID; i < m; i += WG) w_[U + c * m + i] *= inv;
        SYNC();
    }
}
