"""NumPy kernels of the random family (``vkgrad/library/random.py``): Philox4x32-10 in
vectorised uint32 arithmetic, word for word what ``shaders/philox.glsl`` computes.

A draw reads a generator state of four uint32 words (stored as int32): the key (seed low,
seed high) and a 64-bit offset (low, high). Word m of the draw is word m % 4 of the Philox
block whose counter is (offset + m // 4 as a 64-bit number, 0, 0). The uniform, normal and
dropout transforms below are the shaders' too, in the same f32 operations, so that the
outputs match bit for bit where the operations are exact (see docs/random.md).
"""

from __future__ import annotations

import numpy as np

from ...shapes import numel
from ..numpy_backend import kernel

# Salmon et al., "Parallel random numbers: as easy as 1, 2, 3" (SC'11), section 3.3 and
# Random123's philox.h: the round multipliers and the key schedule's Weyl constants.
_MUL0, _MUL1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_WEYL0, _WEYL1 = 0x9E3779B9, 0xBB67AE85
_LOW = np.uint64(0xFFFFFFFF)
_32 = np.uint64(32)


def philox4x32_10(c0, c1, c2, c3, k0: int, k1: int) -> tuple:
    """Philox4x32 with 10 rounds on uint32 counter arrays (c0..c3) and the key (k0, k1).

    The words are kept in uint64 arrays throughout (values below 2^32), so that each round's
    32 x 32 -> 64-bit products need no conversion; the result is uint32."""
    c0, c1, c2, c3 = (np.asarray(c, np.uint32).astype(np.uint64) for c in (c0, c1, c2, c3))
    for r in range(10):
        if r:  # the key is bumped before every round but the first
            k0, k1 = (k0 + _WEYL0) & 0xFFFFFFFF, (k1 + _WEYL1) & 0xFFFFFFFF
        p0 = c0 * _MUL0
        p1 = c2 * _MUL1
        c0 = p1 >> _32
        c0 ^= c1
        c0 ^= np.uint64(k0)
        c2 = p0 >> _32
        c2 ^= c3
        c2 ^= np.uint64(k1)
        p1 &= _LOW
        p0 &= _LOW
        c1, c3 = p1, p0
    return tuple(c.astype(np.uint32) for c in (c0, c1, c2, c3))


def _key_offset(state) -> tuple:
    w = np.asarray(state).reshape(-1).view(np.uint32)
    if w.size != 4:
        raise ValueError(f"a generator state holds 4 words, got {w.size}")
    return int(w[0]), int(w[1]), int(w[2]) | int(w[3]) << 32


def _blocks(state, block) -> np.ndarray:
    """The Philox blocks ``block`` (uint64 array of block numbers) of the draw at ``state``,
    as an array of shape block.shape + (4,)."""
    k0, k1, offset = _key_offset(state)
    ctr = np.asarray(block, np.uint64) + np.uint64(offset)  # wraps mod 2^64, as the shaders
    zero = np.zeros(ctr.shape, np.uint32)
    words = philox4x32_10(ctr & _LOW, ctr >> _32, zero, zero, k0, k1)
    return np.stack(words, axis=-1)


def stream(state, n: int, start: int = 0) -> np.ndarray:
    """Words start..start+n-1 of the draw at ``state`` (uint32): each block computed once."""
    first, end = start // 4, -(-(start + n) // 4)
    words = _blocks(state, np.arange(first, end, dtype=np.uint64)).reshape(-1)
    return words[start - 4 * first : start - 4 * first + n]


def keep_range(state, start: int, n: int, threshold: int) -> np.ndarray:
    """The dropout mask of mask indices start..start+n-1: kept iff word >> 8 >= threshold."""
    return (stream(state, n, start) >> np.uint32(8)) >= np.uint32(threshold)


# ---------------------------------------------------------------- the transforms

_F32_2_24 = np.float32(2.0**-24)
_F32_2_23 = np.float32(2.0**-23)
_F32_PI = np.float32(np.pi)


