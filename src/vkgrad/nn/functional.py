"""``vkgrad.nn.functional``: the functions layers are built from (``torch.nn.functional``)."""

from __future__ import annotations

from .. import autocasting
from ..autograd import Function, apply, is_grad_enabled
from ..library.shape import view
from ..ops import OPS
from ..shapes import numel
from ..tensor import Tensor, full

# isort: off
# BEGIN GENERATED EXPORTS (scripts/gen_exports.py)
from ..library.conv import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    avg_pool1d,
    avg_pool2d,
    conv1d,
    conv2d,
    conv_transpose1d,
    conv_transpose2d,
    fold,
    max_pool1d,
    max_pool2d,
    unfold,
)
from ..library.elementwise import (
    elu,
    gelu,
    hardsigmoid,
    hardswish,
    leaky_relu,
    logsigmoid,
    mish,
    relu,
    selu,
    sigmoid,
    silu,
    softplus,
    tanh,
)
from ..library.indexing import (
    embedding,
    one_hot,
)
from ..library.loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cosine_embedding_loss,
    cross_entropy,
    huber_loss,
    kl_div,
    l1_loss,
    margin_ranking_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
    triplet_margin_loss,
)
from ..library.norm import (
    batch_norm,
    dropout,
    dropout1d,
    dropout2d,
    group_norm,
    instance_norm,
    layer_norm,
    log_softmax,
    rms_norm,
    scaled_dot_product_attention,
    softmax,
)
from ..library.reduction import (
    cosine_similarity,
    normalize,
    pairwise_distance,
)
from ..library.shape import (
    interpolate,
    pad,
    pixel_shuffle,
    pixel_unshuffle,
)

__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "avg_pool1d",
    "avg_pool2d",
    "batch_norm",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "conv1d",
    "conv2d",
    "conv_transpose1d",
    "conv_transpose2d",
    "cosine_embedding_loss",
    "cosine_similarity",
    "cross_entropy",
    "dropout",
    "dropout1d",
    "dropout2d",
    "elu",
    "embedding",
    "fold",
    "gelu",
    "group_norm",
    "hardsigmoid",
    "hardswish",
    "huber_loss",
    "instance_norm",
    "interpolate",
    "kl_div",
    "l1_loss",
    "layer_norm",
    "leaky_relu",
    "linear",
    "log_softmax",
    "logsigmoid",
    "margin_ranking_loss",
    "max_pool1d",
    "max_pool2d",
    "mish",
    "mse_loss",
    "nll_loss",
    "normalize",
    "one_hot",
    "pad",
    "pairwise_distance",
    "pixel_shuffle",
    "pixel_unshuffle",
    "relu",
    "rms_norm",
    "scaled_dot_product_attention",
    "selu",
    "sigmoid",
    "silu",
    "smooth_l1_loss",
    "softmax",
    "softplus",
    "tanh",
    "triplet_margin_loss",
    "unfold",
]
# END GENERATED EXPORTS
# isort: on


@autocasting.policy
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias``, with weight of shape (out_features, in_features).

    One graph node for the whole layer: the transpose is folded into the matmul kernel
    (``tb=1``), so neither the forward nor the backward copies the weight, and the bias is
    added in place into the fresh matmul output.

    >>> y = F.linear(vkgrad.ones(2, 3), vkgrad.ones(4, 3))   # shape (2, 4)
    """
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out, in), got shape {tuple(weight.shape)}")
    out_f, in_f = weight.shape
    if input.ndim == 0 or input.shape[-1] != in_f:
        got = input.shape[-1] if input.ndim else "-"
        raise RuntimeError(
            f"linear: input shape {tuple(input.shape)} and weight shape "
            f"{tuple(weight.shape)} do not align ({got} != {in_f})"
        )
    if bias is not None and tuple(bias.shape) != (out_f,):
        raise RuntimeError(
            f"linear: bias shape {tuple(bias.shape)} does not match out_features {out_f}"
        )
    return _Linear.apply(input, weight, bias)


class _Linear(Function):
    """y = x W^T + b over the last axis of x, as one node (forward: 1 matmul + 1 add;
    backward: one matmul per needed gradient). Written with ops, so double backward works."""

    @staticmethod
    def forward(ctx, x, w, b):
        out_f, in_f = w.shape
        lead = tuple(x.shape[:-1])
        rows = x.numel() // in_f if in_f else numel(lead)
        ctx.save_for_backward(x, w)
        ctx.rows = rows
        y = apply("matmul", _view(x, (1, rows, in_f)), _view(w, (1, out_f, in_f)), ta=0, tb=1)
        if b is not None:
            if b._device is y._device and b._dtype is y._dtype:
                # y is fresh and seen by no one yet: the add kernel writes into it directly,
                # without add_'s checks and version count (grad mode is off: no node).
                attrs = {"dtype": y._dtype}
                y._device.backend.run(_ADD, [y._data, b._data], attrs, y._shape, y._dtype, y._data)
            else:
                y.add_(b)
        return _view(y, lead + (out_f,))

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        out_f, in_f = w.shape
        rows = ctx.rows
        g3 = _view(g, (1, rows, out_f))
        need_x, need_w, need_b = ctx.needs_input_grad
        gx = gw = gb = None
        if need_x:
            gx = _view(apply("matmul", g3, _view(w, (1, out_f, in_f)), ta=0, tb=0), x.shape)
        if need_w:
            gw = _view(apply("matmul", g3, _view(x, (1, rows, in_f)), ta=1, tb=0), w.shape)
        if need_b:
            # A row of ones times g sums over rows without the transpose that a reduction over
            # the leading axis needs.
            ones = full((1, 1, rows), 1.0, dtype=g.dtype, device=g.device)
            gb = _view(apply("matmul", ones, g3, ta=0, tb=0), (out_f,))
        return gx, gw, gb


_ADD = OPS["add"]


def _view(t: Tensor, shape: tuple) -> Tensor:
    """``t.reshape(shape)``; without a graph to record (the usual case inside forward and
    backward), a bare view of the same storage, skipping reshape's checks and node."""
    if t.requires_grad and is_grad_enabled():
        return t.reshape(shape)
    return view(t, shape)
