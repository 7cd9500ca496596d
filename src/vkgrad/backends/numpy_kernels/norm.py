"""NumPy kernels of the norm family (``vkgrad/library/norm.py``)."""

from __future__ import annotations

import numpy as np

from ..numpy_backend import kernel


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


def _mix32(x):
    """lowbias32, as shaders/rng.glsl: uint32 arithmetic wraps in NumPy as on the GPU."""
    x = x ^ (x >> np.uint32(16))
    x = x * _M1
    x = x ^ (x >> np.uint32(15))
    x = x * _M2
    return x ^ (x >> np.uint32(16))


def keep_mask(j, seed0: int, seed1: int, threshold: int):
    """Element j (uint32 array) is kept iff hash(j; seeds) >> 8 >= threshold."""
    h = _mix32(_mix32(_mix32(j) ^ np.uint32(seed0)) ^ np.uint32(seed1))
    return (h >> np.uint32(8)) >= np.uint32(threshold)


def _flat_mask(shape, seed0, seed1, threshold, group=1):
    n = int(np.prod(shape))
    j = np.arange(n, dtype=np.uint32) // np.uint32(group)
    return keep_mask(j, seed0, seed1, threshold).reshape(shape)


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
