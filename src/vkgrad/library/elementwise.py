"""Elementwise math and activations beyond the core: trigonometry, log1p/expm1, rounding,
leaky_relu/elu/selu/softplus/hardswish/mish/..., clamp with tensor bounds, lerp/addcmul/addcdiv.

The family's rows (added to ``ops.OPS``), their backward rules and the public functions.

Backward rules are either composed of other map ops (at most two kernels per gradient) or a
dedicated ``<op>_backward`` kernel whose own rule is written with ops, so that double backward
works everywhere.
"""

from __future__ import annotations

import builtins
import math
from typing import TYPE_CHECKING, Callable

import numpy as np

from .. import autocasting, autograd, dtypes, ops
from .. import functional as F
from ..autograd import apply
from ..ops import row
from .rules import kernel_rule, second_derivative_rule, unary_rule

if TYPE_CHECKING:
    from ..tensor import Tensor

# ---------------------------------------------------------------- arithmetic and casts


def _add(ctx, g):
    return g, g


def _sub(ctx, g):
    return g, F.neg(g) if ctx.needs_input_grad[1] else None


def _mul(ctx, g):
    # A product with a constant (a mask, a loss weighting) needs one gradient, not two.
    a, b = ctx.inputs
    need_a, need_b = ctx.needs_input_grad
    return F.mul(g, b) if need_a else None, F.mul(g, a) if need_b else None


def _div(ctx, g):
    a, b = ctx.inputs
    ga = F.div(g, b)
    if not ctx.needs_input_grad[1]:
        return ga, None
    return ga, F.neg(F.mul(ga, F.div(a, b)))


def _pow(ctx, g):
    a, b = ctx.inputs
    # d/da a^b = b a^(b-1); d/db a^b = a^b log a (only where a > 0, as in PyTorch for a >= 0).
    if isinstance(b, float):
        return F.mul(g, F.mul(F.pow(a, b - 1.0), b)) if b != 1.0 else g, None
    if isinstance(a, float):
        return None, F.mul(g, F.mul(ctx.out, math.log(a) if a > 0 else 0.0))
    ga = F.mul(g, F.mul(b, F.pow(a, F.sub(b, 1.0))))
    gb = None
    if ctx.needs_input_grad[1]:
        gb = F.mul(g, F.mul(ctx.out, F.log(F.where(F.call("gt", a, 0.0), a, 1.0))))
    return ga, gb


def _tie_split(ctx, g, pick: str):
    """Gradient of maximum/minimum: to the winner, split evenly on ties (as PyTorch)."""
    a, b = ctx.inputs
    wins_a = F.add(F.call(pick, a, b), F.mul(F.call("eq", a, b), 0.5))
    wins_b = F.sub(1.0, wins_a)
    return F.mul(g, wins_a), F.mul(g, wins_b)


def _where(ctx, g):
    cond = ctx.inputs[0]
    return None, F.where(cond, g, 0.0), F.where(cond, 0.0, g)


def _relu_bw(ctx, h):
    x, g = ctx.inputs
    return None, F.call("relu_backward", x, h)


def _sigmoid_bw(ctx, h):
    # out = g y (1 - y); inputs (y, g)
    y, g = ctx.inputs
    return F.mul(F.mul(h, g), F.sub(1.0, F.mul(y, 2.0))), F.call("sigmoid_backward", y, h)


def _tanh_bw(ctx, h):
    # out = g (1 - y^2); inputs (y, g)
    y, g = ctx.inputs
    return F.mul(F.mul(h, g), F.mul(y, -2.0)), F.call("tanh_backward", y, h)


def _clamp_bw(ctx, h):
    x, g = ctx.inputs
    return None, F.call("clamp_backward", x, h, **ctx.attrs)


row("add", "map", 2, _add, out_dtype="keep")
row("sub", "map", 2, _sub, out_dtype="keep", refuses=("bool",),
     hint="use ^ or logical_xor() for bool tensors")  # fmt: skip
row("mul", "map", 2, _mul, saves="i", out_dtype="keep")
row("div", "map", 2, _div, saves="i")
row("pow", "map", 2, _pow, saves="io")
row("maximum", "map", 2, lambda c, g: _tie_split(c, g, "gt"), saves="i", out_dtype="keep")
row("minimum", "map", 2, lambda c, g: _tie_split(c, g, "lt"), saves="i", out_dtype="keep")
row("where", "map", 3, _where, saves="i", no_grad_inputs=(0,), out_dtype="keep")
row("neg", "map", 1, lambda c, g: (F.neg(g),), out_dtype="keep", refuses=("bool",),
     hint="use ~ or logical_not() to invert a mask")  # fmt: skip
