"""NumPy kernels of the elementwise family (``vkgrad/library/elementwise.py``).

Kernels evaluate both sides of every ``np.where``: arguments of exp are kept non-positive
(or clipped) so that no branch overflows, as in the shaders.
"""

from __future__ import annotations

import math

import numpy as np

from ..numpy_backend import KERNELS, OUT_UFUNCS, kernel


def _unary(fn):
    return lambda x, **_: fn(x)


def _binary(fn):
    return lambda a, b, **_: fn(a, b)


# ---------------------------------------------------------------- arithmetic, comparisons

# These ufuncs can write a float result straight into an in-place op's out=.
OUT_UFUNCS.update(
    add=np.add,
    sub=np.subtract,
    mul=np.multiply,
    div=np.divide,
    maximum=np.maximum,
    minimum=np.minimum,
)
KERNELS.update({name: _binary(fn) for name, fn in OUT_UFUNCS.items()})
KERNELS.update(
    {
        name: _binary(fn)
        for name, fn in {
            "eq": np.equal,
            "ne": np.not_equal,
            "lt": np.less,
            "le": np.less_equal,
            "gt": np.greater,
            "ge": np.greater_equal,
        }.items()
    }
)


@kernel
def pow(a, b, **_):
    return np.power(a, b)


@kernel
def where(c, a, b, **_):
    return np.where(np.asarray(c) != 0, a, b)


@kernel
def fill(value=0.0, shape=(), **_):
    return np.full(shape, value)


@kernel
def copy(x, **_):
    return np.array(x)


# ---------------------------------------------------------------- unary math

KERNELS.update(
    {
        name: _unary(fn)
        for name, fn in {
            "neg": np.negative,
            "exp": np.exp,
            "log": np.log,
            "sqrt": np.sqrt,
            "abs": np.abs,
            "sign": np.sign,
            "tanh": np.tanh,
            "sin": np.sin,
            "cos": np.cos,
            "tan": np.tan,
            "atan": np.arctan,
            "asin": np.arcsin,
            "acos": np.arccos,
            "sinh": np.sinh,
            "cosh": np.cosh,
            "log1p": np.log1p,
            "expm1": np.expm1,
            "log2": np.log2,
            "log10": np.log10,
            "square": np.square,
            "floor": np.floor,
            "ceil": np.ceil,
            "trunc": np.trunc,
        }.items()
    }
)


@kernel
def round_(x, decimals=0, **_):
    # np.round rounds half to even, as PyTorch's round does.
    return np.round(x, int(decimals))


@kernel
def rsqrt(x, **_):
    return 1 / np.sqrt(x)


@kernel
def reciprocal(x, **_):
    return 1 / x


@kernel
def cos_backward(x, g, **_):
    return -g * np.sin(x)


@kernel
def tan_backward(y, g, **_):
    return g * (1 + y * y)


@kernel
def atan_backward(x, g, **_):
    return g / (1 + x * x)


@kernel
def asin_backward(x, g, **_):
    return g / np.sqrt(1 - x * x)


@kernel
def rsqrt_backward(y, g, **_):
    return -0.5 * g * y * y * y


@kernel
def reciprocal_backward(y, g, **_):
    return -g * y * y


@kernel
def tanh_backward(y, g, **_):
    return g * (1 - y * y)


# ---------------------------------------------------------------- activations


@kernel
def relu(x, **_):
    return np.maximum(x, 0)


@kernel
def relu_backward(x, g, **_):
    return g * (x > 0)  # a multiply by the mask is several times faster than np.where


def stable_sigmoid(x):
    # exp of a non-positive number only: no overflow at large |x|.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


@kernel
def sigmoid(x, **_):
    return stable_sigmoid(x)


@kernel
def sigmoid_backward(y, g, **_):
    return g * y * (1 - y)


_SQRT_2_PI = math.sqrt(2 / math.pi)
_erf = np.vectorize(math.erf, otypes=[np.float64])


