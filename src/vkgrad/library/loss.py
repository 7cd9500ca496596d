"""Losses beyond the core cross_entropy/mse_loss: nll_loss, cross_entropy's options (weight,
ignore_index, label_smoothing), binary cross entropy (with logits), smooth_l1/huber/l1,
kl_div, cosine_embedding_loss, margin_ranking_loss, triplet_margin_loss (the last three
composed of other ops, their gradients from autograd).

The family's rows (added to ``ops.OPS``), their backward rules and the public functions.
Each loss computes per-element (or per-sample) values and reduces them with ``reduction``
('none' | 'mean' | 'sum'), as PyTorch does.
"""

from __future__ import annotations

from .. import autocasting, autograd, dtypes
from .. import functional as F
from ..autograd import apply, no_grad
from ..ops import class_bounds, row
from ..shapes import broadcast_shapes

# Public names: ``vkgrad.<name>`` and ``vkgrad.functional.<name>``.
__all__: list[str] = []
# Names exported by ``vkgrad.nn.functional``.
NN_FUNCTIONAL: list[str] = [
    "nll_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "smooth_l1_loss",
    "huber_loss",
    "l1_loss",
    "kl_div",
    "cosine_embedding_loss",
    "margin_ranking_loss",
    "triplet_margin_loss",
]
NN_FUNCTIONAL += ["cross_entropy", "mse_loss"]
# Exported by ``vkgrad.functional`` only: helpers other families and layers use.
FUNCTIONAL: list[str] = []
# Tensor methods: {method name: function(self, ...)}.
TENSOR_METHODS: dict = {}


# ---------------------------------------------------------------- cross entropy


def _cross_entropy_shape(op: str, index: bool):
    """(N, C) logits and a target of class indices (N,) or probabilities (N, C) -> (N,); the
    backward rows take a third input, the (N,) gradient, and give (N, C)."""

    def shape(in_shapes, attrs):
        x = tuple(in_shapes[0])
        if len(x) != 2:
            raise ValueError(f"{op}: expected a 2-D (rows, cols) input, got shape {x}")
        n = x[0]
        t = tuple(in_shapes[1])
        want = (n,) if index else x
        if t != want:
            raise ValueError(f"{op}: target shape {t} does not match {want} for input {x}")
        if len(in_shapes) == 3:
            if tuple(in_shapes[2]) != (n,):
                raise ValueError(f"{op}: grad shape {tuple(in_shapes[2])}, expected {(n,)}")
            return x
        return (n,)

    return shape


def _ce_index(ctx, g):
    x, t = ctx.inputs
    return F.call("cross_entropy_index_backward", x, t, g), None


def _ce_prob(ctx, g):
    x, p = ctx.inputs
    # d/dp of sum(-p * log_softmax(x)) = -log_softmax(x)
    gp = None
    if ctx.needs_input_grad[1]:
        gp = F.mul(F.neg(F.call("log_softmax", x)), F.unsqueeze(g, -1))
    return F.call("cross_entropy_prob_backward", x, p, g), gp


def _ce_index_bw(ctx, h):
    # out = (softmax(x) - onehot(t)) * g[:, None]; inputs (x, t, g).
    x, t, g = ctx.inputs
    y = F.call("softmax", x)
    gx = F.call("softmax_backward", y, F.mul(h, F.unsqueeze(g, -1)))
    gg = F.call("sum", F.mul(h, F.call(ctx.op.name, x, t, F.ones_like(g))))
    return gx, None, gg


def _ce_prob_bw(ctx, h):
    # out = (softmax(x) * sum(p) - p) * g[:, None]; inputs (x, p, g).
    x, p, g = ctx.inputs
    y = F.call("softmax", x)
    sp = F.unsqueeze(F.call("sum", p), -1)
    gx = F.call("softmax_backward", y, F.mul(F.mul(h, F.unsqueeze(g, -1)), sp))
    hg = F.mul(h, F.unsqueeze(g, -1))
    gp = F.sub(F.unsqueeze(F.call("sum", F.mul(hg, y)), -1), hg)
    gg = F.call("sum", F.mul(h, F.call(ctx.op.name, x, p, F.ones_like(g))))
    return gx, gp, gg


