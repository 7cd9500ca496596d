"""NumPy kernels of the loss family (``vkgrad/library/loss.py``)."""

from __future__ import annotations

import warnings

import numpy as np

from ..numpy_backend import _sigmoid, kernel

# As in numpy_backend: log(0) and friends give inf/nan without warnings.
warnings.filterwarnings("ignore", category=RuntimeWarning, module=__name__)


def _targets(op: str, t, c: int, ignore_index):
    """Class indices with ignored ones set to 0, and the mask of the kept ones."""
    t = np.asarray(t).astype(np.int64)
    keep = t != int(ignore_index)
    tk = np.where(keep, t, 0)
    if tk.size and (tk.min() < 0 or tk.max() >= c):
        bad = t[keep & ((t < 0) | (t >= c))]
        raise IndexError(f"{op}: target class index {bad[0]} out of range [0, {c})")
    return tk, keep


@kernel
def nll_loss(x, t, w, ignore_index=-100.0, **_):
    tk, keep = _targets("nll_loss", t, x.shape[1], ignore_index)
    return np.where(keep, -w[tk] * x[np.arange(x.shape[0]), tk], 0)


@kernel
def nll_loss_backward(x, t, w, g, ignore_index=-100.0, **_):
    tk, keep = _targets("nll_loss", t, x.shape[1], ignore_index)
    out = np.zeros(x.shape, np.result_type(x, w, g))
    out[np.arange(x.shape[0]), tk] = np.where(keep, -w[tk] * g, 0)
    return out


@kernel
def nll_loss_weight(t, w, ignore_index=-100.0, **_):
    tk, keep = _targets("nll_loss", t, w.shape[0], ignore_index)
    return np.where(keep, w[tk], 0)


def _clamped_log(v):
    with np.errstate(divide="ignore"):
        return np.maximum(np.log(v), -100)


@kernel
def binary_cross_entropy(x, y, **_):
    return -(y * _clamped_log(x) + (1 - y) * _clamped_log(1 - x))


@kernel
def binary_cross_entropy_backward(x, y, g, **_):
    return g * (x - y) / np.maximum(x * (1 - x), 1e-12)


def _softplus(z):
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


@kernel
def binary_cross_entropy_with_logits(x, y, pw, **_):
    return (1 - y) * x + (1 + (pw - 1) * y) * _softplus(-x)


@kernel
def binary_cross_entropy_with_logits_backward(x, y, pw, **_):
    return (1 + (pw - 1) * y) * _sigmoid(x) - pw * y


@kernel
def smooth_l1_loss(x, y, beta=1.0, **_):
    d = np.abs(x - y)
    if beta == 0:
        return d
    return np.where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta)


@kernel
def smooth_l1_loss_backward(x, y, g, beta=1.0, **_):
    d = x - y
    if beta == 0:
        return g * np.sign(d)
    return g * np.where(np.abs(d) < beta, d / beta, np.sign(d))
