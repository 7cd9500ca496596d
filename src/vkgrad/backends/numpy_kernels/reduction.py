"""NumPy kernels of the reduction family (``vkgrad/library/reduction.py``).

Reductions take ``(M, K)`` and reduce the last axis; scans run along it.
"""

from __future__ import annotations

import numpy as np

from ..numpy_backend import kernel


@kernel
def sum_(x, **_):
    return x.sum(axis=-1)


@kernel
def max_(x, **_):
    return x.max(axis=-1)


@kernel
def prod(x, **_):
    return np.prod(x, axis=-1)


@kernel
def min_(x, **_):
    return x.min(axis=-1)


@kernel
def argmax(x, **_):
    return np.argmax(x, axis=-1)  # the first maximum; NaN counts as the maximum


@kernel
def argmin(x, **_):
    return np.argmin(x, axis=-1)


@kernel
def var(x, correction=1.0, **_):
    d = x - x.mean(axis=-1, keepdims=True)
    return (d * d).sum(axis=-1) / (x.shape[-1] - correction)


@kernel
def var_backward(x, g, correction=1.0, **_):
    d = x - x.mean(axis=-1, keepdims=True)
    return d * (2 * g / (x.shape[-1] - correction))[:, None]


@kernel
def logsumexp(x, **_):
    m = x.max(axis=-1, keepdims=True) if x.shape[-1] else np.full(x.shape[:-1] + (1,), -np.inf)
    # All -inf (or an inf) row: shift by 0 so that exp sees no inf - inf.
    m = np.where(np.isfinite(m), m, 0)
    with np.errstate(divide="ignore"):  # log(0) = -inf for a row of -inf, as PyTorch
        return (m + np.log(np.exp(x - m).sum(axis=-1, keepdims=True)))[:, 0]


@kernel
def norm(x, p=2.0, **_):
    a = np.abs(x)
    if p == np.inf:
        return a.max(axis=-1, initial=0)
    if p == -np.inf:
        return a.min(axis=-1)
    if p == 0:
        return (a != 0).sum(axis=-1).astype(x.dtype)
    if p == 1:
        return a.sum(axis=-1)
    # Scaled by the largest |x|: no overflow of |x|^p where the norm itself is finite.
    m = a.max(axis=-1, keepdims=True, initial=0)
    m = np.where((m > 0) & np.isfinite(m), m, 1)
    return m[:, 0] * ((a / m) ** p).sum(axis=-1) ** (1 / p)


@kernel
def norm_backward(x, y, g, p=2.0, **_):
    y = np.broadcast_to(y, np.broadcast_shapes(np.shape(x), np.shape(y)))
    safe = np.where(y == 0, 1, y)
    d = np.sign(x) * (np.abs(x) / safe) ** (p - 1)
    return np.where((x == 0) | (y == 0), 0, d * g)


def _scan(x, ufunc, reverse, exclusive, identity):
    if reverse:
        x = x[:, ::-1]
    y = ufunc.accumulate(x, axis=-1)
    if exclusive:
        y = np.concatenate([np.full_like(y[:, :1], identity), y[:, :-1]], axis=-1)
    return y[:, ::-1] if reverse else y


@kernel
def cumsum(x, reverse=0, exclusive=0, **_):
    return _scan(x, np.add, reverse, exclusive, 0)


@kernel
def cumprod(x, reverse=0, exclusive=0, **_):
    return _scan(x, np.multiply, reverse, exclusive, 1)


@kernel
def cumprod_grad(x, g, reverse=0, exclusive=0, **_):
    """The recurrence R of cumprod's gradient (gx = exclusive cumprod * R), run against the
    cumprod's direction. inclusive: R_k = g_k + x_{k+1} R_{k+1}; exclusive: R_k = U_{k+1} with
    U_k = g_k + x_k U_{k+1} (for reverse=0; mirrored for reverse=1).

    A linear recurrence has no division-free vectorised form in NumPy, so this loops over the
    axis (vectorised over rows); it is exact with zeros in x.
    """
    if not reverse:  # make the recurrence run forwards along the columns
        x, g = x[:, ::-1], g[:, ::-1]
    out = np.empty(np.broadcast_shapes(x.shape, g.shape), np.result_type(x, g))
    s = np.zeros(out.shape[0], out.dtype)
    for k in range(out.shape[1]):
        if exclusive:
            out[:, k] = s
            s = g[:, k] + x[:, k] * s
        else:
            s = g[:, k] + (x[:, k - 1] * s if k else 0)
            out[:, k] = s
    return out[:, ::-1] if not reverse else out


@kernel
def all_(x, **_):
    return np.all(x, axis=-1)


@kernel
def any_(x, **_):
    return np.any(x, axis=-1)
