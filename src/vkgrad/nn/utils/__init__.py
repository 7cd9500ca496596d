"""``nn.utils``: gradient clipping, computed and applied on the gradients' device.

``clip_grad_norm_`` never reads a value back to the host (unless ``error_if_nonfinite``): the
total norm and the scale factor stay device tensors and the scaling is one in-place kernel
per gradient, so it can sit in a training step without a sync.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Union

import numpy as np

from ... import dtypes
from ... import functional as F
from ...autograd import apply_inplace, no_grad
from ...tensor import Tensor, tensor
from . import rnn

_Params = Union[Tensor, Iterable[Tensor]]


def _grads(parameters: _Params) -> list:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def _norm_of(g: Tensor, p: float) -> Tensor:
    """sum(|g|^p) (or max |g| for p = inf) of one gradient, as an f32 (f64) 0-d tensor."""
    if g.dtype is dtypes.float16:
        g = F.to_dtype(g, dtypes.float32)  # squares of halves overflow past ~256
    if p == float("inf"):
        return F.max(F.abs(g)) if g.numel() else F.sum(g) * 0.0
    if p == 2.0:
        return F.sum(g * g)
    if p == 1.0:
        return F.sum(F.abs(g))
    if p == 0.0:
        return F.sum((g != 0.0).float())
    return F.sum(F.pow(F.abs(g), p))


def get_total_norm(
    tensors: _Params, norm_type: float = 2.0, error_if_nonfinite: bool = False
) -> Tensor:
    """The ``norm_type``-norm of all ``tensors`` together (as if concatenated), on device.

    >>> nn.utils.get_total_norm([vkgrad.tensor([3.0]), vkgrad.tensor([4.0])])
    tensor(5.)
    """
    if isinstance(tensors, Tensor):
        tensors = [tensors]
    tensors = list(tensors)
    p = float(norm_type)
    if not tensors:
        return tensor(0.0)
    dev = tensors[0].device
    with no_grad():
        total = None
        for t in tensors:
            n = _norm_of(t.detach(), p)
            if n.device != dev:
                n = n.to(dev)
            if total is None:
                total = n
            elif p == float("inf"):
                total = F.maximum(total, n)
            else:
                total = total + n
        if p == 2.0:
            total = F.sqrt(total)
        elif p not in (1.0, 0.0, float("inf")):
            total = F.pow(total, 1.0 / p)
    if error_if_nonfinite:
        import math

        # The one host read: an error can only be raised from a value the host sees.
        if not math.isfinite(total.item()):
            raise RuntimeError(
                f"The total norm of order {p} for gradients from `parameters` is non-finite, "
                "so it cannot be clipped. To disable this error and scale the gradients by the "
                "non-finite norm anyway, set `error_if_nonfinite=False`"
            )
    return total


def clip_grads_with_norm_(parameters: _Params, max_norm: float, total_norm: Tensor) -> None:
    """Scale the gradients in place by min(1, max_norm / (total_norm + 1e-6))."""
    grads = _grads(parameters)
    if not grads:
        return
    with no_grad():
        coef = F.clamp(float(max_norm) / (total_norm + 1e-6), max=1.0)
        for g in grads:
            c = coef if coef.device == g.device else coef.to(g.device)
            apply_inplace("mul", g, c)


def clip_grad_norm_(
    parameters: _Params,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """Scale all gradients together so that their total norm is at most ``max_norm``;
    returns the total norm before clipping (a 0-d tensor on the gradients' device).

    >>> total = nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    """
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    parameters = list(parameters)
    grads = _grads(parameters)
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total)
    return total


def clip_grad_value_(parameters: _Params, clip_value: float, foreach: bool | None = None) -> None:
    """Clamp every gradient in place to [-clip_value, clip_value].

    >>> nn.utils.clip_grad_value_(model.parameters(), clip_value=0.5)
    """
    v = float(clip_value)
    with no_grad():
        for g in _grads(parameters):
            apply_inplace("clamp", g, min=-v, max=v, has_min=1, has_max=1)


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened into one 1-D tensor (a copy)."""
    ps = list(parameters)
    if not ps:
        raise ValueError("parameters_to_vector: expected at least one parameter")
    flat = np.concatenate([p.detach().numpy().reshape(-1) for p in ps])
    return tensor(flat, dtype=ps[0].dtype, device=ps[0].device)


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy slices of ``vec`` into the parameters, in order (the inverse of the above)."""
    ps = list(parameters)
    n = sum(p.numel() for p in ps)
    if vec.ndim != 1 or vec.numel() != n:
        raise ValueError(
            f"vector_to_parameters: expected a 1-D tensor of {n} elements, got shape "
            f"{tuple(vec.shape)}"
        )
    off = 0
    with no_grad():
        for p in ps:
            k = p.numel()
            p.copy_(F.reshape(vec[off : off + k], p.shape))
            off += k