_CE_BOUNDS = class_bounds("cross_entropy", 1)
row(
    "cross_entropy_index",
    "loss_row",
    2,
    _ce_index,
    saves="i",
    no_grad_inputs=(1,),
    bounds=_CE_BOUNDS,
    shape=_cross_entropy_shape("cross_entropy_index", index=True),
)
row(
    "cross_entropy_prob",
    "loss_row",
    2,
    _ce_prob,
    saves="i",
    shape=_cross_entropy_shape("cross_entropy_prob", index=False),
)
row(
    "cross_entropy_index_backward",
    "loss_row",
    3,
    _ce_index_bw,
    saves="io",
    no_grad_inputs=(1,),
    bounds=_CE_BOUNDS,
    shape=_cross_entropy_shape("cross_entropy_index_backward", index=True),
)
row(
    "cross_entropy_prob_backward",
    "loss_row",
    3,
    _ce_prob_bw,
    saves="io",
    shape=_cross_entropy_shape("cross_entropy_prob_backward", index=False),
)


# ---------------------------------------------------------------- shape rules


def _nll_shape(op: str, out_full: bool):
    """nll rows: x (N, C), t int32 (N,), w (C,) [, g (N,)] -> (N,) or (N, C)."""

    def shape(in_shapes, attrs):
        x, t, w = (tuple(s) for s in in_shapes[:3])
        if len(x) != 2:
            raise ValueError(f"{op}: expected a 2-D (N, C) input, got shape {x}")
        if t != x[:1]:
            raise ValueError(f"{op}: target shape {t} does not match {x[:1]} for input {x}")
        if w != x[1:]:
            raise ValueError(f"{op}: weight shape {w}, expected {x[1:]}")
        if len(in_shapes) > 3 and tuple(in_shapes[3]) != x[:1]:
            raise ValueError(f"{op}: grad shape {tuple(in_shapes[3])}, expected {x[:1]}")
        return x if out_full else x[:1]

    return shape


def _gather_shape(in_shapes, attrs):
    t, w = (tuple(s) for s in in_shapes)
    if len(t) != 2 or len(w) != 1:
        raise ValueError(f"nll_loss_weight: expected (M, K) targets and (C,) weights, got {t}, {w}")
    return t


# ---------------------------------------------------------------- backward rules


def _nll_rule(ctx, g):
    x, t, w = ctx.inputs
    return F.call("nll_loss_backward", x, t, w, g, **ctx.attrs), None, None


def _nll_bw_rule(ctx, h):
    # out[n, c] = -w[t_n] g_n [c == t_n]: linear in g, constant in x.
    x, t, w, g = ctx.inputs
    return None, None, None, F.call("nll_loss", h, t, w, **ctx.attrs)


def _bce_rule(ctx, g):
    x, y = ctx.inputs
    gx = F.call("binary_cross_entropy_backward", x, y, g)
    gy = None
    if ctx.needs_input_grad[1]:
        # d/dy = log(1 - x) - log(x), each log clamped at -100 as in the forward.
        gy = F.mul(g, F.sub(_clamped_log(F.sub(1.0, x)), _clamped_log(x)))
    return gx, gy


def _clamped_log(v):
    return F.clamp(F.log(v), min=-100.0)


