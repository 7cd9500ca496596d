"""Reductions beyond sum/mean/max: prod, min, amax/amin, argmax/argmin, var/std, norm,
logsumexp, cumsum/cumprod, all/any; and normalize, cosine_similarity, pairwise_distance.

The family's rows (added to ``ops.OPS``), their backward rules and the public functions.
Reductions run on ``(M, K)`` rows: the functions below move the reduced dims last, as core
``sum``/``max`` do, and scans (cumsum, cumprod) move their one dim last.
"""

from __future__ import annotations

import builtins
import math
from collections import namedtuple

import numpy as np

from .. import autocasting, autograd, dtypes
from .. import functional as F
from ..autograd import no_grad
from ..ops import row
from ..shapes import broadcast_shapes, normalize_dim, numel

# The family's reductions: ``vkgrad.<name>``, ``vkgrad.functional.<name>`` and Tensor methods.
_REDUCTIONS = [
    "prod",
    "min",
    "amax",
    "amin",
    "argmax",
    "argmin",
    "var",
    "std",
    "logsumexp",
    "norm",
    "cumsum",
    "cumprod",
    "all",
    "any",
]
__all__: list[str] = list(_REDUCTIONS)
# Names exported by ``vkgrad.nn.functional``.
NN_FUNCTIONAL: list[str] = ["normalize", "cosine_similarity", "pairwise_distance"]
# The core functions of the family, public as well.
__all__ += ["sum", "mean", "max"]
# Exported by ``vkgrad.functional`` only: helpers other families and layers use.
FUNCTIONAL: list[str] = ["MaxResult", "arange_like"]


# ---------------------------------------------------------------- sum and max


def _last_axis_reduced(op: str):
    """Shape rule of the ``reduce`` rows: ``(..., K) -> (...)``, the last axis reduced."""

    def shape(in_shapes, attrs):
        x = in_shapes[0]
        if len(x) < 1:
            raise ValueError(f"{op}: cannot reduce the last axis of a 0-d tensor")
        return tuple(x[:-1])

    return shape


def _sum(ctx, g):
    (x,) = ctx.inputs
    return (F.expand(F.unsqueeze(g, -1), x.shape),)


def _max(ctx, g):
    # The gradient goes to every maximal element of the row, split evenly (PyTorch's rule
    # for max over all elements; for max(dim) PyTorch picks one index, see docs/porting).
    (x,) = ctx.inputs
    y = F.unsqueeze(ctx.out, -1)
    hit = F.to_dtype(F.call("eq", x, y), x.dtype)
    share = F.div(hit, F.unsqueeze(F.call("sum", hit), -1))
    return (F.mul(share, F.unsqueeze(g, -1)),)


row("sum", "reduce", 1, _sum, saves="i", shape=_last_axis_reduced("sum"))
row("max", "reduce", 1, _max, saves="io", shape=_last_axis_reduced("max"))


# ---------------------------------------------------------------- shape rules


def _rows_to_vector(op: str):
    """(M, K) -> (M,): the shape rule of an ``axis`` reduction."""

    def shape(in_shapes, attrs):
        x = tuple(in_shapes[0])
        if len(x) != 2:
            raise ValueError(f"{op}: expected a 2-D (rows, cols) input, got shape {x}")
        return x[:1]

    return shape


def _rows_same(op: str, n_full: int = 1):
    """(M, K) inputs (the first ``n_full``) and (M,) per-row inputs -> (M, K)."""

    def shape(in_shapes, attrs):
        x = tuple(in_shapes[0])
        if len(x) != 2:
            raise ValueError(f"{op}: expected a 2-D (rows, cols) input, got shape {x}")
        for i, s in enumerate(in_shapes[1:], 1):
            want = x if i < n_full else x[:1]
            if tuple(s) != want:
                raise ValueError(f"{op}: input {i} has shape {tuple(s)}, expected {want}")
        return x

    return shape


# ---------------------------------------------------------------- backward rules


