"""The NumPy backend: the CPU fallback, and the reference every shader is tested against.

One kernel per op row, under the row's name, in plain NumPy. f16 is stored as f16 and
computed in f32, as the shaders do; f64 is computed in f64.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable

import numpy as np

from ..dtypes import DType
from ..ops import Op
from .base import Backend

KERNELS: dict[str, Callable] = {}


def kernel(fn: Callable) -> Callable:
    KERNELS[fn.__name__.rstrip("_")] = fn
    return fn


# ---------------------------------------------------------------- elementwise

# Arithmetic ufuncs: an in-place op (out=, a float output) writes straight into out.
ARITHMETIC = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.divide,
    "maximum": np.maximum,
    "minimum": np.minimum,
}
for _name, _fn in {
    **ARITHMETIC,
    "eq": np.equal,
    "ne": np.not_equal,
    "lt": np.less,
    "le": np.less_equal,
    "gt": np.greater,
    "ge": np.greater_equal,
}.items():
    KERNELS[_name] = (lambda f: lambda a, b, **_: f(a, b))(_fn)

for _name, _fn in {
    "neg": np.negative,
    "exp": np.exp,
    "log": np.log,
    "sqrt": np.sqrt,
    "abs": np.abs,
    "sign": np.sign,
    "tanh": np.tanh,
}.items():
    KERNELS[_name] = (lambda f: lambda x, **_: f(x))(_fn)


@kernel
def pow(a, b, **_):
    return np.power(a, b)


@kernel
def where(c, a, b, **_):
    return np.where(np.asarray(c) != 0, a, b)


@kernel
def relu(x, **_):
    return np.maximum(x, 0)


@kernel
def relu_backward(x, g, **_):
    return g * (x > 0)  # a multiply by the mask is several times faster than np.where


def _sigmoid(x):
    # exp of a non-positive number only: no overflow at large |x|.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


@kernel
def sigmoid(x, **_):
    return _sigmoid(x)


@kernel
def sigmoid_backward(y, g, **_):
    return g * y * (1 - y)


@kernel
def tanh_backward(y, g, **_):
    return g * (1 - y * y)


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
    return x * _sigmoid(x)


@kernel
def silu_backward(x, g, **_):
    s = _sigmoid(x)
    return g * (s * (1 + x * (1 - s)))


@kernel
def silu_grad2(x, **_):
    s = _sigmoid(x)
    return s * (1 - s) * (2 + x * (1 - 2 * s))


@kernel
def clamp(x, min=0.0, max=0.0, has_min=0, has_max=0, **_):
    if has_min:
        x = np.maximum(x, min)
    if has_max:
        x = np.minimum(x, max)
    return x


@kernel
def clamp_backward(x, g, min=0.0, max=0.0, has_min=0, has_max=0, **_):
    keep = np.ones(np.shape(x), bool)
    if has_min:
        keep &= x >= min
    if has_max:
        keep &= x <= max
    return np.where(keep, g, 0)


@kernel
def fill(value=0.0, shape=(), **_):
    return np.full(shape, value)


@kernel
def copy(x, **_):
    return np.array(x)


@kernel
def permute(x, dims=(), **_):
    return np.transpose(x, dims)


@kernel
def expand(x, shape=(), **_):
    return np.broadcast_to(x, shape)


def _slices(starts, steps, out_shape):
    return tuple(
        slice(s, s + n * st, st) if n else slice(0, 0) for s, st, n in zip(starts, steps, out_shape)
    )


@kernel
def slice_(x, starts=(), steps=(), out_shape=(), **_):
    return x[_slices(starts, steps, out_shape)]


@kernel
def slice_backward(g, in_shape=(), starts=(), steps=(), out_shape=(), **_):
    out = np.zeros(in_shape, dtype=np.result_type(g, np.float32))
    out[_slices(starts, steps, out_shape)] = g
    return out


# ---------------------------------------------------------------- rows and reductions


@kernel
def sum_(x, **_):
    return x.sum(axis=-1)


@kernel
def max_(x, **_):
    return x.max(axis=-1)


@kernel
def softmax(x, **_):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@kernel
def log_softmax(x, **_):
    z = x - x.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


@kernel
def softmax_backward(y, g, **_):
    return y * (g - (g * y).sum(axis=-1, keepdims=True))


@kernel
def log_softmax_backward(y, g, **_):
    return g - np.exp(y) * g.sum(axis=-1, keepdims=True)


def _check_targets(op: str, t, c: int):
    t = np.asarray(t).astype(np.int64)
    bad = (t < 0) | (t >= c)
    if bad.any():
        raise IndexError(f"{op}: target class index {t[bad][0]} out of range [0, {c})")
    return t


@kernel
def cross_entropy_index(x, t, **_):
    t = _check_targets("cross_entropy", t, x.shape[1])
    return -log_softmax(x)[np.arange(x.shape[0]), t]


@kernel
def cross_entropy_prob(x, p, **_):
    return -(p * log_softmax(x)).sum(axis=-1)


@kernel
def cross_entropy_index_backward(x, t, g, **_):
    t = _check_targets("cross_entropy", t, x.shape[1])
    d = softmax(x)
    d[np.arange(x.shape[0]), t] -= 1
    return d * g[:, None]


@kernel
def cross_entropy_prob_backward(x, p, g, **_):
    return (softmax(x) * p.sum(axis=-1, keepdims=True) - p) * g[:, None]


@kernel
def matmul(a, b, ta=0, tb=0, **_):
    if ta:
        a = np.swapaxes(a, -1, -2)
    if tb:
        b = np.swapaxes(b, -1, -2)
    return np.matmul(a, b)


# ---------------------------------------------------------------- optimizer updates (in place)


@kernel
def adam_step(
    p,
    g,
    m,
    v,
    vmax,
    master,
    lr,
    beta1,
    beta2,
    eps,
    weight_decay,
    bias1,
    bias2,
    decoupled,
    amsgrad,
    maximize,
    **_,
):
    g = g.astype(master.dtype, copy=False)
    if maximize:
        g = -g
    if weight_decay and not decoupled:
        g = g + weight_decay * master
    # One scratch array, reused for every intermediate: the update is memory-bound.
    tmp = np.multiply(g, 1 - beta1)
    m *= beta1
    m += tmp
    np.multiply(g, g, out=tmp)
    tmp *= 1 - beta2
    v *= beta2
    v += tmp
    if amsgrad:
        np.maximum(vmax, v, out=vmax)
        v = vmax
    if weight_decay and decoupled:
        master *= 1 - lr * weight_decay
    np.divide(v, bias2, out=tmp)  # lr (m / bias1) / (sqrt(v / bias2) + eps)
    np.sqrt(tmp, out=tmp)
    tmp += eps
    np.divide(m, tmp, out=tmp)
    tmp *= lr / bias1
    master -= tmp
    if p is not master:
        p[...] = master


@kernel
def sgd_step(
    p, g, buf, master, lr, momentum, dampening, weight_decay, nesterov, first_step, maximize, **_
):
    d = g.astype(master.dtype, copy=False)
    if maximize:
        d = -d
    if weight_decay:
        d = d + weight_decay * master
    if momentum:
        if first_step:
            buf[...] = d
        else:
            buf *= momentum
            buf += (1 - dampening) * d
        d = d + momentum * buf if nesterov else buf
    master -= lr * d
    if p is not master:
        p[...] = master


@kernel
def rmsprop_step(
    p, g, sq, gavg, buf, master, lr, alpha, eps, weight_decay, momentum, centered, maximize, **_
):
    g = g.astype(master.dtype, copy=False)
    if maximize:
        g = -g
    if weight_decay:
        g = g + weight_decay * master
    sq *= alpha
    sq += (1 - alpha) * g * g
    if centered:
        gavg *= alpha
        gavg += (1 - alpha) * g
        avg = np.sqrt(sq - gavg * gavg) + eps
    else:
        avg = np.sqrt(sq) + eps
    if momentum:
        buf *= momentum
        buf += g / avg
        master -= lr * buf
    else:
        master -= lr * g / avg
    if p is not master:
        p[...] = master


@kernel
def adagrad_step(p, g, acc, master, clr, weight_decay, eps, maximize, **_):
    g = g.astype(master.dtype, copy=False)
    if maximize:
        g = -g
    if weight_decay:
        g = g + weight_decay * master
    acc += g * g
    master -= clr * g / (np.sqrt(acc) + eps)
    if p is not master:
        p[...] = master


# ---------------------------------------------------------------- the backend


def _compute_dtype(a: np.ndarray) -> np.ndarray:
    if a.dtype == np.float16:
        return a.astype(np.float32)
    return a


# NumPy warns on log(0), 0/0 and overflow; PyTorch does not, and the inf/nan result is the
# same either way. A filter scoped to the NumPy kernels costs nothing until one fires, unlike
# np.errstate around every kernel.
warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"vkgrad\.backends\.numpy")


class NumpyBackend(Backend):
    type = "cpu"

    def from_numpy(self, data: np.ndarray, dtype: DType) -> np.ndarray:
        return np.array(data, dtype=dtype.np, copy=True, order="C")

    def to_numpy(self, array: np.ndarray, dtype: DType) -> np.ndarray:
        return np.array(array, dtype=dtype.np, copy=True)

    def reshape(self, array: np.ndarray, shape: tuple) -> np.ndarray:
        return array.reshape(shape)

    def capture_program(self, inputs: list):
        from .numpy_capture import NumpyProgram

        return NumpyProgram(self, inputs)

    def run(
        self, op: Op, inputs: list, attrs: dict, shape: tuple, dtype: DType, out: Any = None
    ) -> Any:
        if op.kind == "update":
            *tensors, hyper = inputs  # the row's attrs, as an array (see functional.update)
            KERNELS[op.name](*tensors, **dict(zip(op.attrs, hyper.tolist())))
            return None
        fn, args, kw = kernel_call(op, inputs, attrs, dtype)
        if out is not None and op.name in ARITHMETIC and dtype.is_floating:
            # One pass instead of a fresh result copied into out (f16: computed in f32).
            ARITHMETIC[op.name](*args, out=out, casting="same_kind")
            return out
        return finish(fn(*args, **kw), inputs, shape, dtype, out)


def kernel_call(op: Op, inputs: list, attrs: dict, dtype: DType) -> tuple:
    """The kernel of ``op`` and the arguments to call it with: f16 computed in f32, and
    Python scalars as f32 unless the op works in f64."""
    kw = {k: v for k, v in attrs.items() if k != "dtype"} if attrs else attrs
    f64 = False
    args = []
    for x in inputs:
        if isinstance(x, np.ndarray):
            if x.dtype == np.float16:
                x = x.astype(np.float32)
            elif x.dtype == np.float64:
                f64 = True
        args.append(x)
    if not f64 and dtype.is_floating:
        # Python scalars must not promote f32 work to f64, as in the shaders.
        args = [np.float32(x) if isinstance(x, float) else x for x in args]
    return KERNELS[op.name], args, kw


def finish(result, inputs: list, shape: tuple, dtype: DType, out: Any = None) -> Any:
    """A kernel's result as the backend's array: ``out`` filled, or ``result`` itself when it
    is already a fresh contiguous array of ``shape`` and ``dtype``, else a copy that is."""
    result = np.asarray(result)
    if result.shape != shape:
        result = np.broadcast_to(result, shape)
    if out is not None:
        out[...] = result
        return out
    if (
        result.dtype != dtype.np
        or result.base is not None
        or not result.flags.c_contiguous
        or any(result is x for x in inputs)
    ):
        # Views (transpose, broadcast, slices of an input) and other dtypes get a fresh,
        # contiguous array of their own.
        return np.array(result, dtype=dtype.np, order="C")
    return result


from . import numpy_kernels  # noqa: E402,F401  (registers the op families' kernels)
