"""NumPy kernels of the norm family (``vkgrad/library/norm.py``)."""

from __future__ import annotations

import numpy as np

from ...shapes import numel
from ..numpy_backend import kernel

# ---------------------------------------------------------------- softmax rows


@kernel
def softmax(x, **_):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@kernel
def log_softmax(x, **_):
    z = x - x.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


@kernel
def softmax_backward(y, g, **_):
    return y * (g - (g * y).sum(axis=-1, keepdims=True))


@kernel
def log_softmax_backward(y, g, **_):
    return g - np.exp(y) * g.sum(axis=-1, keepdims=True)


# ---------------------------------------------------------------- layer and rms norm


def _stats(x, eps, rms):
    """Per-row (mean, 1/sqrt(var + eps)), two passes; rms: mean 0, var = mean square."""
    k = x.shape[-1]
    mean = np.zeros(x.shape[:-1] + (1,), x.dtype) if rms else x.sum(-1, keepdims=True) / k
    d = x - mean
    return mean, 1 / np.sqrt((d * d).sum(-1, keepdims=True) / k + eps)


@kernel
def layer_norm(x, w, b, eps=1e-5, **_):
    mean, rstd = _stats(x, eps, False)
    return (x - mean) * rstd * w + b


@kernel
def rms_norm(x, w, eps=1e-6, **_):
    _, rstd = _stats(x, eps, True)
    return x * rstd * w


@kernel
def layer_norm_stats(x, eps=1e-5, rms=0, **_):
    mean, rstd = _stats(x, eps, rms)
    return np.concatenate([mean, rstd], axis=-1)


@kernel
def layer_norm_backward(x, w, g, stats, rms=0, **_):
    mean, rstd = stats[:, :1], stats[:, 1:]
    xh = (x - mean) * rstd
    gw = g * w
    c = (gw * xh).mean(-1, keepdims=True)
    a = 0 if rms else gw.mean(-1, keepdims=True)
    return rstd * (gw - a - xh * c)


@kernel
def layer_norm_backward_affine(x, g, stats, **_):
    xh = (x - stats[:, :1]) * stats[:, 1:]
    return np.stack([(g * xh).sum(0), g.sum(0)])


# ---------------------------------------------------------------- the dropout mask

_M1, _M2 = np.uint32(0x7FEB352D), np.uint32(0x846CA68B)


def _mix32_(x):
    """lowbias32, as shaders/rng.glsl, in place on the uint32 array x (uint32 arithmetic wraps
    in NumPy as on the GPU); one temporary at a time."""
    for shift, mult in ((16, _M1), (15, _M2)):
        x ^= x >> np.uint32(shift)
        x *= mult
    x ^= x >> np.uint32(16)
    return x


def _keep_(h, seed0: int, seed1: int, threshold: int):
    """keep_mask, overwriting the uint32 index array h with its hash."""
    _mix32_(h)
    h ^= np.uint32(seed0)
    _mix32_(h)
    h ^= np.uint32(seed1)
    _mix32_(h)
    h >>= np.uint32(8)
    return h >= np.uint32(threshold)


def keep_mask(j, seed0: int, seed1: int, threshold: int):
    """Element j (uint32 array) is kept iff hash(j; seeds) >> 8 >= threshold."""
    return _keep_(np.array(j, dtype=np.uint32), seed0, seed1, threshold)


def _flat_mask(shape, seed0, seed1, threshold, group=1):
    j = np.arange(numel(shape), dtype=np.uint32) // np.uint32(group)
    return _keep_(j, seed0, seed1, threshold).reshape(shape)


@kernel
def dropout(x, seed0=0, seed1=0, threshold=0, group=1, scale=1.0, **_):
    keep = _flat_mask(x.shape, seed0, seed1, threshold, group)
    return np.where(keep, x * np.asarray(scale, x.dtype), np.zeros((), x.dtype))


# ---------------------------------------------------------------- attention rows