def _prod_rule(ctx, g):
    # d/dx_k prod(x) = prod_{j != k} x_j = (product left of k) * (product right of k): exact
    # with zeros in the row, where dividing the product by x_k is not.
    (x,) = ctx.inputs
    left = F.call("cumprod", x, reverse=0, exclusive=1)
    right = F.call("cumprod", x, reverse=1, exclusive=1)
    return (F.mul(F.mul(left, right), F.unsqueeze(g, -1)),)


def _cumsum_rule(ctx, g):
    a = ctx.attrs
    return (F.call("cumsum", g, reverse=1 - a["reverse"], exclusive=a["exclusive"]),)


def _cumprod_rule(ctx, g):
    # gx_k = (product of the elements before k in scan order) * R_k, where R is a linear
    # recurrence over g run the other way (cumprod_grad): no division by x.
    (x,) = ctx.inputs
    r, e = ctx.attrs["reverse"], ctx.attrs["exclusive"]
    before = F.call("cumprod", x, reverse=r, exclusive=1)
    return (F.mul(before, F.call("cumprod_grad", x, g, reverse=r, exclusive=e)),)


def _cumprod_grad_rule(ctx, h):
    # R = M(x) g with M_ik = prod of x strictly between i and k, k included when inclusive
    # (k at or after i in scan order; after i when exclusive). With
    # S = cumprod_grad(x, h) run the other way, exclusive (S_k = sum over i before k of h_i
    # times the product of x strictly between i and k):
    #   d/dg: M^T h = S (exclusive), h + x * S (inclusive: the x_k factor and the i = k term);
    #   d/dx_j: dR_i/dx_j = (prod of x strictly between i and j) R_j for i before j, so the
    #   gradient is R * S in both cases. Only products: exact with zeros in x.
    x, g = ctx.inputs
    r, e = ctx.attrs["reverse"], ctx.attrs["exclusive"]
    s = F.call("cumprod_grad", x, h, reverse=1 - r, exclusive=1)
    gx = F.mul(ctx.out, s) if ctx.needs_input_grad[0] else None
    gg = None
    if ctx.needs_input_grad[1]:
        gg = s if e else F.add(h, F.mul(x, s))
    return gx, gg


def _var_rule(ctx, g):
    (x,) = ctx.inputs
    return (F.call("var_backward", x, g, **ctx.attrs),)


def _var_bw_rule(ctx, h):
    # out = (x - mean(x)) * 2 g / (K - c): linear in x for a fixed g.
    x, g = ctx.inputs
    gx = F.call("var_backward", h, g, **ctx.attrs)
    gg = None
    if ctx.needs_input_grad[1]:
        ones = F.full_like(g, 1.0)
        gg = F.call("sum", F.mul(h, F.call("var_backward", x, ones, **ctx.attrs)))
    return gx, gg


def _logsumexp_rule(ctx, g):
    (x,) = ctx.inputs
    return (F.mul(F.call("softmax", x), F.unsqueeze(g, -1)),)


def _norm_rule(ctx, g):
    (x,) = ctx.inputs
    p = ctx.attrs["p"]
    y = F.unsqueeze(ctx.out, -1)
    g1 = F.unsqueeze(g, -1)
    if p == 0:
        return (F.mul(F.zeros_like(x), g1),)
    if math.isinf(p):
        # As amax/amin: the gradient is split evenly between the elements that reach the norm.
        hit = F.to_dtype(F.call("eq", F.abs(x), y), x.dtype)
        share = F.div(hit, F.unsqueeze(F.call("sum", hit), -1))
        return (F.mul(F.mul(share, F.call("sign", x)), g1),)
    return (F.call("norm_backward", x, y, g1, p=p),)