def _gelu_parts(x, approximate):
    """(cdf-like factor, its derivative) for exact or tanh gelu."""
    if approximate:
        u = _SQRT_2_PI * (x + 0.044715 * x**3)
        t = np.tanh(u)
        du = _SQRT_2_PI * (1 + 3 * 0.044715 * x**2)
        return 0.5 * (1 + t), 0.5 * (1 - t * t) * du, (t, u, du)
    cdf = 0.5 * (1 + _erf(x / math.sqrt(2)))
    pdf = np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    return cdf, pdf, None


@kernel
def gelu(x, approximate=0, **_):
    cdf, _, _ = _gelu_parts(x, approximate)
    return x * cdf


@kernel
def gelu_backward(x, g, approximate=0, **_):
    cdf, dcdf, _ = _gelu_parts(x, approximate)
    return g * (cdf + x * dcdf)


@kernel
def gelu_grad2(x, approximate=0, **_):
    """d^2/dx^2 of gelu."""
    cdf, dcdf, extra = _gelu_parts(x, approximate)
    if approximate:
        t, u, du = extra
        ddu = _SQRT_2_PI * 6 * 0.044715 * x
        # dcdf = 0.5 (1 - t^2) du  =>  d(dcdf)/dx = -t (1 - t^2) du^2 + 0.5 (1 - t^2) ddu
        ddcdf = -t * (1 - t * t) * du * du + 0.5 * (1 - t * t) * ddu
    else:
        ddcdf = -x * dcdf
    return 2 * dcdf + x * ddcdf


@kernel
def silu(x, **_):
    return x * stable_sigmoid(x)


@kernel
def silu_backward(x, g, **_):
    s = stable_sigmoid(x)
    return g * (s * (1 + x * (1 - s)))


@kernel
def silu_grad2(x, **_):
    s = stable_sigmoid(x)
    return s * (1 - s) * (2 + x * (1 - 2 * s))


@kernel
def leaky_relu(x, negative_slope=0.01, **_):
    return np.where(x > 0, x, x * negative_slope)


@kernel
def leaky_relu_backward(x, g, negative_slope=0.01, **_):
    return g * np.where(x > 0, 1, negative_slope)


@kernel
def elu(x, alpha=1.0, scale=1.0, **_):
    return scale * np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


@kernel
def elu_backward(x, g, alpha=1.0, scale=1.0, **_):
    return g * scale * np.where(x > 0, 1, alpha * np.exp(np.minimum(x, 0)))


def stable_softplus(z):
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


@kernel
def softplus(x, beta=1.0, threshold=20.0, **_):
    z = x * beta
    return np.where(z > threshold, x, stable_softplus(z) / beta)


@kernel
def softplus_backward(x, g, beta=1.0, threshold=20.0, **_):
    z = x * beta
    return np.where(z > threshold, g, g * stable_sigmoid(z))


@kernel
def hardswish(x, **_):
    return x * np.clip(x + 3, 0, 6) / 6


@kernel
def hardswish_backward(x, g, **_):
    return np.where(x < -3, 0, np.where(x <= 3, g * (x / 3 + 0.5), g))


@kernel
def hardsigmoid(x, **_):
    return np.clip(x + 3, 0, 6) / 6


@kernel
def hardsigmoid_backward(x, g, **_):
    return np.where((x > -3) & (x < 3), g / 6, 0)


def _mish_parts(x):
    """(tanh(softplus(x)), 1 - tanh(softplus(x))^2), with exp of -|x| only.

    With n = exp(-|x|): for x > 0, t = (1 + 2n) / (1 + 2n + 2n^2); for x <= 0, with
    m = n^2 + 2n, t = m / (m + 2). 1 - t^2 comes from the same terms, without cancellation.
    """
    n = np.exp(-np.abs(x))
    pos = x > 0
    d_pos = 1 + 2 * n + 2 * n * n
    m = n * n + 2 * n
    t = np.where(pos, (1 + 2 * n) / d_pos, m / (m + 2))
    q = np.where(pos, 4 * (n * (1 + n)) ** 2 / (d_pos * d_pos), 4 * (m + 1) / ((m + 2) * (m + 2)))
    return t, q


