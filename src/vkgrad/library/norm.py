"""Normalization, attention and regularization: layer/rms/group/batch norm, dropout and
scaled_dot_product_attention.

The family's rows (added to ``ops.OPS``), their backward rules and the public functions.

Layer and RMS norm are row kernels over the flattened normalized dims (one workgroup per
row, two-pass statistics). Their backward recomputes the per-row (mean, rstd) with
``layer_norm_stats`` (one (M, 2) tensor, not saved by the forward) and runs
``layer_norm_backward`` (grad input per row) and ``layer_norm_backward_affine`` (grad weight
and bias, reductions over rows).
Under ``create_graph=True`` the same gradients are built from differentiable ops instead, so
double backward works. Group and batch norm reuse the layer-norm row kernel over
(N*G, C/G*spatial) and (C, N*spatial) rows, then a per-channel affine.

Attention saves the probabilities p; its backward (``attention_backward``) recomputes
go . v^T from go and v where it needs it, so no (B, L, S) temporary exists.

Dropout draws its mask on the device from Philox4x32-10 words of the generator's state
(``shaders/philox.glsl``, bit-identical in NumPy; ``vkgrad/random.py``): a row of kind ``rng``
reading the state, then the state's offset advances on the device. Backward is the same op
on the gradient with a copy of the state taken before the advance (the key): the mask is
regenerated from the same counters, never stored. Attention's dropout keeps such a key for
its backward kernels the same way.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .. import autocasting, dtypes
from .. import functional as F
from .. import random as _random
from ..autograd import Function, apply_inplace, is_grad_enabled, no_grad
from ..ops import row
from ..shapes import broadcast_shapes, numel
from .reduction import along
from .rules import kernel_rule

if TYPE_CHECKING:
    from ..tensor import Tensor

# Public names: ``vkgrad.<name>`` and ``vkgrad.functional.<name>``.
__all__: list[str] = []
# Names exported by ``vkgrad.nn.functional``.
NN_FUNCTIONAL: list[str] = [
    "layer_norm",
    "rms_norm",
    "group_norm",
    "instance_norm",
    "batch_norm",
    "dropout",
    "dropout1d",
    "dropout2d",
    "scaled_dot_product_attention",
]
# The core functions of the family, public as well.
__all__ += ["softmax", "log_softmax"]
NN_FUNCTIONAL += ["softmax", "log_softmax"]
# Exported by ``vkgrad.functional`` only: helpers other families and layers use.
FUNCTIONAL: list[str] = []
# Tensor methods: {method name: function(self, ...)}.
TENSOR_METHODS: dict = {}


def _grad_mode() -> bool:
    return is_grad_enabled()


# ---------------------------------------------------------------- softmax


def _same_rows(op: str):
    """Shape rule of the softmax rows: 2-D (rows, cols) inputs, all of one shape."""

    def shape(in_shapes, attrs):
        x = tuple(in_shapes[0])
        if len(x) != 2:
            raise ValueError(f"{op}: expected a 2-D (rows, cols) input, got shape {x}")
        for s in in_shapes[1:]:
            if tuple(s) != x:
                raise ValueError(f"{op}: shapes {x} and {tuple(s)} must match")
        return x

    return shape


def _softmax_bw_rule(ctx, g):
    # y' = y * (g - sum(g y)); inputs (y, g). Differentiate the composed form.
    y, go = ctx.inputs
    s = F.unsqueeze(F.call("sum", F.mul(go, y)), -1)
    gy = F.mul(g, F.sub(go, s))
    gy = F.sub(gy, F.mul(F.unsqueeze(F.call("sum", F.mul(g, y)), -1), go))
    ggo = F.call("softmax_backward", y, g)
    return gy, ggo


def _log_softmax_bw_rule(ctx, g):
    # out = go - exp(y) * sum(go); inputs (y, go).
    y, go = ctx.inputs
    p = F.exp(y)
    s = F.unsqueeze(F.call("sum", go), -1)
    gy = F.neg(F.mul(F.mul(g, p), s))
    ggo = F.sub(g, F.unsqueeze(F.call("sum", F.mul(g, p)), -1))
    return gy, ggo


# softmax and log_softmax, each with a backward kernel from the saved output.
for _name, _bw_rule in (("softmax", _softmax_bw_rule), ("log_softmax", _log_softmax_bw_rule)):
    _bw = f"{_name}_backward"
    row(_name, "row", 1, kernel_rule(_bw, use_out=True), saves="o", shape=_same_rows(_name))
    row(_bw, "row", 2, _bw_rule, saves="i", shape=_same_rows(_bw))


# ---------------------------------------------------------------- shape rules of the rows


def _check_2d(op: str, x) -> tuple:
    x = tuple(x)
    if len(x) != 2:
        raise ValueError(f"{op}: expected a 2-D (rows, cols) input, got shape {x}")
    return x


def _check_affine(op: str, k: int, shapes) -> None:
    for s in shapes:
        if tuple(s) not in ((), (k,)):
            raise ValueError(f"{op}: weight/bias shape {tuple(s)}, expected ({k},) or a scalar")


def _norm_fwd_shape(op: str):
    def shape(in_shapes, attrs):
        x = _check_2d(op, in_shapes[0])
        _check_affine(op, x[1], in_shapes[1:])
        return x

    return shape


def _stats_shape(in_shapes, attrs):
    return (_check_2d("layer_norm_stats", in_shapes[0])[0], 2)


def _check_stats(op: str, x, stats) -> None:
    if tuple(stats) != (x[0], 2):
        raise ValueError(f"{op}: stats shape {tuple(stats)}, expected {(x[0], 2)}")


def _norm_bw_shape(in_shapes, attrs):
    x = _check_2d("layer_norm_backward", in_shapes[0])
    _check_affine("layer_norm_backward", x[1], [in_shapes[1]])
    if tuple(in_shapes[2]) != x:
        raise ValueError(f"layer_norm_backward: grad shape {tuple(in_shapes[2])}, expected {x}")
    _check_stats("layer_norm_backward", x, in_shapes[3])
    return x


def _affine_bw_shape(in_shapes, attrs):
    x = _check_2d("layer_norm_backward_affine", in_shapes[0])
    if tuple(in_shapes[1]) != x:
        raise ValueError(
            f"layer_norm_backward_affine: grad shape {tuple(in_shapes[1])}, expected {x}"
        )
    _check_stats("layer_norm_backward_affine", x, in_shapes[2])
    return (2, x[1])


def _same_shape(op: str):
    def shape(in_shapes, attrs):
        return tuple(in_shapes[0])

    return shape


def _attn_shape(in_shapes, attrs):
    x = _check_2d("attn_softmax", in_shapes[0])
    m = tuple(in_shapes[1])
    if attrs["mask_mode"] and (len(m) != 2 or m[1] != x[1] or x[0] % max(m[0], 1)):
        raise ValueError(f"attn_softmax: mask shape {m} does not fit scores {x}")
    return x


def _attn_bw_shape(in_shapes, attrs):
    x = _check_2d("attn_softmax_backward", in_shapes[0])
    if tuple(in_shapes[1]) != x:
        raise ValueError(f"attn_softmax_backward: shapes {x} and {tuple(in_shapes[1])} differ")
    return x


def _attention_bw_shape(in_shapes, attrs):
    """go (B, L, Ev), p (B, L, S), v (B, S, Ev), q (B, L, E), k (B, S, E) -> the gradients of q,
    k and v flattened one after the other: (B L E + B S E + B S Ev,)."""
    op = "attention_backward"
    go, p = tuple(in_shapes[0]), tuple(in_shapes[1])
    if len(go) != 3 or len(p) != 3 or p[:2] != go[:2]:
        raise ValueError(
            f"{op}: grad output {go} and probabilities {p} must be (B, L, Ev) and (B, L, S)"
        )
    b, lq, s = p
    ev = go[2]
    e = in_shapes[3][-1] if len(in_shapes[3]) == 3 else -1
    for i, want in enumerate([go, p, (b, s, ev), (b, lq, e), (b, s, e)]):
        if tuple(in_shapes[i]) != want:
            raise ValueError(f"{op}: input {i} has shape {tuple(in_shapes[i])}, expected {want}")
    return (b * (lq * e + s * e + s * ev),)


# ---------------------------------------------------------------- backward rules


def _stats_dtype(x):
    # Statistics stay in f32 for f16 inputs; f64 (CPU) keeps f64.
    return dtypes.float64 if x.dtype is dtypes.float64 else dtypes.float32


def _norm_rule(rms: bool):
    def rule(ctx, g):
        x, w = ctx.inputs[0], ctx.inputs[1]
        eps = ctx.attrs["eps"]
        need = ctx.needs_input_grad
        if _grad_mode():
            return _norm_backward_graph(x, w, g, eps, rms, need)
        stats = F.call("layer_norm_stats", x, eps=eps, rms=int(rms), dtype=_stats_dtype(x))
        gx = gw = gb = None
        if need[0]:
            gx = F.call("layer_norm_backward", x, w, g, stats, rms=int(rms), dtype=x.dtype)
        if need[1] or (not rms and need[2]):
            aff = F.call("layer_norm_backward_affine", x, g, stats, dtype=x.dtype)
            gw, gb = aff[0], aff[1]
        return (gx, gw) if rms else (gx, gw, gb)

    return rule


def _norm_backward_graph(x, w, g, eps, rms, need):
    """The same gradients from differentiable ops (for create_graph=True)."""
    xc = x if rms else x - F.mean(x, -1, keepdim=True)
    r = F.pow(F.mean(xc * xc, -1, keepdim=True) + eps, -0.5)
    xh = xc * r
    gw = g * w
    inner = gw - xh * F.mean(gw * xh, -1, keepdim=True)
    if not rms:
        inner = inner - F.mean(gw, -1, keepdim=True)
    gx = r * inner if need[0] else None
    gwt = F.sum(g * xh, 0) if need[1] else None
    if rms:
        return gx, gwt
    return gx, gwt, (F.sum(g, 0) if need[2] else None)


def _dropout_rule(ctx, g):
    # y = mask * scale * x is linear in x with the same mask: regenerate it from the key.
    key = ctx.inputs[1]
    return F.call("dropout", g, key, **ctx.attrs), None


_NO_DROP = dict(dropout=0, threshold=0, scale=1.0)


def _mask_rows_sum(dz, rows: int):
    """(M, S) -> (rows, S), summing the rows that share one mask row (index row % rows)."""
    m, s = dz.shape
    if m == rows:
        return dz
    return F.sum(F.reshape(dz, (m // rows, rows, s)), 0)


def _attn_softmax_rule(ctx, g):
    a = ctx.attrs
    dz = F.call("attn_softmax_backward", g, ctx.out, 0.0, **_NO_DROP)
    gm = _mask_rows_sum(dz, a["mask_rows"]) if ctx.needs_input_grad[1] else None
    return F.mul(dz, a["scale"]), gm


def _attn_softmax_bw_rule(ctx, h):
    # out = p * (d - sum(p d)), d = c * dp (c: the dropout mask and scale, or 1).
    dp, p, key = ctx.inputs
    a = ctx.attrs
    drop = {"threshold": a["threshold"], "group": 1, "scale": a["scale"]}
    d = F.call("dropout", dp, key, **drop) if a["dropout"] else dp
    gdp = gp = None
    if ctx.needs_input_grad[0]:
        gdp = F.call("attn_softmax_backward", h, p, 0.0, **_NO_DROP)
        if a["dropout"]:
            gdp = F.call("dropout", gdp, key, **drop)
    if ctx.needs_input_grad[1]:
        s = F.sum(p * d, -1, keepdim=True)
        t = F.sum(h * p, -1, keepdim=True)
        gp = h * (d - s) - d * t
    return gdp, gp, None


# ---------------------------------------------------------------- the rows

row(
    "layer_norm",
    "normalize",
    3,
    _norm_rule(False),
    attrs=("eps",),
    saves="i",
    shape=_norm_fwd_shape("layer_norm"),
    double_backward=True,  # under create_graph the rule switches to differentiable ops
)
row(
    "rms_norm",
    "normalize",
    2,
    _norm_rule(True),
    attrs=("eps",),
    saves="i",
    shape=_norm_fwd_shape("rms_norm"),
    double_backward=True,  # under create_graph the rule switches to differentiable ops
)
# Backward kernels: under create_graph the rules above use differentiable ops instead, so
# these rows need no rule of their own.
row("layer_norm_stats", "normalize", 1, attrs=("eps", "rms"), shape=_stats_shape)
row("layer_norm_backward", "normalize", 4, attrs=("rms",), shape=_norm_bw_shape)
row("layer_norm_backward_affine", "normalize", 3, shape=_affine_bw_shape)
# dropout(x, key): the key is a generator state (4 int32 words; kind rng, library/random.py).
row(
    "dropout",
    "rng",
    2,
    _dropout_rule,
    attrs=("threshold", "group", "scale"),
    saves="i",
    no_grad_inputs=(1,),
    shape=_same_shape("dropout"),
)
row(
    "attn_softmax",
    "normalize",
    2,
    _attn_softmax_rule,
    attrs=("scale", "causal", "mask_mode", "lq", "mask_rows"),
    saves="o",
    shape=_attn_shape,
)
# attn_softmax_backward(dp, p, key): key is the dropout's generator state, or 0.0 without
# dropout.
row(
    "attn_softmax_backward",
    "normalize",
    3,
    _attn_softmax_bw_rule,
    attrs=("dropout", "threshold", "scale"),
    saves="i",
    no_grad_inputs=(2,),
    shape=_attn_bw_shape,
)
# The attention gradients from the saved probabilities without any (B, L, S) temporary
# (``_attention_backward_fused``): D_i = sum_j p_ij d_ij dp_ij with dp_ij = go_i . v_j and d the
# forward's dropout factor (1/keep or 0, regenerated from the seed), dz = p (d dp - D), then
# grad q = scale dz k, grad k = scale dz^T q, grad v = (p d)^T go, written one after the other
# into the flat output (only those whose bit is set in ``grads``: 1 q, 2 k, 4 v; the others'
# part is left unwritten). The kernels recompute the dp they need from go and v. A leaf
# kernel, run only under no_grad: create_graph=True takes ``_attention_backward_graph``
# (recorded ops) instead, so the row has no rule.
row(
    "attention_backward",
    "attn_bw",
    6,
    attrs=("scale", "dropout", "threshold", "drop_scale", "grads"),
    out_dtype="input0",
    shape=_attention_bw_shape,
)


# ---------------------------------------------------------------- layer / rms / group norm


def _normalized(op: str, input, normalized_shape) -> tuple:
    ns = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    ns = tuple(int(s) for s in ns)
    if not ns or len(ns) > input.ndim or tuple(input.shape[input.ndim - len(ns) :]) != ns:
        raise RuntimeError(
            f"{op}: normalized_shape {ns} does not match the trailing dims of input shape "
            f"{tuple(input.shape)}"
        )
    return ns


def _affine_arg(op: str, what: str, t, ns: tuple, x, default: float):
    if t is None:
        return default
    if tuple(t.shape) != ns:
        raise RuntimeError(f"{op}: {what} shape {tuple(t.shape)} must be normalized_shape {ns}")
    return F.to_dtype(F.reshape(t, (numel(ns),)), x.dtype)


def _rows(input, k: int):
    return F.reshape(input, (input.numel() // k if k else 0, k))


@autocasting.policy
def layer_norm(
    input: Tensor,
    normalized_shape,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize over the trailing ``normalized_shape`` dims, then ``* weight + bias``.

    >>> y = F.layer_norm(vkgrad.randn(4, 8), (8,))   # each row: mean 0, variance 1
    """
    ns = _normalized("layer_norm", input, normalized_shape)
    k = numel(ns)
    w = _affine_arg("layer_norm", "weight", weight, ns, input, 1.0)
    b = _affine_arg("layer_norm", "bias", bias, ns, input, 0.0)
    y = F.call("layer_norm", _rows(input, k), w, b, eps=float(eps))
    return F.reshape(y, tuple(input.shape))