def _bce_bw_rule(ctx, h):
    # out = g (x - y) / max(x (1 - x), 1e-12); inputs (x, y, g).
    x, y, g = ctx.inputs
    den = F.clamp(F.mul(x, F.sub(1.0, x)), min=1e-12)
    gx = gy = gg = None
    if ctx.needs_input_grad[0]:
        # d/dx (x - y) / (x (1 - x)) = (x (1 - x) - (x - y)(1 - 2x)) / (x (1 - x))^2
        num = F.sub(den, F.mul(F.sub(x, y), F.sub(1.0, F.mul(x, 2.0))))
        gx = F.mul(F.mul(h, g), F.div(num, F.mul(den, den)))
    if ctx.needs_input_grad[1]:
        gy = F.neg(F.div(F.mul(h, g), den))
    if ctx.needs_input_grad[2]:
        gg = F.call("binary_cross_entropy_backward", x, y, h)
    return gx, gy, gg


def _bcel_rule(ctx, g):
    # L = (1 - y) x + l softplus(-x), l = 1 + (pw - 1) y.
    x, y, pw = ctx.inputs
    pwm1 = _minus_one(pw)
    gx = F.mul(g, F.call("binary_cross_entropy_with_logits_backward", x, y, pw))
    gy = gpw = None
    if ctx.needs_input_grad[1] or ctx.needs_input_grad[2]:
        sp = F.call("binary_cross_entropy_with_logits", x, 1.0, 1.0)  # softplus(-x)
        if ctx.needs_input_grad[1]:
            gy = F.mul(g, F.sub(F.mul(pwm1, sp), x))
        if ctx.needs_input_grad[2]:
            gpw = F.mul(g, F.mul(y, sp))
    return gx, gy, gpw


def _minus_one(pw):
    """pos_weight - 1; pos_weight is the Python number 1.0 when not given."""
    return pw - 1.0 if isinstance(pw, float) else F.sub(pw, 1.0)


def _bcel_bw_rule(ctx, h):
    # d = l sigmoid(x) - pw y; inputs (x, y, pw).
    x, y, pw = ctx.inputs
    s = F.sigmoid(x)
    pwm1 = _minus_one(pw)
    lw = F.add(1.0, F.mul(pwm1, y))
    gx = gy = gpw = None
    if ctx.needs_input_grad[0]:
        gx = F.mul(h, F.mul(lw, F.mul(s, F.sub(1.0, s))))
    if ctx.needs_input_grad[1]:
        gy = F.mul(h, F.sub(F.mul(pwm1, s), pw))
    if ctx.needs_input_grad[2]:
        gpw = F.mul(h, F.mul(y, F.sub(s, 1.0)))
    return gx, gy, gpw


def _sl1_rule(ctx, g):
    x, y = ctx.inputs
    gx = F.call("smooth_l1_loss_backward", x, y, g, **ctx.attrs)
    return gx, F.neg(gx)


def _sl1_bw_rule(ctx, h):
    # out = g * (|d| < beta ? d / beta : sign(d)), d = x - y; inputs (x, y, g).
    x, y, g = ctx.inputs
    beta = ctx.attrs["beta"]
    gg = F.call("smooth_l1_loss_backward", x, y, h, **ctx.attrs)
    if beta <= 0:
        return None, None, gg
    inside = F.call("lt", F.abs(F.sub(x, y)), beta)
    gx = F.where(inside, F.div(F.mul(h, g), beta), 0.0)
    return gx, F.neg(gx), gg


_NLL_BOUNDS = class_bounds("nll_loss", 1, skip="ignore_index")
row("nll_loss", "axis", 3, _nll_rule, attrs=("ignore_index",), saves="i",
     no_grad_inputs=(1,), shape=_nll_shape("nll_loss", False), bounds=_NLL_BOUNDS)  # fmt: skip
row("nll_loss_backward", "axis", 4, _nll_bw_rule, attrs=("ignore_index",), saves="i",
     no_grad_inputs=(1,), shape=_nll_shape("nll_loss_backward", True),
     bounds=_NLL_BOUNDS)  # fmt: skip


def _weight_bounds(in_shapes, attrs):
    c = int(attrs["classes"])
    message = f"nll_loss: target class index {{v}} out of range [0, {c})"
    return 0, 0, c, int(attrs["ignore_index"]), message


