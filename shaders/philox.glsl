// philox.glsl: Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
// SC'11), word for word as the NumPy kernels (backends/numpy_kernels/random.py) compute it.
//
// A generator state is four words: the key (seed low, seed high) and a 64-bit offset (low,
// high). Word m of a draw is word m % 4 of the block whose counter is (offset + m / 4, 0, 0).
// No loops: lavapipe counts loop iterations per invocation (kinds/__init__.py).

uvec4 philox_round(uvec4 c, uvec2 k) {
    uint hi0, lo0, hi1, lo1;
    umulExtended(0xD2511F53u, c.x, hi0, lo0);
    umulExtended(0xCD9E8D57u, c.z, hi1, lo1);
    return uvec4(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
}

// The key schedule bumps the key by the Weyl constants before every round but the first.
#define PHILOX_BUMP(k) k += uvec2(0x9E3779B9u, 0xBB67AE85u)

uvec4 philox4x32_10(uvec4 c, uvec2 k) {
    c = philox_round(c, k); PHILOX_BUMP(k);
    c = philox_round(c, k); PHILOX_BUMP(k);
    c = philox_round(c, k); PHILOX_BUMP(k);
    c = philox_round(c, k); PHILOX_BUMP(k);
    c = philox_round(c, k); PHILOX_BUMP(k);
    c = philox_round(c, k); PHILOX_BUMP(k);
    c = philox_round(c, k); PHILOX_BUMP(k);
    c = philox_round(c, k); PHILOX_BUMP(k);
    c = philox_round(c, k); PHILOX_BUMP(k);
    return philox_round(c, k);
}

// Block b of the draw at state st: the counter is offset + b as a 64-bit number.
uvec4 philox_block(uvec4 st, uint b) {
    uint lo = st.z + b;
    uint hi = st.w + (lo < b ? 1u : 0u);
    return philox4x32_10(uvec4(lo, hi, 0u, 0u), st.xy);
}

uint philox_word(uvec4 st, uint m) {
    return philox_block(st, m >> 2u)[m & 3u];
}

// The dropout mask: element (or channel) m is kept iff word m >> 8 >= thr, thr = round(p 2^24).
bool philox_keep(uvec4 st, uint m, uint thr) {
    return (philox_word(st, m) >> 8u) >= thr;
}
