// rng.glsl: the counter-based dropout mask, bit-identical to the NumPy kernel
// (backends/numpy_kernels/norm.py): element j is kept iff hash(j; seed0, seed1) >> 8 >= thr.

// lowbias32 (Wellons): a bijective 32-bit integer hash with good avalanche.
uint mix32(uint x) {
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

// thr = round(p * 2^24): P(drop) = thr / 2^24; thr = 2^24 drops everything.
bool keep(uint j, uint seed0, uint seed1, uint thr) {
    return (mix32(mix32(mix32(j) ^ seed0) ^ seed1) >> 8) >= thr;
}