def _norm_bw_rule(ctx, h):
    # out = g sign(x) (|x| / y)^(p - 1), zero where x = 0 or y = 0.
    x, y, g = ctx.inputs
    p = ctx.attrs["p"]
    out = F.call("norm_backward", x, y, g, p=p)
    gx = gy = gg = None
    if ctx.needs_input_grad[0] and p != 1:
        # d/dx = g (p - 1) (|x| / y)^(p - 2) / y
        if p == 2:
            d = F.div(g, y)
        else:
            r = F.div(F.abs(x), y)
            d = F.mul(F.div(g, y), F.mul(F.pow(r, p - 2.0), p - 1.0))
        gx = F.mul(h, F.where(F.call("eq", x, 0.0), 0.0, d))
    if ctx.needs_input_grad[1]:
        gy = F.mul(F.mul(h, out), F.div(1.0 - p, y))
    if ctx.needs_input_grad[2]:
        gg = F.mul(h, F.call("norm_backward", x, y, 1.0, p=p))
    return gx, gy, gg


_SCAN = ("reverse", "exclusive")

row("prod", "reduce", 1, _prod_rule, saves="i", shape=_last_axis_reduced("prod"))
row(
    "min", "reduce", 1, _max, saves="io", shape=_last_axis_reduced("min")
)  # core max's rule: shared between tied minima
row("argmax", "axis", 1, out_dtype="int32", shape=_rows_to_vector("argmax"))
row("argmin", "axis", 1, out_dtype="int32", shape=_rows_to_vector("argmin"))
row("var", "axis", 1, _var_rule, attrs=("correction",), saves="i", shape=_rows_to_vector("var"))
row(
    "var_backward",
    "axis",
    2,
    _var_bw_rule,
    attrs=("correction",),
    saves="i",
    shape=_rows_same("var_backward"),
)
row("logsumexp", "axis", 1, _logsumexp_rule, saves="i", shape=_rows_to_vector("logsumexp"))
row("norm", "axis", 1, _norm_rule, attrs=("p",), saves="io", shape=_rows_to_vector("norm"))
row("norm_backward", "map", 3, _norm_bw_rule, attrs=("p",), saves="i")
row("cumsum", "axis", 1, _cumsum_rule, attrs=_SCAN, shape=_rows_same("cumsum"))
row(
    "cumprod",
    "axis",
    1,
    _cumprod_rule,
    attrs=_SCAN,
    saves="i",
    shape=_rows_same("cumprod"),
)
row(
    "cumprod_grad",
    "axis",
    2,
    _cumprod_grad_rule,
    attrs=_SCAN,
    saves="io",
    shape=_rows_same("cumprod_grad", 2),
)
row("all", "axis", 1, out_dtype="bool", shape=_rows_to_vector("all"))
row("any", "axis", 1, out_dtype="bool", shape=_rows_to_vector("any"))


# ---------------------------------------------------------------- helpers


def _check_tensor(op: str, x) -> None:
    if not isinstance(x, autograd.Tensor):
        raise TypeError(f"{op}: expected a tensor, got {type(x).__name__}")


def _over_dims(op: str, kernel: str, x, dim, keepdim: bool, **attrs):
    """Run the ``(M, K) -> (M,)`` kernel over ``dim`` (int, tuple or None = all) of x."""
    dims = _reduce_dims(op, x, dim)
    if x.ndim == 0:
        out = F.call(kernel, F.reshape(x, (1, 1)), **attrs)
        return F.reshape(out, ())
    keep = [d for d in range(x.ndim) if d not in dims]
    kept_shape = tuple(x.shape[d] for d in keep)
    k = numel(tuple(x.shape[d] for d in dims))
    if kernel == "sum" and dims[0] == len(keep):
        # The sum row reduces the last axis of any shape, and its rule expands back over any:
        # trailing dims need no permute, and a single one no reshape either (a loss's mean).
        out = F.call(kernel, x if len(dims) == 1 else F.reshape(x, kept_shape + (k,)), **attrs)
    else:
        xp = F.permute(x, keep + dims)
        out = F.reshape(F.call(kernel, F.reshape(xp, (numel(kept_shape), k)), **attrs), kept_shape)
    if keepdim:
        return F.reshape(out, tuple(1 if d in dims else s for d, s in enumerate(x.shape)))
    return out