row("nll_loss_weight", "axis", 2, attrs=("ignore_index", "classes"), no_grad_inputs=(0,),
     shape=_gather_shape, bounds=_weight_bounds)  # fmt: skip
row("binary_cross_entropy", "map", 2, _bce_rule, saves="i")
row("binary_cross_entropy_backward", "map", 3, _bce_bw_rule, saves="i")
row("binary_cross_entropy_with_logits", "map", 3, _bcel_rule, saves="i")
row("binary_cross_entropy_with_logits_backward", "map", 3, _bcel_bw_rule, saves="i")
row("smooth_l1_loss", "map", 2, _sl1_rule, attrs=("beta",), saves="i")
row("smooth_l1_loss_backward", "map", 3, _sl1_bw_rule, attrs=("beta",), saves="i")


# ---------------------------------------------------------------- helpers


def _check_reduction(op: str, reduction: str, extra: tuple = ()) -> None:
    allowed = ("mean", "sum", "none") + extra
    if reduction not in allowed:
        shown = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"{op}: reduction must be one of {shown}, got {reduction!r}")


def legacy_reduction(size_average, reduce, reduction: str) -> str:
    """PyTorch's deprecated ``size_average``/``reduce`` pair as a reduction, as
    ``torch.nn._reduction.legacy_get_string``: ``reduce=False`` gives 'none', else
    ``size_average=False`` 'sum', else 'mean'. With neither given, ``reduction`` holds."""
    if size_average is None and reduce is None:
        return reduction
    if reduce is False:
        return "none"
    return "sum" if size_average is False else "mean"


def _reduce(losses, reduction: str):
    if reduction == "mean":
        return F.mean(losses)
    if reduction == "sum":
        return F.sum(losses)
    return losses


def _tensor(op: str, name: str, x) -> None:
    if not isinstance(x, autograd.Tensor):
        raise TypeError(f"{op}: {name} must be a tensor, got {type(x).__name__}")


def _same_shape(op: str, input, target) -> None:
    _tensor(op, "input", input)
    _tensor(op, "target", target)
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(
            f"{op}: target shape {tuple(target.shape)} must match input shape {tuple(input.shape)}"
        )
    if not target.dtype.is_floating:
        raise TypeError(f"{op}: target must be a floating point tensor, got {target.dtype}")


def _weighted(op: str, losses, weight):
    if weight is None:
        return losses
    _tensor(op, "weight", weight)
    return F.mul(losses, weight)


def _class_last(op: str, input, target):
    """(N, C, d1, ...) input and (N, d1, ...) class targets -> (N*d, C) and (N*d,)."""
    _tensor(op, "input", input)
    _tensor(op, "target", target)
    if target.dtype is not dtypes.int32:
        raise TypeError(f"{op}: class targets must be int32, got {target.dtype}")
    x, t = input, target
    if x.ndim == 1:
        x, t = F.unsqueeze(x, 0), F.reshape(t, (1,) if t.ndim == 0 else tuple(t.shape))
    if x.ndim < 2:
        raise ValueError(f"{op}: expected input of shape (N, C) or (N, C, d1, ...), got {x.shape}")
    want = (x.shape[0],) + tuple(x.shape[2:])
    if tuple(t.shape) != want:
        raise ValueError(
            f"{op}: class-index targets must have shape {want} for input "
            f"{tuple(input.shape)}, got {tuple(target.shape)}"
        )
    if x.ndim > 2:
        x = F.permute(x, [0, *range(2, x.ndim), 1])
        x = F.reshape(x, (-1, input.shape[1]))
        t = F.reshape(t, (-1,))
    return x, t, want


def _weight_vector(op: str, weight, x):
    c = x.shape[1]
    if weight is None:
        return F.call("fill", value=1.0, shape=(c,), dtype=x.dtype, device=x.device)
    _tensor(op, "weight", weight)
    if tuple(weight.shape) != (c,):
        raise ValueError(f"{op}: weight must have shape ({c},), got {tuple(weight.shape)}")
    return F.to_dtype(weight, x.dtype)


