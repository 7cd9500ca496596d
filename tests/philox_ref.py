"""An independent Philox4x32-10 and the documented draws (docs/random.md), for the tests'
expected values; none of it comes from vkgrad.

Philox4x32-10 is written from Salmon, Moraes, Dror and Shaw, "Parallel random numbers: as
easy as 1, 2, 3" (SC'11), section 3.3: each of the 10 rounds maps (c0, c1, c2, c3) with key
(k0, k1) to (hi(M1 c2) ^ c1 ^ k0, lo(M1 c2), hi(M0 c0) ^ c3 ^ k1, lo(M0 c0)), and the key is
bumped by the Weyl constants between rounds. ``philox_int`` works on Python ints (one block);
``blocks`` is the same in NumPy uint64 arithmetic over many counters, checked against
``philox_int`` and the published known answers in tests/test_random.py.

A draw with seed s at offset o: word m is word m % 4 of the block with counter
(o + m // 4 (64-bit), 0, 0) and key (s mod 2^32, s >> 32 mod 2^32).
"""

from __future__ import annotations

import numpy as np

M0, M1 = 0xD2511F53, 0xCD9E8D57
W0, W1 = 0x9E3779B9, 0xBB67AE85
MASK = 0xFFFFFFFF


def philox_int(ctr, key, rounds: int = 10) -> tuple:
    c0, c1, c2, c3 = ctr
    k0, k1 = key
    for _ in range(rounds):
        p0, p1 = M0 * c0, M1 * c2
        c0, c1, c2, c3 = (p1 >> 32) ^ c1 ^ k0, p1 & MASK, (p0 >> 32) ^ c3 ^ k1, p0 & MASK
        k0, k1 = (k0 + W0) & MASK, (k1 + W1) & MASK
    return c0, c1, c2, c3


def blocks(seed: int, offset: int, n_blocks: int) -> np.ndarray:
    """(n_blocks, 4) uint64 words of blocks 0..n_blocks-1 of the draw at (seed, offset)."""
    seed &= (1 << 64) - 1
    keys = []
    k0, k1 = seed & MASK, seed >> 32
    for _ in range(10):
        keys.append((k0, k1))
        k0, k1 = (k0 + W0) & MASK, (k1 + W1) & MASK
    m = np.uint64(MASK)
    ctr = np.arange(n_blocks, dtype=np.uint64) + np.uint64(offset)  # wraps mod 2^64
    c = np.zeros((n_blocks, 4), np.uint64)
    c[:, 0], c[:, 1] = ctr & m, ctr >> np.uint64(32)
    for k0, k1 in keys:
        p0 = c[:, 0] * np.uint64(M0)
        p1 = c[:, 2] * np.uint64(M1)
        c = np.stack(
            [
                (p1 >> np.uint64(32)) ^ c[:, 1] ^ np.uint64(k0),
                p1 & m,
                (p0 >> np.uint64(32)) ^ c[:, 3] ^ np.uint64(k1),
                p0 & m,
            ],
            axis=1,
        )
    return c


def words(seed: int, n: int, offset: int = 0) -> np.ndarray:
    """Words 0..n-1 of the draw (uint64 holding uint32 values)."""
    return blocks(seed, offset, -(-n // 4)).reshape(-1)[:n]


def uniform(seed: int, n: int, offset: int = 0, bits: int = 24) -> np.ndarray:
    """rand's values: the top ``bits`` bits of each word over 2^bits (11: f16, 24: f32)."""
    return (words(seed, n, offset) >> np.uint64(32 - bits)).astype(np.float64) / 2.0**bits


def normal(seed: int, n: int, offset: int = 0) -> np.ndarray:
    """randn's values (f32 draws), in float64: Box-Muller on the pairs (w0, w1), (w2, w3) of
    each block, u1 = ((w >> 8) + 1) / 2^24, theta = pi ((w >> 8) - 2^23) / 2^23; elements
    r cos(theta), r sin(theta)."""
    w = blocks(seed, offset, -(-n // 4)).reshape(-1, 2, 2)
    u1 = ((w[..., 0] >> np.uint64(8)) + np.uint64(1)).astype(np.float64) / 2.0**24
    theta = np.pi * ((w[..., 1] >> np.uint64(8)).astype(np.float64) - 2.0**23) / 2.0**23
    r = np.sqrt(-2.0 * np.log(u1))
    return np.stack([r * np.cos(theta), r * np.sin(theta)], axis=-1).reshape(-1)[:n]


def randint(seed: int, n: int, low: int, high: int, offset: int = 0) -> np.ndarray:
    return low + ((words(seed, n, offset) * np.uint64(high - low)) >> np.uint64(32)).astype(
        np.int64
    )


def dropout_keep(seed: int, n: int, p: float, group: int = 1, offset: int = 0) -> np.ndarray:
    """The dropout mask of n elements: mask entry j // group kept iff word >> 8 >= round(p
    2^24)."""
    masks = -(-n // group)
    keep = (words(seed, masks, offset) >> np.uint64(8)) >= np.uint64(round(p * 2**24))
    return np.repeat(keep, group)[:n]


def blocks_used(n_words: int) -> int:
    return -(-n_words // 4)