_FINFO_EPS = {"float16": 2.0**-10, "float32": 2.0**-23, "float64": 2.0**-52}


@autocasting.policy
def rms_norm(
    input: Tensor, normalized_shape, weight: Tensor | None = None, eps: float | None = None
) -> Tensor:
    """``x / sqrt(mean(x^2) + eps) * weight`` over the trailing ``normalized_shape`` dims;
    eps defaults to the machine epsilon of the input's dtype (as PyTorch).

    >>> y = F.rms_norm(vkgrad.randn(4, 8), (8,))
    """
    ns = _normalized("rms_norm", input, normalized_shape)
    if eps is None:
        eps = _FINFO_EPS[input.dtype.name]
    w = _affine_arg("rms_norm", "weight", weight, ns, input, 1.0)
    y = F.call("rms_norm", _rows(input, numel(ns)), w, eps=float(eps))
    return F.reshape(y, tuple(input.shape))


def _channel_affine(op: str, y, c: int, weight, bias):
    """y * weight[c] + bias[c] along dim 1 of y."""
    bc = (1, c) + (1,) * (y.ndim - 2)
    for what, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (c,):
            raise RuntimeError(f"{op}: {what} shape {tuple(t.shape)}, expected ({c},)")
    if weight is not None:
        y = y * F.to_dtype(F.reshape(weight, bc), y.dtype)
    if bias is not None:
        y = y + F.to_dtype(F.reshape(bias, bc), y.dtype)
    return y