row("exp", "map", 1, unary_rule(lambda c: c.out), saves="o")
row("log", "map", 1, lambda c, g: (F.div(g, c.inputs[0]),), saves="i")
row("sqrt", "map", 1, lambda c, g: (F.div(g, F.mul(c.out, 2.0)),), saves="o")
row("abs", "map", 1, unary_rule(lambda c: F.call("sign", c.inputs[0])), saves="i", out_dtype="keep")
row("sign", "map", 1, out_dtype="input0")
row("relu", "map", 1, kernel_rule("relu_backward"), saves="i")
row("relu_backward", "map", 2, _relu_bw, saves="i")
row("sigmoid", "map", 1, kernel_rule("sigmoid_backward", use_out=True), saves="o")
row("sigmoid_backward", "map", 2, _sigmoid_bw, saves="i")
row("tanh", "map", 1, kernel_rule("tanh_backward", use_out=True), saves="o")
row("tanh_backward", "map", 2, _tanh_bw, saves="i")
# approximate: 0 = exact (erf), 1 = tanh approximation
row("gelu", "map", 1, kernel_rule("gelu_backward"), attrs=("approximate",), saves="i")
row(
    "gelu_backward",
    "map",
    2,
    second_derivative_rule("gelu_grad2"),
    attrs=("approximate",),
    saves="i",
)
row("gelu_grad2", "map", 1, attrs=("approximate",))
row("silu", "map", 1, kernel_rule("silu_backward"), saves="i")
row("silu_backward", "map", 2, second_derivative_rule("silu_grad2"), saves="i")
row("silu_grad2", "map", 1)
# has_min/has_max: 0 or 1; an absent bound is ignored.
_CLAMP = ("min", "max", "has_min", "has_max")
row("clamp", "map", 1, kernel_rule("clamp_backward"), attrs=_CLAMP, saves="i")
row("clamp_backward", "map", 2, _clamp_bw, attrs=_CLAMP, saves="i")
for _cmp in ("eq", "ne", "lt", "le", "gt", "ge"):
    row(_cmp, "map", 2, out_dtype="bool")
row("fill", "map", 0, attrs=("value",), out_dtype="input0")
# Casts and copies: the output dtype is the attribute's.
# Backward needs only the input's dtype (from the node's input metadata), not its values: a
# saved input would make every in-place op on a non-leaf fail its version check.
row("copy", "map", 1, lambda c, g: (F.to_dtype(g, c._input_meta[0][1]),))


# ---------------------------------------------------------------- backward rules


def _x(ctx):
    return ctx.inputs[0]


def _cos_bw(ctx, h):
    # out = -g sin(x); inputs (x, g)
    x, g = ctx.inputs
    return F.neg(F.mul(F.mul(h, g), F.call("cos", x))), F.call("cos_backward", x, h)


def _tan_bw(ctx, h):
    # out = g (1 + y^2); inputs (y, g)
    y, g = ctx.inputs
    return F.mul(F.mul(h, g), F.mul(y, 2.0)), F.call("tan_backward", y, h)


def _atan_bw(ctx, h):
    # out = g / (1 + x^2); d/dx = -2 x g / (1 + x^2)^2: the kernel applied twice, times -2x.
    x, g = ctx.inputs
    twice = F.call("atan_backward", x, F.call("atan_backward", x, F.mul(h, g)))
    return F.mul(twice, F.mul(x, -2.0)), F.call("atan_backward", x, h)


def _asin_bw(ctx, h):
    # out = g (1 - x^2)^(-1/2); d/dx = x g (1 - x^2)^(-3/2): the kernel applied three times.
    x, g = ctx.inputs
    hg = F.mul(h, g)
    for _ in range(3):
        hg = F.call("asin_backward", x, hg)
    return F.mul(hg, x), F.call("asin_backward", x, h)


def _rsqrt_bw(ctx, h):
    # out = -g y^3 / 2; inputs (y, g)
    y, g = ctx.inputs
    return F.mul(F.mul(h, g), F.mul(F.mul(y, y), -1.5)), F.call("rsqrt_backward", y, h)


def _reciprocal_bw(ctx, h):
    # out = -g y^2; inputs (y, g)
    y, g = ctx.inputs
    return F.mul(F.mul(h, g), F.mul(y, -2.0)), F.call("reciprocal_backward", y, h)


def _piecewise_linear_bw(ctx, h):
    """Rule for ``<f>_backward(x, g) = g f'(x)`` with f' piecewise constant: d/dx = 0."""
    x, g = ctx.inputs
    return None, F.call(ctx.op.name, x, h, **ctx.attrs)


def _elu_bw(ctx, h):
    # out = g scale (x > 0 ? 1 : alpha e^x); d/dx = h g scale alpha e^x where x <= 0, which is
    # the kernel itself applied to h g there (and its exp never sees a positive x).
    x, g = ctx.inputs
    a = ctx.attrs
    neg = F.call("elu_backward", x, F.mul(h, g), **a)
    return F.where(F.call("gt", x, 0.0), 0.0, neg), F.call("elu_backward", x, h, **a)


