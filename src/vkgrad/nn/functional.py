"""``vkgrad.nn.functional``: the functions layers are built from (``torch.nn.functional``)."""

from __future__ import annotations

from ..autograd import apply
from ..functional import (
    cross_entropy,
    gelu,
    log_softmax,
    mse_loss,
    relu,
    sigmoid,
    silu,
    softmax,
    tanh,
)
from ..tensor import Tensor

__all__ = [
    "cross_entropy",
    "gelu",
    "linear",
    "log_softmax",
    "mse_loss",
    "relu",
    "sigmoid",
    "silu",
    "softmax",
    "tanh",
]


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias``, with weight of shape (out_features, in_features).

    The transpose is folded into the matmul kernel (``tb=1``), so neither the forward nor
    the backward copies the weight.

    >>> y = F.linear(vkgrad.ones(2, 3), vkgrad.ones(4, 3))   # shape (2, 4)
    """
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out, in), got shape {tuple(weight.shape)}")
    out_f, in_f = weight.shape
    if input.ndim == 0 or input.shape[-1] != in_f:
        raise RuntimeError(
            f"linear: input shape {tuple(input.shape)} and weight shape "
            f"{tuple(weight.shape)} do not align ({input.shape[-1] if input.ndim else '-'} != "
            f"{in_f})"
        )
    lead = tuple(input.shape[:-1])
    rows = 1
    for s in lead:
        rows *= s
    x3 = input.reshape(1, rows, in_f)
    out = apply("matmul", x3, weight.reshape(1, out_f, in_f), ta=0, tb=1)
    out = out.reshape(lead + (out_f,))
    if bias is not None:
        out = out + bias
    return out