# ---------------------------------------------------------------- nll / cross entropy


def _nll_mean(losses, t, w, ig: float):
    """sum(losses) / (sum of the weights of the non-ignored targets), as PyTorch."""
    with no_grad():
        flat = F.reshape(t, (1, t.shape[0]))
        den = F.sum(F.call("nll_loss_weight", flat, w, ignore_index=ig, classes=w.shape[0]))
    return F.div(F.sum(losses), den)


@autocasting.policy
def nll_loss(
    input,
    target,
    weight=None,
    size_average=None,
    ignore_index: int = -100,
    reduce=None,
    reduction: str = "mean",
):
    """Negative log likelihood of class ``target`` under log-probabilities ``input``.

    The weighted mean divides by the sum of the weights of the non-ignored targets.

    >>> F.nll_loss(vkgrad.tensor([[-0.1, -2.3]]), vkgrad.tensor([0], dtype="int32"))
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_reduction("nll_loss", reduction)
    x, t, out_shape = _class_last("nll_loss", input, target)
    w = _weight_vector("nll_loss", weight, x)
    ig = float(ignore_index)
    losses = F.call("nll_loss", x, t, w, ignore_index=ig)
    if reduction == "none":
        return F.reshape(losses, out_shape if input.ndim > 1 else ())
    if reduction == "sum":
        return F.sum(losses)
    return _nll_mean(losses, t, w, ig)


def cross_entropy_options(
    input, target, weight=None, ignore_index: int = -100, reduction="mean", label_smoothing=0.0
):
    """cross_entropy with weight / ignore_index / label_smoothing, or K-dim inputs: composed
    of log_softmax and nll_loss (functional.cross_entropy keeps the fused kernel otherwise)."""
    op = "cross_entropy"
    _check_reduction(op, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")
    _tensor(op, "target", target)
    if target.dtype.is_floating:
        return _ce_probs(input, target, weight, reduction, label_smoothing)
    x, t, out_shape = _class_last(op, input, target)
    w = _weight_vector(op, weight, x)
    ig = float(ignore_index)
    logp = F.log_softmax(x, -1)
    losses = F.call("nll_loss", logp, t, w, ignore_index=ig)
    if label_smoothing > 0:
        c = x.shape[1]
        keep = F.to_dtype(F.compare("ne", t, ig), x.dtype)
        smooth = F.mul(F.neg(F.sum(F.mul(logp, w), -1)), keep)
        losses = F.add(F.mul(losses, 1.0 - label_smoothing), F.mul(smooth, label_smoothing / c))
    if reduction == "none":
        return F.reshape(losses, out_shape if input.ndim > 1 else ())
    if reduction == "sum":
        return F.sum(losses)
    return _nll_mean(losses, t, w, ig)


def _ce_probs(input, target, weight, reduction, label_smoothing):
    op = "cross_entropy"
    _tensor(op, "input", input)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"{op}: probability targets must have the input's shape {tuple(input.shape)}, "
            f"got {tuple(target.shape)}"
        )
    x = input if input.ndim > 1 else F.unsqueeze(input, 0)
    p = F.to_dtype(target if input.ndim > 1 else F.unsqueeze(target, 0), x.dtype)
    c = x.shape[1]
    if label_smoothing > 0:
        p = F.add(F.mul(p, 1.0 - label_smoothing), label_smoothing / c)
    logp = F.log_softmax(x, 1)
    terms = F.mul(p, logp)
    if weight is not None:
        w = _weight_vector(op, weight, x)
        terms = F.mul(terms, F.reshape(w, (1, c) + (1,) * (x.ndim - 2)))
    losses = F.neg(F.sum(terms, 1))
    if input.ndim == 1:
        losses = F.reshape(losses, ())
    return _reduce(losses, reduction)


# ---------------------------------------------------------------- binary cross entropy


@autocasting.policy
def binary_cross_entropy(
    input, target, weight=None, size_average=None, reduce=None, reduction: str = "mean"
):
    """-(y log x + (1 - y) log(1 - x)), each log clamped at -100 (as PyTorch).

    >>> F.binary_cross_entropy(vkgrad.tensor([0.9]), vkgrad.tensor([1.0]))   # tensor(0.1054)
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_reduction("binary_cross_entropy", reduction)
    _same_shape("binary_cross_entropy", input, target)
    losses = F.call("binary_cross_entropy", input, target)
    return _reduce(_weighted("binary_cross_entropy", losses, weight), reduction)


