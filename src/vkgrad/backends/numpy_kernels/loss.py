"""NumPy kernels of the loss family (``vkgrad/library/loss.py``)."""

from __future__ import annotations

import numpy as np

from ..numpy_backend import kernel
from .elementwise import stable_sigmoid, stable_softplus
from .norm import log_softmax, softmax

# Class indices arrive checked against the rows' bounds (validate.py).

# ---------------------------------------------------------------- cross entropy


@kernel
def cross_entropy_index(x, t, **_):
    return -log_softmax(x)[np.arange(x.shape[0]), t]


@kernel
def cross_entropy_prob(x, p, **_):
    return -(p * log_softmax(x)).sum(axis=-1)


@kernel
def cross_entropy_index_backward(x, t, g, **_):
    d = softmax(x)
    d[np.arange(x.shape[0]), t] -= 1
    return d * g[:, None]


@kernel
def cross_entropy_prob_backward(x, p, g, **_):
    return (softmax(x) * p.sum(axis=-1, keepdims=True) - p) * g[:, None]


# ---------------------------------------------------------------- nll


def _targets(t, ignore_index):
    """Class indices with ignored ones set to 0, and the mask of the kept ones."""
    keep = t != int(ignore_index)
    return np.where(keep, t, 0), keep


@kernel
def nll_loss(x, t, w, ignore_index=-100.0, **_):
    tk, keep = _targets(t, ignore_index)
    return np.where(keep, -w[tk] * x[np.arange(x.shape[0]), tk], 0)


@kernel
def nll_loss_backward(x, t, w, g, ignore_index=-100.0, **_):
    tk, keep = _targets(t, ignore_index)
    out = np.zeros(x.shape, np.result_type(x, w, g))
    out[np.arange(x.shape[0]), tk] = np.where(keep, -w[tk] * g, 0)
    return out


@kernel
def nll_loss_weight(t, w, ignore_index=-100.0, **_):
    tk, keep = _targets(t, int(ignore_index))
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


@kernel
def binary_cross_entropy_with_logits(x, y, pw, **_):
    return (1 - y) * x + (1 + (pw - 1) * y) * stable_softplus(-x)


@kernel
def binary_cross_entropy_with_logits_backward(x, y, pw, **_):
    return (1 + (pw - 1) * y) * stable_sigmoid(x) - pw * y


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