@autocasting.policy
def group_norm(
    input: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize each group of ``C // num_groups`` channels (and all spatial positions) of
    every sample, then a per-channel affine. Input (N, C, *).

    >>> y = F.group_norm(vkgrad.randn(2, 6, 5), 3)
    """
    if input.ndim < 2:
        raise RuntimeError(f"group_norm: expected input (N, C, *), got shape {tuple(input.shape)}")
    n, c = input.shape[0], input.shape[1]
    if num_groups <= 0 or c % num_groups:
        raise RuntimeError(
            f"group_norm: num_channels {c} must be divisible by num_groups {num_groups} "
            f"(input shape {tuple(input.shape)})"
        )
    rows = n * num_groups
    k = input.numel() // rows if rows else 0
    y = F.call("layer_norm", F.reshape(input, (rows, k)), 1.0, 0.0, eps=float(eps))
    y = F.reshape(y, tuple(input.shape))
    return _channel_affine("group_norm", y, c, weight, bias)


@autocasting.policy
def instance_norm(
    input: Tensor,
    running_mean: Tensor | None = None,
    running_var: Tensor | None = None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize each channel of each sample of (N, C, *spatial) input over its spatial
    positions, then a per-channel affine. With ``use_input_stats=False`` the running
    statistics normalize instead; with it and running statistics given, they move toward the
    batch's per-instance mean and unbiased variance averaged over N (as PyTorch).

    >>> y = F.instance_norm(vkgrad.randn(2, 3, 8))
    """
    op = "instance_norm"
    if input.ndim < 3:
        raise ValueError(
            f"{op}: expected an (N, C, *spatial) input of at least 3 dims, got shape "
            f"{tuple(input.shape)}"
        )
    n, c = input.shape[0], input.shape[1]
    for what, t in (("running_mean", running_mean), ("running_var", running_var)):
        if t is not None and tuple(t.shape) != (c,):
            raise ValueError(
                f"{op}: {what} shape {tuple(t.shape)}, expected ({c},) for input "
                f"{tuple(input.shape)}"
            )
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise ValueError(f"{op}: use_input_stats=False needs running_mean and running_var")
        return _batch_norm_eval(input, running_mean, running_var, weight, bias, eps)
    spatial = numel(input.shape[2:])
    if spatial <= 1:
        raise ValueError(
            f"{op}: expected more than 1 spatial element when using input statistics, got "
            f"input shape {tuple(input.shape)}"
        )
    rows = F.reshape(input, (n * c, spatial))
    y = F.reshape(F.call("layer_norm", rows, 1.0, 0.0, eps=float(eps)), tuple(input.shape))
    if running_mean is not None or running_var is not None:
        with no_grad():
            stats = F.call(
                "layer_norm_stats", rows.detach(), eps=0.0, rms=0, dtype=_stats_dtype(rows)
            )
            m = float(momentum)
            if running_mean is not None:
                mean = F.mean(F.reshape(stats[:, 0], (n, c)), 0)
                running_mean.mul_(1.0 - m).add_(mean * m)
            if running_var is not None:
                # eps 0: var = 1 / rstd^2, made unbiased per instance.
                rstd = F.reshape(stats[:, 1], (n, c))
                var = F.mean(F.div(spatial / (spatial - 1), rstd * rstd), 0)
                running_var.mul_(1.0 - m).add_(var * m)
    return _channel_affine(op, y, c, weight, bias)


# ---------------------------------------------------------------- batch norm


@autocasting.policy
def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Per-channel normalization of (N, C) or (N, C, *) input.

    Training: batch statistics (biased variance) normalize, and ``running_mean`` /
    ``running_var`` (if given) are updated in place with momentum (unbiased variance).
    Evaluation: the running statistics normalize.

    >>> y = F.batch_norm(x, rm, rv, training=True)   # rm, rv of shape (C,) move toward x's
    """
    if input.ndim < 2:
        raise RuntimeError(f"batch_norm: expected input (N, C, *), got shape {tuple(input.shape)}")
    c = input.shape[1]
    for what, t in (("running_mean", running_mean), ("running_var", running_var)):
        if t is not None and tuple(t.shape) != (c,):
            raise RuntimeError(
                f"batch_norm: {what} shape {tuple(t.shape)}, expected ({c},) for input "
                f"{tuple(input.shape)}"
            )
    if not training:
        if running_mean is None or running_var is None:
            raise RuntimeError("batch_norm: running_mean and running_var must be given in eval")
        return _batch_norm_eval(input, running_mean, running_var, weight, bias, eps)
    per_channel = input.numel() // c if c else 0
    if per_channel <= 1:
        raise ValueError(
            f"batch_norm: expected more than 1 value per channel when training, got input "
            f"shape {tuple(input.shape)}"
        )
    perm = (1, 0) + tuple(range(2, input.ndim))  # its own inverse
    xc = F.permute(input, perm)
    rows = F.reshape(xc, (c, per_channel))
    y = F.call("layer_norm", rows, 1.0, 0.0, eps=float(eps))
    y = F.permute(F.reshape(y, tuple(xc.shape)), perm)
    if running_mean is not None or running_var is not None:
        _update_running(rows, running_mean, running_var, float(momentum), per_channel)
    return _channel_affine("batch_norm", y, c, weight, bias)


def _update_running(rows, running_mean, running_var, momentum: float, n: int) -> None:
    with no_grad():
        # eps 0: rstd = 1/sqrt(var), so var = 1 / rstd^2 (0 when rstd is inf).
        stats = F.call("layer_norm_stats", rows.detach(), eps=0.0, rms=0, dtype=_stats_dtype(rows))
        if running_mean is not None:
            running_mean.mul_(1.0 - momentum).add_(stats[:, 0] * momentum)
        if running_var is not None:
            rstd = stats[:, 1]
            unbiased = F.div(n / (n - 1), rstd * rstd)
            running_var.mul_(1.0 - momentum).add_(unbiased * momentum)


def _batch_norm_eval(input, running_mean, running_var, weight, bias, eps):
    c = input.shape[1]
    scale = F.pow(F.to_dtype(running_var, input.dtype) + float(eps), -0.5)
    if weight is not None:
        scale = scale * F.to_dtype(weight, input.dtype)
    shift = F.neg(F.to_dtype(running_mean, input.dtype) * scale)
    if bias is not None:
        shift = shift + F.to_dtype(bias, input.dtype)
    bc = (1, c) + (1,) * (input.ndim - 2)
    return input * F.reshape(scale, bc) + F.reshape(shift, bc)


# ---------------------------------------------------------------- dropout


def _dropout_attrs(p: float, group: int = 1) -> dict:
    threshold = min(2**24, int(round(p * 2**24)))
    scale = 0.0 if p >= 1.0 else 1.0 / (1.0 - p)
    return dict(threshold=threshold, group=int(group), scale=float(scale))


def _mask_blocks(n: int, group: int = 1) -> int:
    """Philox blocks a dropout of n elements uses: one word per mask entry (element or
    channel), four words per block."""
    masks = -(-n // group)
    return -(-masks // 4)


def _key(state):
    """A copy of the generator state before it advances: what a backward regenerates the
    mask from."""
    return F.call("copy", state, dtype=dtypes.int32)


class _Dropout(Function):
    """dropout(x, key) saving only the key (not x, as PyTorch saves only the mask): the
    gradient is the same kernel on the gradient."""

    @staticmethod
    def forward(ctx, x, key, attrs):
        ctx.save_for_backward(key)
        ctx.attrs = attrs
        return F.call("dropout", x, key, **attrs)

    @staticmethod
    def backward(ctx, g):
        (key,) = ctx.saved_tensors
        return F.call("dropout", g, key, **ctx.attrs), None, None


def _dropout(op: str, input, p: float, training: bool, inplace: bool, group: int, generator):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    attrs = _dropout_attrs(p, group)
    state = _random.state(generator, input.device, op)
    grad = input.requires_grad and _grad_mode()
    if inplace:
        # Recorded in place, the row saves its inputs: the key, not the state that advances.
        out = apply_inplace("dropout", input, _key(state) if grad else state, **attrs)
    elif grad:
        out = _Dropout.apply(input, _key(state), attrs)
    else:
        out = F.call("dropout", input, state, **attrs)
    _random.advance(state, _mask_blocks(input.numel(), group))
    return out


def dropout(
    input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, *, generator=None
) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)``.

    The mask is drawn on the device from the generator's state (the default generator of
    the input's device, or ``generator``), the same on every backend for one seed, and inside
    a captured step a fresh one on every replay.

    >>> y = F.dropout(x, 0.1)
    """
    return _dropout("dropout", input, float(p), training, inplace, 1, generator)


def _channel_dropout(op, input, p, training, inplace, spatial: int, generator):
    if input.ndim not in (spatial + 1, spatial + 2):
        raise RuntimeError(
            f"{op}: expected a {spatial + 1}-D (unbatched) or {spatial + 2}-D (batched) input, "
            f"got shape {tuple(input.shape)}"
        )
    group = numel(input.shape[input.ndim - spatial :])
    return _dropout(op, input, float(p), training, inplace, max(group, 1), generator)


def dropout1d(
    input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, *, generator=None
) -> Tensor:
    """Zero whole channels of (N, C, L) or (C, L) input. >>> y = F.dropout1d(x, 0.2)"""
    return _channel_dropout("dropout1d", input, p, training, inplace, 1, generator)


def dropout2d(
    input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, *, generator=None
) -> Tensor:
    """Zero whole channels of (N, C, H, W) or (C, H, W) input. >>> y = F.dropout2d(x, 0.2)"""
    return _channel_dropout("dropout2d", input, p, training, inplace, 2, generator)


# ---------------------------------------------------------------- attention


@autocasting.policy
def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
) -> Tensor:
    """``softmax(q k^T * scale + mask) v`` over (..., L, E), (..., S, E), (..., S, Ev).

    ``attn_mask``: bool (True takes part) or float (added), broadcastable to (..., L, S).
    ``is_causal``: query i sees keys 0..i. Rows with no key taking part give 0.

    Memory: the forward saves only the (B, L, S) probabilities (no scores, no dropped
    copy). The backward needs no (B, L, S) tensor beyond them: one fused row recomputes
    go . v^T piece by piece (Vulkan: per query or key row; NumPy: blocks of query rows)
    and allocates only gradient-sized buffers and a (B, L) f32 row sum. A float ``attn_mask``
    that requires grad makes it allocate the (B, L, S) gradient of the scores, which is
    that mask's gradient before its broadcast is summed away.

    >>> o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    """
    op = "scaled_dot_product_attention"
    for name, t in (("query", query), ("key", key), ("value", value)):
        if t.ndim < 2:
            raise RuntimeError(f"{op}: {name} must be at least 2-D, got shape {tuple(t.shape)}")
    lq, e = query.shape[-2:]
    sk, ek = key.shape[-2:]
    sv, ev = value.shape[-2:]
    if ek != e or sv != sk:
        raise RuntimeError(
            f"{op}: shapes query {tuple(query.shape)}, key {tuple(key.shape)}, value "
            f"{tuple(value.shape)} do not fit (..., L, E), (..., S, E), (..., S, Ev)"
        )
    if attn_mask is not None and is_causal:
        raise RuntimeError(f"{op}: an explicit attn_mask must not be given with is_causal=True")
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"{op}: dropout_p has to be between 0 and 1, got {dropout_p}")
    batch = broadcast_shapes(op, query.shape[:-2], key.shape[:-2], value.shape[:-2])
    b = numel(batch)

    def as3(t, rows, cols):
        if tuple(t.shape[:-2]) != batch:
            t = F.expand(t, batch + (rows, cols))
        return F.reshape(t, (b, rows, cols))

    q3, k3 = as3(query, lq, e), as3(key, sk, e)
    v3 = F.to_dtype(as3(value, sk, ev), query.dtype)
    mode, mask2, mask_rows = 0, None, lq
    if attn_mask is not None:
        full = batch + (lq, sk)
        try:
            fits = broadcast_shapes(op, attn_mask.shape, full) == full
        except ValueError:
            fits = False
        if not fits:
            raise RuntimeError(
                f"{op}: attn_mask shape {tuple(attn_mask.shape)} does not broadcast to {full}"
            )
        mode = 1 if attn_mask.dtype is dtypes.bool_ else 2
        m = attn_mask if mode == 1 else F.to_dtype(attn_mask, query.dtype)
        if numel(m.shape[:-2]) == 1:
            m = F.reshape(m, tuple(m.shape[-2:]) if m.ndim >= 2 else (1,) + tuple(m.shape))
            m = F.expand(m, (lq, sk))
        else:
            m = F.expand(m, full)
            mask_rows = b * lq
        mask2 = F.reshape(m, (mask_rows, sk))
    cfg = dict(
        scale=float(1.0 / math.sqrt(e) if scale is None else scale),
        causal=int(bool(is_causal)),
        mask_mode=mode,
        lq=int(lq),
        mask_rows=int(mask_rows),
    )
    drop = state = None
    if dropout_p > 0.0:
        # (key, attrs): the backward kernels regenerate the mask from the key.
        state = _random.state(None, q3.device, op)
        drop = (_key(state), _dropout_attrs(float(dropout_p)))
    out = _attention_fn().apply(q3, k3, v3, mask2, cfg=cfg, drop=drop)
    if state is not None:
        _random.advance(state, _mask_blocks(b * lq * sk))
    return F.reshape(out, batch + (lq, ev))