@autocasting.policy
def binary_cross_entropy_with_logits(
    input,
    target,
    weight=None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    pos_weight=None,
):
    """Binary cross entropy of sigmoid(input), computed from the logits without overflow.

    >>> F.binary_cross_entropy_with_logits(vkgrad.tensor([100.0]), vkgrad.tensor([1.0]))
    """
    op = "binary_cross_entropy_with_logits"
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_reduction(op, reduction)
    _same_shape(op, input, target)
    pw = 1.0
    if pos_weight is not None:
        _tensor(op, "pos_weight", pos_weight)
        pw = pos_weight
    losses = F.call(op, input, target, pw)
    return _reduce(_weighted(op, losses, weight), reduction)


# ---------------------------------------------------------------- regression losses


@autocasting.policy
def smooth_l1_loss(
    input, target, size_average=None, reduce=None, reduction: str = "mean", beta: float = 1.0
):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target).

    >>> F.smooth_l1_loss(vkgrad.tensor([0.5, 3.0]), vkgrad.tensor([0.0, 0.0]))   # (0.125+2.5)/2
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_reduction("smooth_l1_loss", reduction)
    _same_shape("smooth_l1_loss", input, target)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    return _reduce(F.call("smooth_l1_loss", input, target, beta=float(beta)), reduction)


@autocasting.policy
def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0):
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta): delta * smooth_l1(beta=delta).

    >>> F.huber_loss(vkgrad.tensor([3.0]), vkgrad.tensor([0.0]))   # tensor(2.5)
    """
    _check_reduction("huber_loss", reduction)
    _same_shape("huber_loss", input, target)
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta}")
    losses = F.mul(F.call("smooth_l1_loss", input, target, beta=float(delta)), float(delta))
    return _reduce(losses, reduction)


@autocasting.policy
def l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean"):
    """|input - target|.

    >>> F.l1_loss(vkgrad.tensor([1.0, -2.0]), vkgrad.tensor([0.0, 0.0]))   # tensor(1.5)
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_reduction("l1_loss", reduction)
    _same_shape("l1_loss", input, target)
    return _reduce(F.abs(F.sub(input, target)), reduction)


@autocasting.policy
def kl_div(
    input, target, size_average=None, reduce=None, reduction: str = "mean", log_target=False
):
    """KL divergence with log-probabilities ``input``: target (log target - input), 0 where
    target = 0; 'batchmean' divides the sum by the batch size (PyTorch's recommended mode).

    >>> F.kl_div(vkgrad.tensor([[-0.7, -0.7]]), vkgrad.tensor([[0.5, 0.5]]), reduction="sum")
    """
    op = "kl_div"
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_reduction(op, reduction, ("batchmean",))
    _same_shape(op, input, target)
    if log_target:
        losses = F.mul(F.exp(target), F.sub(target, input))
    else:
        # xlogy(t, t): log of 1 where t = 0, so that neither the value nor its gradient is NaN.
        pos = F.compare("gt", target, 0.0)
        safe = F.log(F.where(pos, target, 1.0))
        losses = F.mul(target, F.sub(safe, input))
    if reduction == "batchmean":
        n = input.shape[0] if input.ndim else 1
        return F.div(F.sum(losses), float(n))
    return _reduce(losses, reduction)