def _softplus_bw(ctx, h):
    # out = g sigmoid(beta x) below the threshold, g above; d/dx = h g beta s (1 - s) below.
    x, g = ctx.inputs
    a = ctx.attrs
    z = F.mul(x, a["beta"])
    s = F.call("sigmoid", z)
    below = F.call("sigmoid_backward", s, F.mul(F.mul(h, g), a["beta"]))
    gx = F.where(F.call("gt", z, a["threshold"]), 0.0, below)
    return gx, F.call("softplus_backward", x, h, **a)


def _hardswish_bw(ctx, h):
    # out = g (x / 3 + 1/2) on (-3, 3); d/dx = h g / 3 there = 2 * hardsigmoid_backward(x, h g).
    x, g = ctx.inputs
    gx = F.mul(F.call("hardsigmoid_backward", x, F.mul(h, g)), 2.0)
    return gx, F.call("hardswish_backward", x, h)


def _logsigmoid_bw(ctx, h):
    # out = g sigmoid(-x); d/dx = -h g s (1 - s), s = sigmoid(x)
    x, g = ctx.inputs
    gx = F.neg(F.call("sigmoid_backward", F.call("sigmoid", x), F.mul(h, g)))
    return gx, F.call("logsigmoid_backward", x, h)


def _clamp_tensor(ctx, g):
    x, lo, hi = ctx.inputs
    a = ctx.attrs
    out = []
    for which in range(3):
        if not ctx.needs_input_grad[which]:
            out.append(None)
            continue
        mask = F.call("clamp_tensor_mask", x, lo, hi, which=which, **a)
        out.append(F.mul(g, mask))
    return tuple(out)


def _lerp(ctx, g):
    a, b, w = ctx.inputs
    need = ctx.needs_input_grad
    gb = F.mul(g, w)
    ga = F.sub(g, gb) if need[0] else None
    gw = F.mul(g, F.sub(b, a)) if need[2] else None
    return ga, gb if need[1] else None, gw


def _addcmul(ctx, g):
    _, t1, t2 = ctx.inputs
    v = ctx.attrs["value"]
    need = ctx.needs_input_grad
    # value * g * t: addcmul with a zero input is that product in one kernel.
    g1 = F.call("addcmul", 0.0, g, t2, value=v) if need[1] else None
    g2 = F.call("addcmul", 0.0, g, t1, value=v) if need[2] else None
    return g, g1, g2


def _addcdiv(ctx, g):
    _, t1, t2 = ctx.inputs
    v = ctx.attrs["value"]
    need = ctx.needs_input_grad
    g1 = F.call("addcdiv", 0.0, g, t2, value=v) if need[1] else None
    g2 = None
    if need[2]:
        # d/dt2 = -value g t1 / t2^2
        g2 = F.call("addcdiv", 0.0, F.mul(g, t1), F.mul(t2, t2), value=-v)
    return g, g1, g2


def _remainder(ctx, g):
    # a - b floor(a / b): d/da = 1, d/db = -floor(a / b) (as PyTorch)
    a, b = ctx.inputs
    gb = None
    if ctx.needs_input_grad[1]:
        gb = F.call("addcmul", 0.0, g, F.call("floor_divide", a, b), value=-1.0)
    return g, gb


# ---------------------------------------------------------------- the rows

_LN2, _LN10 = math.log(2.0), math.log(10.0)

row("sin", "map", 1, unary_rule(lambda c: F.call("cos", _x(c))), saves="i")
row("cos", "map", 1, kernel_rule("cos_backward"), saves="i")
row("cos_backward", "map", 2, _cos_bw, saves="i")
row("tan", "map", 1, kernel_rule("tan_backward", use_out=True), saves="o")
row("tan_backward", "map", 2, _tan_bw, saves="i")
row("atan", "map", 1, kernel_rule("atan_backward"), saves="i")
row("atan_backward", "map", 2, _atan_bw, saves="i")
row("asin", "map", 1, kernel_rule("asin_backward"), saves="i")
row("asin_backward", "map", 2, _asin_bw, saves="i")
row("acos", "map", 1, lambda c, g: (F.neg(F.call("asin_backward", _x(c), g)),), saves="i")
row("sinh", "map", 1, unary_rule(lambda c: F.call("cosh", _x(c))), saves="i")
row("cosh", "map", 1, unary_rule(lambda c: F.call("sinh", _x(c))), saves="i")
row("log1p", "map", 1, lambda c, g: (F.div(g, F.add(_x(c), 1.0)),), saves="i")
row("expm1", "map", 1, unary_rule(lambda c: F.add(c.out, 1.0)), saves="o")
row("log2", "map", 1, lambda c, g: (F.div(g, F.mul(_x(c), _LN2)),), saves="i")
row("log10", "map", 1, lambda c, g: (F.div(g, F.mul(_x(c), _LN10)),), saves="i")
row("rsqrt", "map", 1, kernel_rule("rsqrt_backward", use_out=True), saves="o")
row("rsqrt_backward", "map", 2, _rsqrt_bw, saves="i")
row("reciprocal", "map", 1, kernel_rule("reciprocal_backward", use_out=True), saves="o")
row("reciprocal_backward", "map", 2, _reciprocal_bw, saves="i")
row("square", "map", 1, unary_rule(lambda c: F.mul(_x(c), 2.0)), saves="i", out_dtype="input0")
# Rounding: piecewise constant, no gradient (as sign). Integer inputs stay integer.
for _name in ("floor", "ceil", "trunc"):
    row(_name, "map", 1, out_dtype="input0")
