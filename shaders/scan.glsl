// scan.glsl: an affine-map scan along each row (see axis.glsl), in tiles of WG elements with
// the state carried from tile to tile. The op file defines SCAN_INIT (the state before the
// first element), SCAN_REVERSE (true: scan from the last column), ELEM(i, col, j) (the
// element at flat index i, column col, position j in scan order) and EMIT(i, incl, excl)
// (store from the states after and before the element); SCAN_PRODUCT for pure products.
#include "axis.glsl"

// A state after element e.
#ifdef SCAN_PRODUCT
#define APPLY(e, s) ((e).x * (s))
#else
#define APPLY(e, s) ((e).y + (e).x * (s))
#endif

void main() {
    uint M = pc.M, K = pc.K;
    bool rev = SCAN_REVERSE;
    FOR_ROWS(M) {
        uint base = row * K;
        float carry = SCAN_INIT;
        for (uint t0 = 0u; t0 < K; t0 += WG) {
            uint j = t0 + TID;
            uint col = rev ? K - 1u - j : j;
            vec2 e = vec2(1.0, 0.0);
            if (j < K) e = ELEM(base + col, col, j);
            vec2 inc, exc, tot;
            wg_scan(e, inc, exc, tot);
            if (j < K) EMIT(base + col, APPLY(inc, carry), APPLY(exc, carry));
            carry = APPLY(tot, carry);
        }
    }
}