@kernel
def attn_softmax(s, mask, scale=1.0, causal=0, mask_mode=0, lq=1, mask_rows=1, **_):
    m, k = s.shape
    z = s * np.asarray(scale, s.dtype)
    if mask_mode:
        mk = np.asarray(mask)[np.arange(m) % mask_rows]
        z = np.where(mk != 0, z, -np.inf) if mask_mode == 1 else z + mk
    if causal:
        z = np.where(np.arange(k)[None, :] > (np.arange(m) % lq)[:, None], -np.inf, z)
    mx = z.max(-1, keepdims=True)
    dead = mx == -np.inf  # fully masked rows give 0, not NaN
    e = np.exp(z - np.where(dead, 0, mx))
    return np.where(dead, 0, e / np.where(dead, 1, e.sum(-1, keepdims=True)))


@kernel
def attn_softmax_backward(dp, p, dropout=0, seed0=0, seed1=0, threshold=0, scale=1.0, **_):
    if dropout:
        keep = _flat_mask(dp.shape, seed0, seed1, threshold)
        dp = np.where(keep, dp * np.asarray(scale, dp.dtype), np.zeros((), dp.dtype))
    return p * (dp - (p * dp).sum(-1, keepdims=True))


# ---------------------------------------------------------------- fused attention backward
# Blocks of query rows, so that no (B, L, S) temporary exists: a block of dp holds about
# _BLOCK elements, but at least _MIN_ROWS rows (fewer, larger matmuls: NumPy's overhead per
# call dominates small blocks), so the temporaries stay below (B, L, S) / (L / _MIN_ROWS).

_BLOCK, _MIN_ROWS = 1 << 16, 64


def _row_blocks(b: int, lq: int, s: int):
    rows = max(_MIN_ROWS, _BLOCK // max(b * s, 1))
    for i0 in range(0, lq, rows):
        yield slice(i0, min(lq, i0 + rows))


def _drop_factor(shape, rows: slice, dt, dropout, seed0, seed1, threshold, drop_scale):
    """The forward's dropout factor (1/keep or 0) of p[:, rows]; None without dropout."""
    if not dropout:
        return None
    b, lq, s = shape
    i = np.arange(rows.start, rows.stop, dtype=np.uint32)
    bl = np.arange(b, dtype=np.uint32)[:, None, None] * np.uint32(lq) + i[None, :, None]
    j = bl * np.uint32(s) + np.arange(s, dtype=np.uint32)  # flat index into (B, L, S)
    keep = _keep_(j, seed0, seed1, threshold)
    del j
    return np.where(keep, np.asarray(drop_scale, dt), np.zeros((), dt))


@kernel
def attention_backward(go, p, v, q, k, scale=1.0, grads=7, **drop):
    """The gradients of q, k and v, flattened one after the other, block by block of query
    rows: per block, d dp (dp = go v^T), D = sum(p d dp), dz = p (d dp - D)."""
    b, lq, s = p.shape
    e, ev = q.shape[-1], v.shape[-1]
    dt = np.result_type(go, p, v, q, k)
    out = np.zeros(b * (lq * e + s * e + s * ev), dt)
    dq = out[: b * lq * e].reshape(b, lq, e)
    dk = out[b * lq * e : b * (lq + s) * e].reshape(b, s, e)
    dv = out[b * (lq + s) * e :].reshape(b, s, ev)
    keep = {n: drop.get(n, 0) for n in ("dropout", "seed0", "seed1", "threshold", "drop_scale")}
    for rows in _row_blocks(b, lq, s):
        # At most three block-sized arrays live at a time: d, dz, and one temporary.
        d = _drop_factor(p.shape, rows, dt, **keep)
        pr = p[:, rows]
        if grads & 3:
            dz = go[:, rows] @ np.swapaxes(v, -1, -2)
            if d is not None:
                dz *= d
            dz -= np.einsum("bij,bij->bi", pr, dz)[..., None]
            dz *= pr
            if grads & 1:
                dq[:, rows] = dz @ k
            if grads & 2:
                dk += np.swapaxes(dz, -1, -2) @ q[:, rows]
            del dz
        if grads & 4:
            if d is None:
                d = pr
            else:
                d *= pr
            dv += np.swapaxes(d, -1, -2) @ go[:, rows]
        del d
    out[: b * (lq + s) * e] *= np.asarray(scale, dt)
    return out