row("round", "map", 1, attrs=("decimals",), out_dtype="input0")

_OPTS = dict(saves="i")
row("leaky_relu", "map", 1, kernel_rule("leaky_relu_backward"), attrs=("negative_slope",), **_OPTS)
row("leaky_relu_backward", "map", 2, _piecewise_linear_bw, attrs=("negative_slope",), **_OPTS)
# selu is elu with fixed alpha and scale.
row("elu", "map", 1, kernel_rule("elu_backward"), attrs=("alpha", "scale"), **_OPTS)
row("elu_backward", "map", 2, _elu_bw, attrs=("alpha", "scale"), **_OPTS)
_SOFTPLUS = ("beta", "threshold")
row("softplus", "map", 1, kernel_rule("softplus_backward"), attrs=_SOFTPLUS, **_OPTS)
row("softplus_backward", "map", 2, _softplus_bw, attrs=_SOFTPLUS, **_OPTS)
row("hardswish", "map", 1, kernel_rule("hardswish_backward"), **_OPTS)
row("hardswish_backward", "map", 2, _hardswish_bw, **_OPTS)
row("hardsigmoid", "map", 1, kernel_rule("hardsigmoid_backward"), **_OPTS)
row("hardsigmoid_backward", "map", 2, _piecewise_linear_bw, **_OPTS)
row("mish", "map", 1, kernel_rule("mish_backward"), **_OPTS)
row("mish_backward", "map", 2, second_derivative_rule("mish_grad2"), **_OPTS)
row("mish_grad2", "map", 1)
row("logsigmoid", "map", 1, kernel_rule("logsigmoid_backward"), **_OPTS)
row("logsigmoid_backward", "map", 2, _logsigmoid_bw, **_OPTS)

# clamp(x, min, max) with a tensor bound; a bound may also be a Python number, or absent
# (has_min / has_max 0, the input then a placeholder 0.0).
_CLAMP_T = ("has_min", "has_max")
row("clamp_tensor", "map", 3, _clamp_tensor, attrs=_CLAMP_T, **_OPTS)
# 1 where the gradient goes to input `which` (0 x, 1 min, 2 max), else 0.
row("clamp_tensor_mask", "map", 3, attrs=("which",) + _CLAMP_T)

# Integer division and logic: no gradient but remainder's. "keep": int op int stays int.
row("floor_divide", "map", 2, out_dtype="keep", refuses=("bool",))
row("remainder", "map", 2, _remainder, saves="i", out_dtype="keep", refuses=("bool",))
for _name in ("logical_and", "logical_or", "logical_xor"):
    row(_name, "map", 2, out_dtype="bool")
row("logical_not", "map", 1, out_dtype="bool")
_FLOATS = ("float16", "float32", "float64")
for _name in ("bitwise_and", "bitwise_or", "bitwise_xor"):
    row(_name, "map", 2, out_dtype="keep", refuses=_FLOATS)
row("bitwise_not", "map", 1, out_dtype="keep", refuses=_FLOATS)

row("lerp", "map", 3, _lerp, **_OPTS)
row("addcmul", "map", 3, _addcmul, attrs=("value",), **_OPTS)
row("addcdiv", "map", 3, _addcdiv, attrs=("value",), **_OPTS)


# ---------------------------------------------------------------- public functions


def _tensor_arg(op: str, x) -> None:
    if not isinstance(x, autograd.Tensor):
        raise TypeError(f"{op}: expected a tensor, got {type(x).__name__}")


def _unary_fn(name: str, math_: str, example: str) -> Callable:
    def fn(input: Tensor) -> Tensor:
        _tensor_arg(name, input)
        return F.call(name, input)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"{math_}, elementwise.\n\n    >>> {example}\n    "
    return autocasting.policy(fn)


