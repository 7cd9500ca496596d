"""NumPy kernels of the norm family (``vkgrad/library/norm.py``)."""

from __future__ import annotations

import numpy as np

from ..numpy_backend import kernel
from .random import keep_range

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


# ---------------------------------------------------------------- dropout


@kernel
def dropout(x, key, threshold=0, group=1, scale=1.0, **_):
    # Mask entry m (element, or channel of ``group`` elements) is kept iff word m of the
    # draw at ``key`` >> 8 >= threshold (shaders/philox.glsl).
    n = x.size
    keep = keep_range(key, 0, -(-n // group), threshold)
    if group > 1:
        keep = np.repeat(keep, group)[:n]
    keep = keep.reshape(x.shape)
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
def attn_softmax_backward(dp, p, key, dropout=0, threshold=0, scale=1.0, **_):
    if dropout:
        keep = keep_range(key, 0, dp.size, threshold).reshape(dp.shape)
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


def _drop_factor(shape, rows: slice, dt, key, dropout, threshold, drop_scale):
    """The forward's dropout factor (1/keep or 0) of p[:, rows]; None without dropout."""
    if not dropout:
        return None
    b, lq, s = shape
    n = (rows.stop - rows.start) * s
    keep = np.empty((b, rows.stop - rows.start, s), bool)
    for i in range(b):  # rows of one batch are one run of flat indices into (B, L, S)
        keep[i] = keep_range(key, (i * lq + rows.start) * s, n, threshold).reshape(-1, s)
    return np.where(keep, np.asarray(drop_scale, dt), np.zeros((), dt))


@kernel
def attention_backward(go, p, v, q, k, key, scale=1.0, grads=7, **drop):
    """The gradients of q, k and v, flattened one after the other, block by block of query
    rows: per block, d dp (dp = go v^T), D = sum(p d dp), dz = p (d dp - D)."""
    b, lq, s = p.shape
    e, ev = q.shape[-1], v.shape[-1]
    dt = np.result_type(go, p, v, q, k)
    out = np.zeros(b * (lq * e + s * e + s * ev), dt)
    dq = out[: b * lq * e].reshape(b, lq, e)
    dk = out[b * lq * e : b * (lq + s) * e].reshape(b, s, e)
    dv = out[b * (lq + s) * e :].reshape(b, s, ev)
    keep = {n: drop.get(n, 0) for n in ("dropout", "threshold", "drop_scale")}
    for rows in _row_blocks(b, lq, s):
        # At most three block-sized arrays live at a time: d, dz, and one temporary.
        d = _drop_factor(p.shape, rows, dt, key, **keep)
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