def uniform_from(state, n: int, bits: int) -> np.ndarray:
    """n uniforms in [0, 1): ``bits`` bits each (11 for f16, 24 for f32: exact in f32), or 53
    bits from two words (f64, cpu only), as float64 then."""
    if bits == 53:
        w = stream(state, 2 * n)
        hi = (w[0::2] >> np.uint32(5)).astype(np.float64)
        lo = (w[1::2] >> np.uint32(6)).astype(np.float64)
        return (hi * 2.0**26 + lo) * 2.0**-53
    w = stream(state, n)
    return (w >> np.uint32(32 - bits)).astype(np.float32) * np.float32(2.0**-bits)


def _normal_f32(state, n: int) -> np.ndarray:
    # Box-Muller on the words of each block: (w0, w1) and (w2, w3) give two pairs; element i
    # is r cos(theta) for even i and r sin(theta) for odd i of its pair. u1 in (0, 1],
    # theta = pi * s with s in [-1, 1) exact, so that cos/sin see [-pi, pi).
    nb = -(-n // 4)
    w = _blocks(state, np.arange(nb, dtype=np.uint64)).reshape(nb, 2, 2)
    u1 = ((w[..., 0] >> np.uint32(8)) + np.uint32(1)).astype(np.float32) * _F32_2_24
    s = ((w[..., 1] >> np.uint32(8)).astype(np.int64) - (1 << 23)).astype(np.float32)
    theta = (s * _F32_2_23) * _F32_PI
    r = np.sqrt(np.float32(-2.0) * np.log(u1))
    z = np.stack([r * np.cos(theta), r * np.sin(theta)], axis=-1)
    return z.reshape(-1)[:n]


def _normal_f64(state, n: int) -> np.ndarray:
    # Two normals per block: 53-bit u1 from (w0, w1), theta from (w2, w3).
    nb = -(-n // 2)
    w = _blocks(state, np.arange(nb, dtype=np.uint64)).astype(np.float64)
    a = np.floor(w[:, 0] / 32.0) * 2.0**26 + np.floor(w[:, 1] / 64.0)
    b = np.floor(w[:, 2] / 32.0) * 2.0**26 + np.floor(w[:, 3] / 64.0)
    u1 = (a + 1.0) * 2.0**-53
    theta = (b - 2.0**52) * 2.0**-52 * np.pi
    r = np.sqrt(-2.0 * np.log(u1))
    return np.stack([r * np.cos(theta), r * np.sin(theta)], axis=-1).reshape(-1)[:n]


# ---------------------------------------------------------------- the rows


@kernel
def rng_bits(state, shape=(), **_):
    return stream(state, numel(shape)).view(np.int32).reshape(shape)


@kernel
def rng_uniform(state, low=0.0, high=1.0, bits=24, shape=(), **_):
    u = uniform_from(state, numel(shape), bits)
    if bits == 53:
        return (low + u * (high - low)).reshape(shape)
    lo = np.float32(low)
    span = np.float32(high) - lo  # f32 arithmetic throughout, as the shader (no fused ops)
    return (lo + u * span).reshape(shape)


@kernel
def rng_normal(state, mean=0.0, std=1.0, bits=24, shape=(), **_):
    n = numel(shape)
    if bits == 53:
        return (mean + std * _normal_f64(state, n)).reshape(shape)
    return (np.float32(mean) + np.float32(std) * _normal_f32(state, n)).reshape(shape)


@kernel
def rng_randint(state, low=0, span=1, shape=(), **_):
    # low + floor(w * span / 2^32): a multiply-shift, no modulo.
    w = stream(state, numel(shape)).astype(np.uint64)
    hi = (w * np.uint64(span)) >> _32
    return (np.int64(low) + hi.astype(np.int64)).astype(np.int32).reshape(shape)


@kernel
def bernoulli(p, state, shape=(), **_):
    w = stream(state, numel(shape))
    u = (w >> np.uint32(8)).astype(np.float32) * _F32_2_24  # exact in f32 and f64
    p = np.asarray(p)
    if p.dtype == np.float64:
        u = u.astype(np.float64)
    return (u.reshape(shape) < p).astype(p.dtype if p.dtype.kind == "f" else np.float32)


@kernel
def rng_advance(state, count=0, **_):
    k0, k1, offset = _key_offset(state)
    offset = (offset + int(count)) & ((1 << 64) - 1)
    words = np.array([k0, k1, offset & 0xFFFFFFFF, offset >> 32], np.uint32)
    return words.view(np.int32)