_ATTENTION = None


def _attention_fn():
    """The attention Function (built on first use: autograd imports the op table)."""
    global _ATTENTION
    if _ATTENTION is None:

        class _Attention(Function):
            @staticmethod
            def forward(ctx, q, k, v, mask, cfg, drop):
                b, lq, _ = q.shape
                sk = k.shape[1]
                s = F.call("matmul", q, k, ta=0, tb=1)
                p = F.view(s, (b * lq, sk))
                apply_inplace("attn_softmax", p, 0.0 if mask is None else mask, **cfg)
                p = F.view(p, (b, lq, sk))
                pd = p if drop is None else F.call("dropout", p, drop[0], **drop[1])
                out = F.call("matmul", pd, v, ta=0, tb=0)
                ctx.save_for_backward(q, k, v, mask, p)
                ctx.cfg, ctx.drop = cfg, drop
                return out

            @staticmethod
            def backward(ctx, go):
                q, k, v, mask, p = ctx.saved_tensors
                if _grad_mode():
                    return _attention_backward_graph(q, k, v, mask, go, ctx)
                if ctx.needs_input_grad[3]:
                    return _attention_backward_dz(q, k, v, p, go, ctx)
                return _attention_backward_fused(q, k, v, p, go, ctx)

        _ATTENTION = _Attention
    return _ATTENTION