def _nonempty(op: str, x, dim) -> None:
    dims = _reduce_dims(op, x, dim)
    if x.ndim and numel(tuple(x.shape[d] for d in dims)) == 0:
        raise RuntimeError(f"{op}: cannot reduce an empty dimension (shape {tuple(x.shape)})")


def along(op: str, kernel: str, x, dim: int, **attrs):
    """Run the ``(M, K) -> (M, K)`` kernel along one dim of x (also softmax's, in norm)."""
    if x.ndim == 0:
        normalize_dim(op, dim, 0)
        return F.reshape(F.call(kernel, F.reshape(x, (1, 1)), **attrs), ())
    d = normalize_dim(op, dim, x.ndim)
    order = [i for i in range(x.ndim) if i != d] + [d]
    xp = F.permute(x, order)
    shape = tuple(xp.shape)
    out = F.reshape(F.call(kernel, F.reshape(xp, (numel(shape[:-1]), shape[-1])), **attrs), shape)
    inverse = [0] * len(order)
    for i, o in enumerate(order):
        inverse[o] = i
    return F.permute(out, inverse)


def _floating(op: str, x, dtype=None):
    if dtype is not None:
        return F.to_dtype(x, dtype)
    if not x.dtype.is_floating:
        return F.to_dtype(x, dtypes.float32)
    return x


def _need_float(op: str, x) -> None:
    if not x.dtype.is_floating:
        raise TypeError(f"{op}: expected a floating point tensor, got {x.dtype}")


# ---------------------------------------------------------------- public functions


@autocasting.policy
def prod(input, dim=None, keepdim: bool = False, dtype=None):
    """Product of the elements over ``dim`` (all when None); gradients are exact with zeros.

    >>> vkgrad.prod(vkgrad.tensor([[1.0, 2.0], [3.0, 4.0]]), dim=1)   # tensor([2., 12.])
    """
    _check_tensor("prod", input)
    return _over_dims("prod", "prod", _floating("prod", input, dtype), dim, keepdim)


MinResult = namedtuple("min", "values indices")


def min(input, dim=None, keepdim: bool = False):
    """``min(x)``: the smallest value; ``min(x, dim)``: (values, indices) along dim.

    >>> vkgrad.min(vkgrad.tensor([[3.0, 1.0], [0.0, 2.0]]), dim=1).indices   # tensor([1, 0])
    """
    _check_tensor("min", input)
    _nonempty("min", input, dim)
    x = _floating("min", input)
    if dim is None:
        return _over_dims("min", "min", x, None, False)
    if not isinstance(dim, int):
        raise TypeError(f"min: dim must be an int, got {type(dim).__name__}")
    values = _over_dims("min", "min", x, dim, keepdim)
    return MinResult(values, argmin(input, dim, keepdim))


def amax(input, dim=(), keepdim: bool = False):
    """Largest values over ``dim`` (all dims when empty); ties share the gradient evenly.

    >>> vkgrad.amax(vkgrad.tensor([[1.0, 5.0], [7.0, 2.0]]), dim=0)   # tensor([7., 5.])
    """
    _check_tensor("amax", input)
    dim = None if dim == () else dim
    _nonempty("amax", input, dim)
    return _over_dims("amax", "max", _floating("amax", input), dim, keepdim)


def amin(input, dim=(), keepdim: bool = False):
    """Smallest values over ``dim`` (all dims when empty); ties share the gradient evenly.

    >>> vkgrad.amin(vkgrad.tensor([[1.0, 5.0], [7.0, 2.0]]), dim=1)   # tensor([1., 2.])
    """
    _check_tensor("amin", input)
    dim = None if dim == () else dim
    _nonempty("amin", input, dim)
    return _over_dims("amin", "min", _floating("amin", input), dim, keepdim)