neg = _unary_fn("neg", "-x", "vkgrad.neg(vkgrad.tensor([1.0]))  # [-1.]")
exp = _unary_fn("exp", "e to the x", "vkgrad.exp(vkgrad.tensor([0.0]))  # [1.]")
log = _unary_fn("log", "The natural logarithm of x", "vkgrad.log(vkgrad.tensor([1.0]))  # [0.]")
sqrt = _unary_fn("sqrt", "The square root of x", "vkgrad.sqrt(vkgrad.tensor([4.0]))  # [2.]")
abs = _unary_fn("abs", "|x|", "vkgrad.abs(vkgrad.tensor([-2.0]))  # [2.]")
relu = _unary_fn("relu", "max(x, 0)", "vkgrad.relu(vkgrad.tensor([-1.0, 2.0]))  # [0., 2.]")
sigmoid = _unary_fn("sigmoid", "1 / (1 + e^-x)", "vkgrad.sigmoid(vkgrad.tensor([0.0]))  # [0.5]")
tanh = _unary_fn("tanh", "tanh(x)", "vkgrad.tanh(vkgrad.tensor([0.0]))  # [0.]")
silu = _unary_fn("silu", "x * sigmoid(x)", "F.silu(vkgrad.tensor([0.0]))  # [0.]")
sin = _unary_fn("sin", "sin(x)", "vkgrad.sin(vkgrad.tensor([0.0, 1.5708]))  # [0., 1.]")
cos = _unary_fn("cos", "cos(x)", "vkgrad.cos(vkgrad.tensor([0.0]))  # [1.]")
tan = _unary_fn("tan", "tan(x)", "vkgrad.tan(vkgrad.tensor([0.7854]))  # [1.]")
atan = _unary_fn("atan", "arctan(x)", "vkgrad.atan(vkgrad.tensor([1.0]))  # [0.7854]")
asin = _unary_fn("asin", "arcsin(x), for x in [-1, 1]", "vkgrad.asin(vkgrad.tensor([1.0]))")
acos = _unary_fn("acos", "arccos(x), for x in [-1, 1]", "vkgrad.acos(vkgrad.tensor([0.0]))")
sinh = _unary_fn("sinh", "sinh(x)", "vkgrad.sinh(vkgrad.tensor([0.0]))  # [0.]")
cosh = _unary_fn("cosh", "cosh(x)", "vkgrad.cosh(vkgrad.tensor([0.0]))  # [1.]")
log1p = _unary_fn(
    "log1p", "log(1 + x), accurate for small x", "vkgrad.log1p(vkgrad.tensor([1e-8]))  # [1e-8]"
)
expm1 = _unary_fn(
    "expm1", "exp(x) - 1, accurate for small x", "vkgrad.expm1(vkgrad.tensor([1e-8]))  # [1e-8]"
)
log2 = _unary_fn("log2", "log base 2", "vkgrad.log2(vkgrad.tensor([8.0]))  # [3.]")
log10 = _unary_fn("log10", "log base 10", "vkgrad.log10(vkgrad.tensor([100.0]))  # [2.]")
rsqrt = _unary_fn("rsqrt", "1 / sqrt(x)", "vkgrad.rsqrt(vkgrad.tensor([4.0]))  # [0.5]")
reciprocal = _unary_fn("reciprocal", "1 / x", "vkgrad.reciprocal(vkgrad.tensor([4.0]))  # [0.25]")
square = _unary_fn("square", "x * x", "vkgrad.square(vkgrad.tensor([3.0]))  # [9.]")
floor = _unary_fn("floor", "The largest integer <= x (no gradient)", "vkgrad.floor(t)")
ceil = _unary_fn("ceil", "The smallest integer >= x (no gradient)", "vkgrad.ceil(t)")
trunc = _unary_fn("trunc", "x rounded toward zero (no gradient)", "vkgrad.trunc(t)")
sign = _unary_fn("sign", "-1, 0 or 1 by the sign of x (no gradient)", "vkgrad.sign(t)")
# NumPy's names, which PyTorch also has.
arcsin, arccos, arctan = asin, acos, atan


def round(input: Tensor, *, decimals: int = 0) -> Tensor:
    """x rounded to ``decimals`` decimal places, halves to even (as PyTorch); no gradient.

    >>> vkgrad.round(vkgrad.tensor([0.5, 1.5, 2.5]))  # [0., 2., 2.]
    """
    _tensor_arg("round", input)
    return F.call("round", input, decimals=int(decimals))