def _attention_backward_fused(q, k, v, p, go, ctx):
    """The gradients of q, k and v from the saved p, with no (B, L, S) temporary (the
    ``attention_backward`` row)."""
    need = ctx.needs_input_grad
    a = dict(scale=ctx.cfg["scale"], dropout=0, threshold=0, drop_scale=1.0)
    key = 0.0
    if ctx.drop is not None:
        key, d = ctx.drop
        a.update(dropout=1, threshold=d["threshold"], drop_scale=d["scale"])
    a["grads"] = int(need[0]) | int(need[1]) << 1 | int(need[2]) << 2
    flat = F.call("attention_backward", go, p, v, q, k, key, **a)
    b, lq, e = q.shape
    s, ev = v.shape[1:]
    grads, start = [], 0
    for want, shape in zip(need, [(b, lq, e), (b, s, e), (b, s, ev)]):
        n = numel(shape)
        grads.append(F.reshape(flat[start : start + n], shape) if want else None)
        start += n
    return (*grads, None)


def _attention_backward_dz(q, k, v, p, go, ctx):
    """The gradients through the full (B, L, S) score gradient dz: only when a float
    attn_mask needs its gradient, which is dz itself (summed over broadcast rows)."""
    need = ctx.needs_input_grad
    cfg, drop = ctx.cfg, ctx.drop
    b, lq, sk = p.shape
    dq = dk = dv = dm = None
    if need[2]:
        pd = p if drop is None else F.call("dropout", p, drop[0], **drop[1])
        dv = F.call("matmul", pd, go, ta=1, tb=0)
        del pd
    if need[0] or need[1] or need[3]:
        dz = F.call("matmul", go, v, ta=0, tb=1)
        key, bw = _softmax_bw_drop(drop)
        apply_inplace(
            "attn_softmax_backward", F.view(dz, (b * lq, sk)), F.view(p, (b * lq, sk)), key, **bw
        )
        if need[0]:
            dq = F.mul(F.call("matmul", dz, k, ta=0, tb=0), cfg["scale"])
        if need[1]:
            dk = F.mul(F.call("matmul", dz, q, ta=1, tb=0), cfg["scale"])
        if need[3]:
            dm = _mask_rows_sum(F.view(dz, (b * lq, sk)), cfg["mask_rows"])
    return dq, dk, dv, dm