def _arg(op: str, input, dim, keepdim: bool):
    _check_tensor(op, input)
    x = _floating(op, input)
    if dim is None:
        if x.numel() == 0:
            raise RuntimeError(f"{op}: cannot reduce an empty tensor")
        out = F.call(op, F.reshape(x, (1, x.numel())))
        return F.reshape(out, (1,) * x.ndim if keepdim else ())
    if not isinstance(dim, int):
        raise TypeError(f"{op}: dim must be an int or None, got {type(dim).__name__}")
    _nonempty(op, x, dim)
    return _over_dims(op, op, x, dim, keepdim)


def argmax(input, dim=None, keepdim: bool = False):
    """Index (int32) of the largest value along ``dim``; the first on ties, NaN counts as max.

    >>> vkgrad.argmax(vkgrad.tensor([[1.0, 3.0, 3.0]]), dim=1)   # tensor([1], dtype=int32)
    """
    return _arg("argmax", input, dim, keepdim)


def argmin(input, dim=None, keepdim: bool = False):
    """Index (int32) of the smallest value along ``dim``; the first on ties, NaN counts as min.

    >>> vkgrad.argmin(vkgrad.tensor([2.0, 0.5, 0.5]))   # tensor(1, dtype=int32)
    """
    return _arg("argmin", input, dim, keepdim)


def _correction(op: str, dim, unbiased, correction):
    if isinstance(dim, bool):  # var(x, True): the legacy unbiased flag in dim's place
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise TypeError(f"{op}: give either unbiased or correction, not both")
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    return dim, float(correction)