@autocasting.policy
def cosine_embedding_loss(
    input1, input2, target, margin: float = 0.0, size_average=None, reduce=None,
    reduction: str = "mean",
):  # fmt: skip
    """1 - cos(x1, x2) where target = 1, max(0, cos(x1, x2) - margin) where target = -1.

    >>> F.cosine_embedding_loss(a, b, vkgrad.tensor([1.0, -1.0]))
    """
    op = "cosine_embedding_loss"
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_reduction(op, reduction)
    for name, v in (("input1", input1), ("input2", input2), ("target", target)):
        _tensor(op, name, v)
    if tuple(input1.shape) != tuple(input2.shape) or input1.ndim not in (1, 2):
        raise ValueError(
            f"{op}: expected inputs of one shape (N, D) or (D,), got {tuple(input1.shape)} and "
            f"{tuple(input2.shape)}"
        )
    want = tuple(input1.shape[:-1])
    if tuple(target.shape) != want:
        raise ValueError(f"{op}: target shape {tuple(target.shape)}, expected {want}")
    d = input1.ndim - 1
    eps = 1e-12  # PyTorch's: inside the square root of each squared norm
    dot = F.sum(F.mul(input1, input2), d)
    n1 = F.add(F.sum(F.mul(input1, input1), d), eps)
    n2 = F.add(F.sum(F.mul(input2, input2), d), eps)
    cos = F.div(dot, F.sqrt(F.mul(n1, n2)))
    y = target if target.dtype.is_floating else F.to_dtype(target, cos.dtype)
    pos = F.sub(1.0, cos)
    neg = F.relu(F.sub(cos, float(margin)))
    losses = F.add(
        F.where(F.compare("eq", y, 1.0), pos, 0.0), F.where(F.compare("eq", y, -1.0), neg, 0.0)
    )
    return _reduce(losses, reduction)


def _same_ndim_broadcast(op: str, named: tuple, what: str) -> tuple:
    """Check that the named tensors have one number of dims and broadcast together; return the
    broadcast shape. The error names every shape."""
    for name, v in named:
        _tensor(op, name, v)
    shapes = ", ".join(f"{name} {tuple(v.shape)}" for name, v in named)
    if len({v.ndim for _, v in named}) != 1:
        raise ValueError(f"{op}: {what} must have the same number of dimensions, got {shapes}")
    try:
        return broadcast_shapes(op, *(tuple(v.shape) for _, v in named))
    except ValueError:
        raise ValueError(f"{op}: shapes do not broadcast together: {shapes}") from None


@autocasting.policy
def margin_ranking_loss(
    input1, input2, target, margin: float = 0.0, size_average=None, reduce=None,
    reduction: str = "mean",
):  # fmt: skip
    """max(0, -target (input1 - input2) + margin): target 1 asks input1 to rank above input2
    by ``margin``, -1 below. The three tensors have one number of dims and broadcast.

    >>> F.margin_ranking_loss(vkgrad.tensor([2.0]), vkgrad.tensor([1.0]), vkgrad.tensor([1.0]))
    """
    op = "margin_ranking_loss"
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_reduction(op, reduction)
    named = (("input1", input1), ("input2", input2), ("target", target))
    _same_ndim_broadcast(op, named, "input1, input2 and target")
    d = F.sub(input1, input2)
    y = target if target.dtype.is_floating else F.to_dtype(target, d.dtype)
    # clamp, not relu: PyTorch's clamp_min passes the gradient at exactly 0.
    losses = F.clamp(F.add(F.mul(F.neg(y), d), float(margin)), min=0.0)
    return _reduce(losses, reduction)