def _softmax_bw_drop(drop) -> tuple:
    """attn_softmax_backward's key input and attrs for the attention's dropout (or none)."""
    if drop is None:
        return 0.0, dict(_NO_DROP)
    key, d = drop
    return key, dict(dropout=1, threshold=d["threshold"], scale=d["scale"])


def _attention_backward_graph(q, k, v, mask, go, ctx):
    """The attention gradients from recorded ops (create_graph=True): recompute the
    probabilities from q and k, then the same steps as the kernels, each with a rule."""
    cfg, drop = ctx.cfg, ctx.drop
    b, lq, _ = q.shape
    sk = k.shape[1]
    s = F.reshape(F.call("matmul", q, k, ta=0, tb=1), (b * lq, sk))
    p = F.call("attn_softmax", s, 0.0 if mask is None else mask, **cfg)
    p3 = F.reshape(p, (b, lq, sk))
    pd = p3 if drop is None else F.call("dropout", p3, drop[0], **drop[1])
    dv = F.call("matmul", pd, go, ta=1, tb=0)
    dp = F.reshape(F.call("matmul", go, v, ta=0, tb=1), (b * lq, sk))
    key, bw = _softmax_bw_drop(drop)
    dz = F.call("attn_softmax_backward", dp, p, key, **bw)
    dz3 = F.reshape(dz, (b, lq, sk))
    dq = F.mul(F.call("matmul", dz3, k, ta=0, tb=0), cfg["scale"])
    dk = F.mul(F.call("matmul", dz3, q, ta=1, tb=0), cfg["scale"])
    dm = None
    if ctx.needs_input_grad[3]:
        dm = _mask_rows_sum(dz, cfg["mask_rows"])
    return dq, dk, dv, dm


# ---------------------------------------------------------------- softmax: functions


# Errors name softmax for both, as they always have.
@autocasting.policy
def softmax(x, dim: int = -1):
    return along("softmax", "softmax", x, dim)


@autocasting.policy
def log_softmax(x, dim: int = -1):
    return along("softmax", "log_softmax", x, dim)
