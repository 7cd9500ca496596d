"""``vkgrad.nn.functional``: the functions layers are built from (``torch.nn.functional``)."""

from __future__ import annotations

from .. import autocasting, autograd
from ..autograd import apply, is_grad_enabled, no_grad
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
    rows = input.numel() // in_f if in_f else numel(input.shape[:-1])
    dev = weight._device
    if input._device != dev or (bias is not None and bias._device != dev):
        other = input.device if input._device != dev else bias.device
        raise RuntimeError(f"linear: expected all tensors on one device, got {dev} and {other}")
    needs = (input.requires_grad, weight.requires_grad, bias is not None and bias.requires_grad)
    record = True in needs and is_grad_enabled()
    y = _matmul(input, (1, rows, in_f), weight, (1, out_f, in_f), 0, 1, (rows, out_f), False)
    if bias is not None:
        if _plain(y, bias):
            # y is fresh and seen by no one yet: the add kernel writes into it directly,
            # without add_'s checks and version count.
            attrs = {"dtype": y._dtype}
            dev.backend.run(_ADD, [y._data, bias._data], attrs, y._shape, y._dtype, y._data)
        else:
            with no_grad():
                y = y + bias  # mixed dtypes promote, as matmul's did
    if input.ndim != 2:
        y = view(y, tuple(input.shape[:-1]) + (out_f,))
    if record:
        node = _LinearNode(input, weight, rows, needs)
        autograd.record(node, (input, weight, bias), [y])
    return y


class _LinearNode(autograd.Node):
    """The graph node of ``linear``: one node for the layer, whose backward runs one matmul
    per needed gradient (the bias's: a row of ones times g, which sums over rows without the
    transpose that a reduction over the leading axis needs). Without create_graph the
    matmuls run straight on the backend; with it, as ops, so that double backward works."""

    def __init__(self, x: Tensor, w: Tensor, rows: int, needs: tuple) -> None:
        super().__init__()
        self._x, self._w = autograd.SavedTensor(x), autograd.SavedTensor(w)
        self.rows = rows
        self.needs_input_grad = needs

    def name(self) -> str:
        return "AddmmBackward0"  # PyTorch's name for the node of a linear layer

    def release(self) -> None:
        self._x = self._w = None
        self._released = True

    def apply(self, grads: list) -> tuple:
        if self._released:
            raise autograd.released_error(self)
        x, w = self._x.unpack(self), self._w.unpack(self)
        g, rows = grads[0], self.rows
        out_f, in_f = w.shape
        need_x, need_w, need_b = self.needs_input_grad
        gx = gw = gb = None
        graph = is_grad_enabled()
        if need_x:
            gx = _matmul(g, (1, rows, out_f), w, (1, out_f, in_f), 0, 0, x.shape, graph)
        if need_w:
            gw = _matmul(g, (1, rows, out_f), x, (1, rows, in_f), 1, 0, w.shape, graph)
        if need_b:
            ones = _ones(rows, g.dtype, g.device)
            gb = _matmul(ones, (1, 1, rows), g, (1, rows, out_f), 0, 0, (out_f,), graph)
        return gx, gw, gb


def _matmul(
    a: Tensor, a3: tuple, b: Tensor, b3: tuple, ta: int, tb: int, shape: tuple, graph: bool
):
    """The product of a and b seen as the (1, rows, cols) stacks a3 and b3 (transposed by ta,
    tb), viewed as ``shape``; recorded as ops with ``graph`` (a create_graph backward). Else,
    with one floating dtype, the kernel runs straight on the backend: no tensors for the
    views, no inference."""
    dt = a._dtype
    if not graph and b._dtype is dt and dt.is_floating:
        be = a._device.backend
        out3 = (1, a3[2] if ta else a3[1], b3[1] if tb else b3[2])
        args = [be.reshape(a._data, a3), be.reshape(b._data, b3)]
        data = be.run(_MATMUL, args, {"ta": ta, "tb": tb}, out3, dt)
        return Tensor._make(be.reshape(data, shape), shape, dt, a._device)
    if graph:
        return _view(apply("matmul", _view(a, a3), _view(b, b3), ta=ta, tb=tb), shape)
    with no_grad():
        return view(apply("matmul", view(a, a3), view(b, b3), ta=ta, tb=tb), shape)


def _plain(a: Tensor, b: Tensor) -> bool:
    return a._device is b._device and a._dtype is b._dtype


# (rows, dtype, device) -> a row of ones, the left factor of every bias gradient of that
# many rows. Kept: a training step asks for the same few every step.
_ONES: dict = {}


def _ones(rows: int, dtype, device) -> Tensor:
    key = (rows, dtype, device)
    t = _ONES.get(key)
    if t is None:
        if len(_ONES) >= 16:
            _ONES.clear()
        t = _ONES[key] = full((1, 1, rows), 1.0, dtype=dtype, device=device)
    return t


_MATMUL = OPS["matmul"]
_ADD = OPS["add"]


def _view(t: Tensor, shape: tuple) -> Tensor:
    """``t.reshape(shape)``; without a graph to record (the usual case inside forward and
    backward), a bare view of the same storage, skipping reshape's checks and node."""
    if t.requires_grad and is_grad_enabled():
        return t.reshape(shape)
    return view(t, shape)