@autocasting.policy
def var(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """Variance over ``dim`` with ``correction`` (default 1, Bessel's); two-pass, stable.

    >>> vkgrad.var(vkgrad.tensor([1.0, 2.0, 3.0, 4.0]))   # tensor(1.6667)
    """
    _check_tensor("var", input)
    _need_float("var", input)
    dim, c = _correction("var", dim, unbiased, correction)
    return _over_dims("var", "var", input, dim, keepdim, correction=c)


@autocasting.policy
def std(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """Standard deviation over ``dim`` with ``correction`` (default 1).

    >>> vkgrad.std(vkgrad.tensor([[1.0, 3.0]]), dim=1)   # tensor([1.4142])
    """
    _check_tensor("std", input)
    _need_float("std", input)
    dim, c = _correction("std", dim, unbiased, correction)
    return F.sqrt(_over_dims("std", "var", input, dim, keepdim, correction=c))


@autocasting.policy
def logsumexp(input, dim=None, keepdim: bool = False):
    """log(sum(exp(x))) over ``dim``, computed stably (max subtracted first).

    >>> vkgrad.logsumexp(vkgrad.tensor([[1000.0, 1000.0]]), dim=1)   # tensor([1000.6931])
    """
    _check_tensor("logsumexp", input)
    return _over_dims("logsumexp", "logsumexp", _floating("logsumexp", input), dim, keepdim)


@autocasting.policy
def norm(input, p="fro", dim=None, keepdim: bool = False, dtype=None):
    """Vector p-norm over ``dim`` (all elements when None): p > 0, 0, inf, -inf or 'fro'.

    >>> vkgrad.norm(vkgrad.tensor([[3.0, 4.0]]), dim=1)   # tensor([5.])
    """
    _check_tensor("norm", input)
    if p == "fro" or p is None:
        p = 2.0
    if isinstance(p, str):
        raise ValueError(f"norm: p must be a number or 'fro', got {p!r} ('nuc' is not supported)")
    p = float(p)
    if p < 0 and not math.isinf(p):
        raise ValueError(f"norm: p must be >= 0, inf or -inf, got {p}")
    x = _floating("norm", input, dtype)
    if p == -math.inf:
        _nonempty("norm", x, dim)
    return _over_dims("norm", "norm", x, dim, keepdim, p=p)


@autocasting.policy
def cumsum(input, dim: int, *, dtype=None):
    """Cumulative sum along ``dim``.

    >>> vkgrad.cumsum(vkgrad.tensor([1.0, 2.0, 3.0]), 0)   # tensor([1., 3., 6.])
    """
    _check_tensor("cumsum", input)
    x = _floating("cumsum", input, dtype)
    return along("cumsum", "cumsum", x, dim, reverse=0, exclusive=0)


@autocasting.policy
def cumprod(input, dim: int, *, dtype=None):
    """Cumulative product along ``dim``; its gradient is exact with zeros in the input.

    >>> vkgrad.cumprod(vkgrad.tensor([1.0, 2.0, 3.0]), 0)   # tensor([1., 2., 6.])
    """
    _check_tensor("cumprod", input)
    x = _floating("cumprod", input, dtype)
    return along("cumprod", "cumprod", x, dim, reverse=0, exclusive=0)


def _bool_reduce(op: str, input, dim, keepdim: bool):
    _check_tensor(op, input)
    x = input if input.dtype is dtypes.bool_ else F.compare("ne", input, 0.0)
    return _over_dims(op, op, x, dim, keepdim)


def all(input, dim=None, keepdim: bool = False):
    """True where every element over ``dim`` is nonzero (bool output, no gradient).

    >>> vkgrad.all(vkgrad.tensor([[1.0, 0.0], [2.0, 3.0]]), dim=1)   # tensor([False, True])
    """
    return _bool_reduce("all", input, dim, keepdim)


def any(input, dim=None, keepdim: bool = False):
    """True where some element over ``dim`` is nonzero (bool output, no gradient).

    >>> vkgrad.any(vkgrad.tensor([[0.0, 0.0], [0.0, 3.0]]), dim=1)   # tensor([False, True])
    """
    return _bool_reduce("any", input, dim, keepdim)


# ---------------------------------------------------------------- nn.functional


@autocasting.policy
def normalize(input, p: float = 2.0, dim: int = 1, eps: float = 1e-12):
    """``x / max(||x||_p, eps)`` along ``dim``.

    >>> F.normalize(vkgrad.tensor([[3.0, 4.0]]), dim=1)   # tensor([[0.6, 0.8]])
    """
    _check_tensor("normalize", input)
    n = norm(input, p, dim, keepdim=True)
    return F.div(input, F.clamp(n, min=eps))


@autocasting.policy
def cosine_similarity(x1, x2, dim: int = 1, eps: float = 1e-8):
    """``sum(x1 x2) / (max(||x1||, eps) max(||x2||, eps))`` along ``dim`` (broadcasting).

    >>> F.cosine_similarity(vkgrad.tensor([[1.0, 0.0]]), vkgrad.tensor([[1.0, 1.0]]))
    """
    _check_tensor("cosine_similarity", x1)
    _check_tensor("cosine_similarity", x2)
    shape = broadcast_shapes("cosine_similarity", tuple(x1.shape), tuple(x2.shape))
    normalize_dim("cosine_similarity", dim, builtins.max(len(shape), 1))
    if tuple(x1.shape) != shape:
        x1 = F.expand(x1, shape)
    if tuple(x2.shape) != shape:
        x2 = F.expand(x2, shape)
    # Each norm clamped separately, as PyTorch does since 1.12.
    n1 = F.clamp(norm(x1, 2.0, dim), min=eps)
    n2 = F.clamp(norm(x2, 2.0, dim), min=eps)
    return F.div(F.sum(F.mul(x1, x2), dim), F.mul(n1, n2))


def pairwise_distance(x1, x2, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
    """``||x1 - x2 + eps||_p`` over the last dim.

    >>> F.pairwise_distance(vkgrad.tensor([[0.0, 0.0]]), vkgrad.tensor([[3.0, 4.0]]))
    """
    _check_tensor("pairwise_distance", x1)
    _check_tensor("pairwise_distance", x2)
    d = F.add(F.sub(x1, x2), eps)
    if d.ndim == 0:
        raise ValueError("pairwise_distance: expected inputs with at least 1 dimension")
    return norm(d, p, -1, keepdim)


# Tensor methods: {method name: function(self, ...)}.
TENSOR_METHODS: dict = {name: globals()[name] for name in _REDUCTIONS}


# ---------------------------------------------------------------- sum, mean and max: functions


def _reduce_dims(op: str, x, dim) -> list:
    if dim is None:
        return list(range(x.ndim))
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    out = sorted({normalize_dim(op, d, x.ndim) for d in dims})
    if len(out) != len(dims):
        raise RuntimeError(f"{op}: dim {tuple(dims)} appears multiple times")
    return out


@autocasting.policy
def sum(x, dim=None, keepdim: bool = False, dtype=None):
    if dtype is not None:
        x = F.to_dtype(x, dtype)
    elif not x.dtype.is_floating:
        # int32 (PyTorch: int64), summed in f32: exact up to 2^24.
        out = _sum_dims(F.to_dtype(x, dtypes.float32), dim, keepdim)
        return F.to_dtype(out, dtypes.int32)
    return _sum_dims(x, dim, keepdim)


def _sum_dims(x, dim, keepdim: bool):
    """The sum over ``dim``. When the reduced dims end with a trailing block and others come
    before it, the block is summed first, where it lies in memory: a sum over (N, H, W) of an
    (N, C, H, W) tensor (a conv bias gradient) then permutes an (N, C) array, not the whole
    tensor. f16 sums stay in one pass: its partial sums would be rounded to f16."""
    dims = _reduce_dims("sum", x, dim)
    t = x.ndim
    while t - 1 in dims:
        t -= 1
    if t == x.ndim or len(dims) == x.ndim - t or x.dtype is dtypes.float16:
        return _over_dims("sum", "sum", x, dims, keepdim)
    inner = _over_dims("sum", "sum", x, list(range(t, x.ndim)), False)
    out = _over_dims("sum", "sum", inner, [d for d in dims if d < t], False)
    if keepdim:
        return F.reshape(out, tuple(1 if d in dims else s for d, s in enumerate(x.shape)))
    return out


@autocasting.policy
def mean(x, dim=None, keepdim: bool = False):
    if not x.dtype.is_floating:
        raise TypeError(f"mean: expected a floating point tensor, got {x.dtype}")
    dims = _reduce_dims("mean", x, dim)
    n = numel(tuple(x.shape[d] for d in dims))
    return F.div(sum(x, dims, keepdim), float(n) if n else float("nan"))


MaxResult = namedtuple("max", "values indices")


def max(x, dim=None, keepdim: bool = False):
    """``max(x)``: the largest value; ``max(x, dim)``: (values, indices) along dim."""
    _nonempty("max", x, dim)
    if dim is None:
        return _over_dims("max", "max", x, None, False)
    values = _over_dims("max", "max", x, dim, True)
    d = normalize_dim("max", dim, x.ndim)
    indices = _first_index_of(x, values, d)
    if not keepdim:
        values, indices = F.squeeze(values, d), F.squeeze(indices, d)
    return MaxResult(values, indices)


def _first_index_of(x, values, d: int):
    """The first index along dim d where x equals values (broadcast), as int32."""
    with no_grad():
        n = x.shape[d]
        shape = [1] * x.ndim
        shape[d] = n
        idx = F.reshape(arange_like(x, n), tuple(shape))
        cand = F.where(F.compare("eq", x, values), idx, float(n))
        first = F.neg(_over_dims("max", "max", F.neg(cand), d, True))
        return F.to_dtype(first, dtypes.int32)


def arange_like(x, n: int):
    dtype = x.dtype if x.dtype.is_floating else dtypes.float32
    return autograd.tensor(np.arange(n, dtype=np.float64), dtype=dtype, device=x.device)