@autocasting.policy
def triplet_margin_loss(
    anchor, positive, negative, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6,
    swap: bool = False, size_average=None, reduce=None, reduction: str = "mean",
):  # fmt: skip
    """max(0, d(anchor, positive) - d(anchor, negative) + margin) with d the
    ``pairwise_distance`` (p-norm of the difference + eps over the last dim); ``swap=True``
    uses min(d(a, n), d(p, n)) as the negative distance. Inputs (N, D) or (D,) (any number of
    leading dims, one for all three).

    >>> a = vkgrad.tensor([[0.0, 0.0]])
    >>> F.triplet_margin_loss(a, a + 0.1, a + 3.0)   # tensor(0.)
    """
    op = "triplet_margin_loss"
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_reduction(op, reduction)
    named = (("anchor", anchor), ("positive", positive), ("negative", negative))
    _same_ndim_broadcast(op, named, "anchor, positive and negative")
    if anchor.ndim == 0:
        raise ValueError(f"{op}: expected inputs with at least 1 dimension, got scalars")
    if margin <= 0:
        raise ValueError(f"{op}: margin must be greater than 0, got {margin}")
    d_pos = F.pairwise_distance(anchor, positive, p, eps)
    d_neg = F.pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = F.minimum(d_neg, F.pairwise_distance(positive, negative, p, eps))
    losses = F.clamp(F.add(F.sub(d_pos, d_neg), float(margin)), min=0.0)
    return _reduce(losses, reduction)


# ---------------------------------------------------------------- cross entropy and mse: functions


@autocasting.policy
def cross_entropy(
    input,
    target,
    weight=None,
    size_average=None,
    ignore_index: int | None = None,
    reduce=None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
):
    """Fused, numerically stable cross entropy from logits.

    ``target`` holds class indices (an int32 tensor of shape (N,)) or class probabilities
    (a float tensor of the input's shape (N, C)). With ``weight``, ``ignore_index`` or
    ``label_smoothing`` (and (N, C, d1, ...) inputs) it is composed of log_softmax and nll_loss
    (``library/loss.py``). Without them the fused kernels run, which ignore no target: unlike
    PyTorch, targets of -100 are ignored only when ``ignore_index=-100`` is given (checking
    every call would cost a pass over the targets).
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    if weight is not None or ignore_index is not None or label_smoothing:
        return cross_entropy_options(
            input,
            target,
            weight,
            -100 if ignore_index is None else ignore_index,
            reduction,
            float(label_smoothing),
        )
    _check_reduction("cross_entropy", reduction)
    T = autograd.Tensor
    if not isinstance(target, T):
        raise TypeError("cross_entropy: target must be a tensor")
    x = input
    if x.ndim == 1:
        x = F.unsqueeze(x, 0)
        target = F.unsqueeze(target, 0) if target.dtype.is_floating else F.reshape(target, (1,))
    if x.ndim != 2:
        raise ValueError(
            f"cross_entropy: expected input of shape (N, C) or (C,), got {tuple(input.shape)}"
        )
    if target.dtype.is_floating:
        if tuple(target.shape) != tuple(x.shape):
            raise ValueError(
                f"cross_entropy: probability targets must have the input's shape "
                f"{tuple(x.shape)}, got {tuple(target.shape)}"
            )
        losses = apply("cross_entropy_prob", x, F.to_dtype(target, x.dtype))
    else:
        if target.dtype is not dtypes.int32:
            raise TypeError(f"cross_entropy: class targets must be int32, got {target.dtype}")
        if tuple(target.shape) != (x.shape[0],):
            raise ValueError(
                f"cross_entropy: class-index targets must have shape ({x.shape[0]},) for input "
                f"{tuple(x.shape)}, got {tuple(target.shape)}"
            )
        losses = apply("cross_entropy_index", x, target)
    return _reduce(losses, reduction)


@autocasting.policy
def mse_loss(input, target, size_average=None, reduce=None, reduction: str = "mean"):
    """(input - target)^2.

    >>> F.mse_loss(vkgrad.tensor([1.0, -2.0]), vkgrad.tensor([0.0, 0.0]))   # tensor(2.5)
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_reduction("mse_loss", reduction)
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(
            f"mse_loss: input shape {tuple(input.shape)} and target shape "
            f"{tuple(target.shape)} differ"
        )
    d = F.sub(input, target)
    return _reduce(F.mul(d, d), reduction)