@kernel
def mish(x, **_):
    t, _ = _mish_parts(x)
    return x * t


@kernel
def mish_backward(x, g, **_):
    t, q = _mish_parts(x)
    return g * (t + x * q * stable_sigmoid(x))


@kernel
def mish_grad2(x, **_):
    t, q = _mish_parts(x)
    s = stable_sigmoid(x)
    return q * s * (2 + x * (stable_sigmoid(-x) - 2 * t * s))


@kernel
def logsigmoid(x, **_):
    return np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))


@kernel
def logsigmoid_backward(x, g, **_):
    return g * stable_sigmoid(-x)


# ---------------------------------------------------------------- clamp


# Bounds are scalar attrs (clamp) or tensors (clamp_tensor); the same code serves both.


def _clamped(x, lo, hi, has_min, has_max):
    if has_min:
        x = np.maximum(x, lo)
    if has_max:
        x = np.minimum(x, hi)
    return x


def _inside(x, lo, hi, has_min, has_max):
    """Where x lies within the bounds given: where its gradient flows."""
    keep = np.ones(np.broadcast_shapes(np.shape(x), np.shape(lo), np.shape(hi)), bool)
    if has_min:
        keep &= x >= lo
    if has_max:
        keep &= x <= hi
    return keep


@kernel
def clamp(x, min=0.0, max=0.0, has_min=0, has_max=0, **_):
    return _clamped(x, min, max, has_min, has_max)


@kernel
def clamp_backward(x, g, min=0.0, max=0.0, has_min=0, has_max=0, **_):
    return np.where(_inside(x, min, max, has_min, has_max), g, 0)


@kernel
def clamp_tensor(x, lo, hi, has_min=1, has_max=1, **_):
    return _clamped(x, lo, hi, has_min, has_max)


@kernel
def clamp_tensor_mask(x, lo, hi, which=0, has_min=1, has_max=1, **_):
    """1 where the gradient flows to input ``which`` (0 x, 1 min, 2 max), as PyTorch."""
    if which == 0:
        return _inside(x, lo, hi, has_min, has_max)
    if which == 1:
        # A min above max loses: the result is max.
        return (x < lo) & (lo < hi) if has_max else x < lo
    return (x > hi) | (hi < lo) if has_min else x > hi


# ---------------------------------------------------------------- three-input maps


@kernel
def lerp(a, b, w, **_):
    # PyTorch's two-sided form: exact at w = 0 and at w = 1.
    return np.where(np.abs(w) < 0.5, a + w * (b - a), b - (b - a) * (1 - w))


@kernel
def addcmul(a, t1, t2, value=1.0, **_):
    return a + value * t1 * t2


@kernel
def addcdiv(a, t1, t2, value=1.0, **_):
    return a + value * t1 / t2


# ---------------------------------------------------------------- integer division, logic


@kernel
def floor_divide(a, b, **_):
    # Python's (and PyTorch's) floor division: rounds toward -inf, for ints and floats.
    return np.floor_divide(a, b)


@kernel
def remainder(a, b, **_):
    # The sign of the divisor, as Python's % and PyTorch's remainder.
    return np.remainder(a, b)


@kernel
def logical_not(x, **_):
    return np.logical_not(x)


def _ints(x):
    """bool arrays stay bool; ints (and the float-coded Python numbers) become int64."""
    a = np.asarray(x)
    return a if a.dtype == np.bool_ else a.astype(np.int64)


def _int_binary(fn):
    return lambda a, b, **_: fn(_ints(a), _ints(b))


KERNELS.update(
    logical_and=_binary(np.logical_and),
    logical_or=_binary(np.logical_or),
    logical_xor=_binary(np.logical_xor),
    bitwise_and=_int_binary(np.bitwise_and),
    bitwise_or=_int_binary(np.bitwise_or),
    bitwise_xor=_int_binary(np.bitwise_xor),
)


@kernel
def bitwise_not(x, **_):
    return np.invert(_ints(x))
