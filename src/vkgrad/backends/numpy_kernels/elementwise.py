"""NumPy kernels of the elementwise family (``vkgrad/library/elementwise.py``).

Kernels evaluate both sides of every ``np.where``: arguments of exp are kept non-positive
(or clipped) so that no branch overflows, as in the shaders.
"""

from __future__ import annotations

import numpy as np

from ..numpy_backend import KERNELS, _sigmoid, kernel

# ---------------------------------------------------------------- unary math

for _name, _fn in {
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
}.items():
    KERNELS[_name] = (lambda f: lambda x, **_: f(x))(_fn)


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


# ---------------------------------------------------------------- activations


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


def _softplus(z):
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


@kernel
def softplus(x, beta=1.0, threshold=20.0, **_):
    z = x * beta
    return np.where(z > threshold, x, _softplus(z) / beta)


@kernel
def softplus_backward(x, g, beta=1.0, threshold=20.0, **_):
    z = x * beta
    return np.where(z > threshold, g, g * _sigmoid(z))


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
    return g * (t + x * q * _sigmoid(x))


@kernel
def mish_grad2(x, **_):
    t, q = _mish_parts(x)
    s = _sigmoid(x)
    return q * s * (2 + x * (_sigmoid(-x) - 2 * t * s))


@kernel
def logsigmoid(x, **_):
    return np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))


@kernel
def logsigmoid_backward(x, g, **_):
    return g * _sigmoid(-x)


# ---------------------------------------------------------------- clamp with tensor bounds


@kernel
def clamp_tensor(x, lo, hi, has_min=1, has_max=1, **_):
    if has_min:
        x = np.maximum(x, lo)
    if has_max:
        x = np.minimum(x, hi)
    return x


@kernel
def clamp_tensor_mask(x, lo, hi, which=0, has_min=1, has_max=1, **_):
    """1 where the gradient flows to input ``which`` (0 x, 1 min, 2 max), as PyTorch."""
    if which == 0:
        keep = np.ones(np.broadcast_shapes(np.shape(x), np.shape(lo), np.shape(hi)), bool)
        if has_min:
            keep &= x >= lo
        if has_max:
            keep &= x <= hi
        return keep
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


for _name, _fn in {
    "logical_and": np.logical_and,
    "logical_or": np.logical_or,
    "logical_xor": np.logical_xor,
}.items():
    KERNELS[_name] = (lambda f: lambda a, b, **_: f(a, b))(_fn)


@kernel
def logical_not(x, **_):
    return np.logical_not(x)


def _ints(x):
    """bool arrays stay bool; ints (and the float-coded Python numbers) become int64."""
    a = np.asarray(x)
    return a if a.dtype == np.bool_ else a.astype(np.int64)


for _name, _fn in {
    "bitwise_and": np.bitwise_and,
    "bitwise_or": np.bitwise_or,
    "bitwise_xor": np.bitwise_xor,
}.items():
    KERNELS[_name] = (lambda f: lambda a, b, **_: f(_ints(a), _ints(b)))(_fn)


@kernel
def bitwise_not(x, **_):
    return np.invert(_ints(x))