def leaky_relu(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x where x > 0, else negative_slope * x.

    >>> F.leaky_relu(vkgrad.tensor([-1.0, 2.0]), 0.1)  # [-0.1, 2.]
    """
    _tensor_arg("leaky_relu", input)
    return F.call("leaky_relu", input, negative_slope=float(negative_slope))


def elu(input: Tensor, alpha: float = 1.0) -> Tensor:
    """x where x > 0, else alpha * (exp(x) - 1).

    >>> F.elu(vkgrad.tensor([-1.0, 2.0]))  # [-0.6321, 2.]
    """
    _tensor_arg("elu", input)
    return F.call("elu", input, alpha=float(alpha), scale=1.0)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input: Tensor) -> Tensor:
    """scale * elu(x, alpha) with the self-normalizing constants (alpha 1.6733, scale 1.0507).

    >>> F.selu(vkgrad.tensor([1.0]))  # [1.0507]
    """
    _tensor_arg("selu", input)
    return F.call("elu", input, alpha=_SELU_ALPHA, scale=_SELU_SCALE)


@autocasting.policy
def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta; x itself where beta x > threshold.

    >>> F.softplus(vkgrad.tensor([0.0]))  # [0.6931]
    """
    _tensor_arg("softplus", input)
    return F.call("softplus", input, beta=float(beta), threshold=float(threshold))


def hardswish(input: Tensor) -> Tensor:
    """x * relu6(x + 3) / 6.

    >>> F.hardswish(vkgrad.tensor([-4.0, 1.0, 4.0]))  # [0., 0.6667, 4.]
    """
    _tensor_arg("hardswish", input)
    return F.call("hardswish", input)


def hardsigmoid(input: Tensor) -> Tensor:
    """relu6(x + 3) / 6.

    >>> F.hardsigmoid(vkgrad.tensor([-4.0, 0.0, 4.0]))  # [0., 0.5, 1.]
    """
    _tensor_arg("hardsigmoid", input)
    return F.call("hardsigmoid", input)


def mish(input: Tensor) -> Tensor:
    """x * tanh(softplus(x)).

    >>> F.mish(vkgrad.tensor([1.0]))  # [0.8651]
    """
    _tensor_arg("mish", input)
    return F.call("mish", input)


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)), stable for large |x|.

    >>> F.logsigmoid(vkgrad.tensor([-100.0]))  # [-100.]
    """
    _tensor_arg("logsigmoid", input)
    return F.call("logsigmoid", input)


def clip(input: Tensor, min=None, max=None) -> Tensor:
    """Alias of :func:`vkgrad.clamp`.

    >>> vkgrad.clip(vkgrad.tensor([-2.0, 2.0]), -1, 1)  # [-1., 1.]
    """
    return F.clamp(input, min, max)


def lerp(input: Tensor, end: Tensor, weight) -> Tensor:
    """input + weight * (end - input); weight is a number or a tensor (all broadcast).

    >>> vkgrad.lerp(vkgrad.zeros(2), vkgrad.ones(2), 0.25)  # [0.25, 0.25]
    """
    _tensor_arg("lerp", input)
    _tensor_arg("lerp", end)
    return F.call("lerp", input, end, scalar_operand("lerp", weight))


def addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: float = 1) -> Tensor:
    """input + value * tensor1 * tensor2 (all broadcast).

    >>> vkgrad.addcmul(vkgrad.ones(2), vkgrad.ones(2), vkgrad.ones(2), value=0.5)  # [1.5, 1.5]
    """
    for t in (input, tensor1, tensor2):
        _tensor_arg("addcmul", t)
    return F.call("addcmul", input, tensor1, tensor2, value=float(value))


def addcdiv(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: float = 1) -> Tensor:
    """input + value * tensor1 / tensor2 (all broadcast).

    >>> vkgrad.addcdiv(vkgrad.ones(2), vkgrad.ones(2), vkgrad.ones(2) * 4)  # [1.25, 1.25]
    """
    for t in (input, tensor1, tensor2):
        _tensor_arg("addcdiv", t)
    return F.call("addcdiv", input, tensor1, tensor2, value=float(value))


def floor_divide(input, other) -> Tensor:
    """input / other rounded toward -inf (``//``); int32 stays int32. No gradient.

    >>> vkgrad.tensor([7, -7]) // 2  # tensor([ 3, -4], dtype=vkgrad.int32)
    """
    return _binary("floor_divide", input, other)


def remainder(input, other) -> Tensor:
    """input - other * floor(input / other) (``%``): the sign of ``other``, as Python.

    >>> vkgrad.tensor([7, -7]) % 3  # tensor([1, 2], dtype=vkgrad.int32)
    """
    return _binary("remainder", input, other)


def logical_and(input: Tensor, other) -> Tensor:
    """(input != 0) and (other != 0), as a bool tensor.

    >>> vkgrad.logical_and(vkgrad.tensor([True, True]), vkgrad.tensor([True, False]))
    """
    return _binary("logical_and", input, other)


def logical_or(input: Tensor, other) -> Tensor:
    """(input != 0) or (other != 0), as a bool tensor.

    >>> vkgrad.logical_or(vkgrad.tensor([True, False]), vkgrad.tensor([False, False]))
    """
    return _binary("logical_or", input, other)


def logical_xor(input: Tensor, other) -> Tensor:
    """(input != 0) xor (other != 0), as a bool tensor.

    >>> vkgrad.logical_xor(vkgrad.tensor([True, True]), vkgrad.tensor([True, False]))
    """
    return _binary("logical_xor", input, other)


def logical_not(input: Tensor) -> Tensor:
    """input == 0, as a bool tensor.

    >>> vkgrad.logical_not(vkgrad.tensor([True, False]))  # [False, True]
    """
    _tensor_arg("logical_not", input)
    return F.call("logical_not", input)


def _integral(name: str, *xs) -> None:
    for x in xs:
        bad = x.dtype if isinstance(x, autograd.Tensor) else type(x).__name__
        ok = (
            (not x.dtype.is_floating)
            if isinstance(x, autograd.Tensor)
            else not isinstance(x, float)
        )
        if not ok:
            raise TypeError(f"{name}: expected integer or bool tensors and numbers, got {bad}")


def bitwise_and(input: Tensor, other) -> Tensor:
    """input & other, bitwise on int32 (exact below 2^24 on Vulkan), logical on bool.

    >>> vkgrad.tensor([6, 5]) & 3  # tensor([2, 1], dtype=vkgrad.int32)
    """
    _integral("bitwise_and", input, other)
    return _binary("bitwise_and", input, other)


def bitwise_or(input: Tensor, other) -> Tensor:
    """input | other, bitwise on int32 (exact below 2^24 on Vulkan), logical on bool.

    >>> vkgrad.tensor([4, 1]) | 2  # tensor([6, 3], dtype=vkgrad.int32)
    """
    _integral("bitwise_or", input, other)
    return _binary("bitwise_or", input, other)


def bitwise_xor(input: Tensor, other) -> Tensor:
    """input ^ other, bitwise on int32 (exact below 2^24 on Vulkan), logical on bool.

    >>> vkgrad.tensor([6, 5]) ^ 3  # tensor([5, 6], dtype=vkgrad.int32)
    """
    _integral("bitwise_xor", input, other)
    return _binary("bitwise_xor", input, other)


def bitwise_not(input: Tensor) -> Tensor:
    """~input: -input - 1 on int32, not on bool.

    >>> ~vkgrad.tensor([True, False])  # tensor([False,  True], dtype=vkgrad.bool)
    """
    _tensor_arg("bitwise_not", input)
    _integral("bitwise_not", input)
    return F.call("bitwise_not", input)


_MATH = [
    "sin", "cos", "tan", "atan", "asin", "acos", "arcsin", "arccos", "arctan", "sinh", "cosh",
    "log1p", "expm1", "log2", "log10", "rsqrt", "reciprocal", "square", "floor", "ceil", "round",
    "trunc", "sign",
]  # fmt: skip
_ACTIVATIONS = [
    "leaky_relu", "elu", "selu", "softplus", "hardswish", "hardsigmoid", "mish", "logsigmoid",
]  # fmt: skip

# Public names: ``vkgrad.<name>`` and ``vkgrad.functional.<name>``.
_INT_LOGIC = [
    "floor_divide", "remainder", "logical_and", "logical_or", "logical_xor", "logical_not",
    "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not",
]  # fmt: skip
__all__: list[str] = _MATH + _ACTIVATIONS + _INT_LOGIC + ["clip", "lerp", "addcmul", "addcdiv"]
# Names exported by ``vkgrad.nn.functional``.
NN_FUNCTIONAL: list[str] = list(_ACTIVATIONS)
# The core functions of the family, public as well.
__all__ += ["abs", "clamp", "exp", "log", "maximum", "minimum", "pow", "sqrt", "where"]
__all__ += ["relu", "sigmoid", "tanh"]
NN_FUNCTIONAL += ["relu", "sigmoid", "tanh", "gelu", "silu"]
# Exported by ``vkgrad.functional`` only: helpers other families and layers use.
FUNCTIONAL: list[str] = [
    "add",
    "sub",
    "mul",
    "div",
    "neg",
    "sign",
    "compare",
    "scalar_result_dtype",
    "scalar_operand",
    "ones_like",
    "zeros_like",
    "full_like",
    "zeros_like_meta",
    "to_dtype",
]


# Tensor methods: {method name: a function of this module whose first argument is the tensor}.
TENSOR_METHODS: dict = {
    name: globals()[name] for name in _MATH + _INT_LOGIC + ["lerp", "addcmul", "addcdiv"]
}


def _rfloordiv(self, other) -> Tensor:
    return floor_divide(other, self)


def _rmod(self, other) -> Tensor:
    return remainder(other, self)


def _rand(self, other) -> Tensor:
    return bitwise_and(other, self)


def _ror(self, other) -> Tensor:
    return bitwise_or(other, self)


def _rxor(self, other) -> Tensor:
    return bitwise_xor(other, self)


def _long(self) -> Tensor:
    """int32: vkgrad has no int64 (``.long()`` is ``.int()``)."""
    return self.int()


TENSOR_METHODS.update(
    {
        "__floordiv__": floor_divide,
        "__rfloordiv__": _rfloordiv,
        "__mod__": remainder,
        "__rmod__": _rmod,
        "__and__": bitwise_and,
        "__rand__": _rand,
        "__or__": bitwise_or,
        "__ror__": _ror,
        "__xor__": bitwise_xor,
        "__rxor__": _rxor,
        "__invert__": bitwise_not,
        "long": _long,
    }
)


# ---------------------------------------------------------------- arithmetic and casts: functions


def add(a, b, alpha=1):
    if alpha != 1:
        b = mul(b, alpha)
    return _binary("add", a, b)


def sub(a, b, alpha=1):
    if alpha != 1:
        b = mul(b, alpha)
    return _binary("sub", a, b)


def mul(a, b):
    return _binary("mul", a, b)


def div(a, b):
    return _binary("div", a, b)


@autocasting.policy
def pow(a, b):
    return _binary("pow", a, b)


def maximum(a, b):
    return _binary("maximum", a, b)


def minimum(a, b):
    return _binary("minimum", a, b)


def _binary(name: str, a, b):
    T = autograd.Tensor
    if not isinstance(a, T) and not isinstance(b, T):
        raise TypeError(
            f"{name}: expected at least one tensor, got {type(a).__name__} and {type(b).__name__}"
        )
    if not (isinstance(a, T) and isinstance(b, T)):
        dt = scalar_result_dtype(name, a, b)
        if dt is not None:
            return apply(name, F.scalar_operand(name, a), F.scalar_operand(name, b), dtype=dt)
    return apply(name, F.scalar_operand(name, a), F.scalar_operand(name, b))


def scalar_result_dtype(name: str, *inputs):
    """PyTorch's result dtype where Python numbers meet only integer/bool tensors in a row of
    out_dtype "keep" (``int_tensor * 2.5`` is float32, ``bool_tensor + 1`` int32); else None
    (the row's own rule applies)."""
    op = ops.OPS[name]
    if op.out_dtype != "keep":
        return None
    T = autograd.Tensor
    rank = {dtypes.bool_: 0, dtypes.int32: 1}
    tensors = [x for i, x in enumerate(inputs) if isinstance(x, T) and i not in op.no_grad_inputs]
    if builtins.any(x._dtype.is_floating for x in tensors):
        return None
    have = -1  # the highest of bool 0, int 1 (float 2) among tensors, then among scalars
    for x in tensors:
        have = rank[x._dtype] if rank[x._dtype] > have else have
    want = have
    for i, x in enumerate(inputs):
        if not isinstance(x, T) and i not in op.no_grad_inputs:
            k = 0 if isinstance(x, bool) else 1 if _is_int(x) else 2
            want = k if k > want else want
    if want <= have:
        return None
    return (dtypes.bool_, dtypes.int32, dtypes.float32)[want]


def _is_int(x) -> bool:
    return isinstance(x, (int, np.integer))


def scalar_operand(name: str, x):
    if isinstance(x, autograd.Tensor):
        return x
    if isinstance(x, (bool, int, float)):
        return float(x)
    if isinstance(x, np.generic) and np.ndim(x) == 0:
        return float(x)
    raise TypeError(f"{name}: expected a tensor or a Python number, got {type(x).__name__}")


def gelu(x, approximate: str = "none"):
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return apply("gelu", x, approximate=int(approximate == "tanh"))


def clamp(x, min=None, max=None):
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    T = autograd.Tensor
    if isinstance(min, T) or isinstance(max, T):
        # Tensor bounds (the elementwise family's row): gradients flow to the bounds too.
        return apply(
            "clamp_tensor",
            x,
            0.0 if min is None else F.scalar_operand("clamp", min),
            0.0 if max is None else F.scalar_operand("clamp", max),
            has_min=int(min is not None),
            has_max=int(max is not None),
        )
    return apply(
        "clamp",
        x,
        min=float(min if min is not None else 0.0),
        max=float(max if max is not None else 0.0),
        has_min=int(min is not None),
        has_max=int(max is not None),
    )


def where(cond, a, b):
    T = autograd.Tensor
    if not isinstance(cond, T):
        raise TypeError(f"where: condition must be a tensor, got {type(cond).__name__}")
    if cond.dtype is not dtypes.bool_:
        raise TypeError(f"where: condition must be a bool tensor, got {cond.dtype}")
    dt = scalar_result_dtype("where", cond, a, b)
    if dt is not None:
        return apply(
            "where", cond, F.scalar_operand("where", a), F.scalar_operand("where", b), dtype=dt
        )
    return apply("where", cond, F.scalar_operand("where", a), F.scalar_operand("where", b))


def compare(name: str, a, b):
    return _binary(name, a, b)


def to_dtype(x, dtype):
    dtype = dtypes.get(dtype)
    if x.dtype is dtype:
        return x
    return apply("copy", x, dtype=dtype)


def ones_like(x):
    return full_like(x, 1.0)


def zeros_like(x):
    return full_like(x, 0.0)


def full_like(x, value):
    return apply("fill", value=float(value), shape=tuple(x.shape), dtype=x.dtype, device=x.device)


def zeros_like_meta(shape, dtype, device):
    return apply("fill", value=0.0, shape=tuple(shape), dtype=dtype, device=device)
