"""Random draws: rand, randn, randint, bernoulli, the in-place uniform_/normal_/bernoulli_, and
the host-side randperm and multinomial.

Every draw reads a generator state on the tensor's device (``vkgrad/random.py``): a row of
kind ``rng`` computes its values from Philox4x32-10 blocks of that state
(``shaders/philox.glsl``, the same uint32 arithmetic in ``numpy_kernels/random.py``), then
``rng_advance`` moves the state's offset past the blocks used, on the device. So draws
inside a captured step replay with fresh numbers, and one seed gives the same draws on the
cpu and on Vulkan (normals within the tolerance docs/random.md states).

randperm and multinomial draw their random words the same way but finish on the host (a sort,
a search): a captured step refuses them, naming the op.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import autograd, dtypes
from .. import functional as F
from .. import random as _random
from ..autograd import apply, apply_inplace, is_grad_enabled
from ..device import Device, default_device, default_dtype
from ..ops import row
from ..shapes import numel

if TYPE_CHECKING:
    from ..tensor import Tensor

__all__: list[str] = [
    "rand",
    "rand_like",
    "randn",
    "randn_like",
    "randint",
    "randperm",
    "bernoulli",
    "multinomial",
]
NN_FUNCTIONAL: list[str] = []
FUNCTIONAL: list[str] = []
TENSOR_METHODS: dict = {}

_INT32_MIN, _INT32_END = -(1 << 31), 1 << 31


# ---------------------------------------------------------------- the rows


def _drawn_shape(in_shapes, attrs) -> tuple:
    return tuple(attrs["shape"])


def _state_shape(in_shapes, attrs) -> tuple:
    return tuple(in_shapes[-1])


# The state (4 int32 words) is every row's last input and is never differentiated; the
# ``shape`` attr is the output's (a host-side attr, not passed to the shader).
row("rng_bits", "rng", 1, out_dtype="int32", shape=_drawn_shape, no_grad_inputs=(0,))
row(
    "rng_uniform",
    "rng",
    1,
    attrs=("low", "high", "bits"),
    shape=_drawn_shape,
    no_grad_inputs=(0,),
)
row(
    "rng_normal",
    "rng",
    1,
    attrs=("mean", "std", "bits"),
    shape=_drawn_shape,
    no_grad_inputs=(0,),
)
row(
    "rng_randint",
    "rng",
    1,
    attrs=("low", "span"),
    out_dtype="int32",
    shape=_drawn_shape,
    no_grad_inputs=(0,),
)
# bernoulli(p, state): no gradient (the output is piecewise constant in p).
row("bernoulli", "rng", 2, out_dtype="input0", shape=_drawn_shape, no_grad_inputs=(0, 1))
row("rng_advance", "rng", 1, attrs=("count",), out_dtype="int32", shape=_state_shape)


# ---------------------------------------------------------------- helpers


def _shape_arg(op: str, size) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    out = []
    for s in size:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0:
            raise ValueError(f"{op}: size must be non-negative ints, got {tuple(size)}")
        out.append(int(s))
    return tuple(out)


def _float_dtype(op: str, dtype, device) -> tuple:
    dev = Device.parse(device) if device is not None else default_device()
    dt = dtypes.get(dtype) if dtype is not None else default_dtype(dev)
    if not dt.is_floating:
        raise TypeError(f"{op}: draws floating-point values, not {dt.name}")
    if dt is dtypes.float64 and dev.type != "cpu":
        raise TypeError(f"{op}: float64 is not supported on {dev}; use float32/float16 or the cpu")
    return dt, dev


def _uniform_bits(dt) -> int:
    """Bits of a uniform: all that the dtype holds exactly below 1 (53 for f64: two words)."""
    return {"float16": 11, "float32": 24, "float64": 53}[dt.name]


def _blocks(words: int) -> int:
    return -(-words // 4)


def _uniform_attrs(dt, n: int) -> tuple:
    bits = _uniform_bits(dt)
    return bits, _blocks(2 * n if bits == 53 else n)


def _normal_attrs(dt, n: int) -> tuple:
    # f16 and f32 draws: four normals per block; f64: two (53-bit uniforms take two words).
    if dt is dtypes.float64:
        return 53, -(-n // 2)
    return 24, _blocks(n)


def _check_writable(op: str, t) -> None:
    if is_grad_enabled() and t.requires_grad and t.is_leaf:
        raise RuntimeError(
            f"{op}: a leaf tensor that requires grad is being used in an in-place operation; "
            "wrap it in `with vkgrad.no_grad():`"
        )


# ---------------------------------------------------------------- floats


def _draw(op, row_name, shape, dt, dev, generator, bits, blocks, **attrs):
    st = _random.state(generator, dev, op)
    out = apply(row_name, st, shape=shape, dtype=dt, bits=bits, **attrs)
    _random.advance(st, blocks)
    return out


def rand(*size, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Uniform in [0, 1): ``bits`` = 24 random bits in f32 (11 in f16, 53 in f64).

    >>> x = vkgrad.rand(2, 3, generator=vkgrad.Generator().manual_seed(0))
    """
    dt, dev = _float_dtype("rand", dtype, device)
    shape = _shape_arg("rand", size)
    bits, blocks = _uniform_attrs(dt, numel(shape))
    out = _draw("rand", "rng_uniform", shape, dt, dev, generator, bits, blocks, low=0.0, high=1.0)
    return out.requires_grad_(True) if requires_grad else out


def randn(*size, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Standard normal (Box-Muller on Philox words; see docs/random.md for its accuracy)."""
    dt, dev = _float_dtype("randn", dtype, device)
    shape = _shape_arg("randn", size)
    bits, blocks = _normal_attrs(dt, numel(shape))
    out = _draw("randn", "rng_normal", shape, dt, dev, generator, bits, blocks, mean=0.0, std=1.0)
    return out.requires_grad_(True) if requires_grad else out


def rand_like(input, *, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``rand`` of ``input``'s shape, dtype and device."""
    return rand(
        tuple(input.shape),
        generator=generator,
        dtype=dtype or input.dtype,
        device=device or input.device,
        requires_grad=requires_grad,
    )


def randn_like(input, *, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``randn`` of ``input``'s shape, dtype and device."""
    return randn(
        tuple(input.shape),
        generator=generator,
        dtype=dtype or input.dtype,
        device=device or input.device,
        requires_grad=requires_grad,
    )


def uniform_(self, from_: float = 0.0, to: float = 1.0, *, generator=None) -> Tensor:
    """Fill in place with U(from_, to), drawn as ``rand`` draws (``low + u (high - low)``)."""
    if not self.dtype.is_floating:
        raise TypeError(f"uniform_: expects a floating-point tensor, got {self.dtype.name}")
    if not from_ <= to:
        raise ValueError(f"uniform_: expects from <= to, got from={from_} > to={to}")
    _check_writable("uniform_", self)
    bits, blocks = _uniform_attrs(self.dtype, self.numel())
    st = _random.state(generator, self.device, "uniform_")
    apply_inplace(
        "rng_uniform", self, st, include_target=False, low=float(from_), high=float(to),
        bits=bits, shape=tuple(self.shape),
    )  # fmt: skip
    _random.advance(st, blocks)
    return self


def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator=None) -> Tensor:
    """Fill in place with N(mean, std^2), drawn as ``randn`` draws."""
    if not self.dtype.is_floating:
        raise TypeError(f"normal_: expects a floating-point tensor, got {self.dtype.name}")
    if not std >= 0.0:
        raise ValueError(f"normal_: expects std >= 0.0, got std={std}")
    _check_writable("normal_", self)
    bits, blocks = _normal_attrs(self.dtype, self.numel())
    st = _random.state(generator, self.device, "normal_")
    apply_inplace(
        "rng_normal", self, st, include_target=False, mean=float(mean), std=float(std),
        bits=bits, shape=tuple(self.shape),
    )  # fmt: skip
    _random.advance(st, blocks)
    return self


TENSOR_METHODS.update(uniform_=uniform_, normal_=normal_)


# ---------------------------------------------------------------- integers


def randint(
    low, high=None, size=(), *, generator=None, dtype=None, device=None, requires_grad=False
) -> Tensor:
    """Integers uniform in [low, high) (``randint(high, size)`` starts at 0), int32 unless
    ``dtype`` says otherwise: ``low + floor(w (high - low) / 2^32)`` of a 32-bit word w.

    >>> vkgrad.randint(0, 10, (3,), generator=vkgrad.Generator().manual_seed(1)).shape
    (3,)
    """
    if high is None:
        low, high = 0, low
    elif isinstance(high, (tuple, list)) and size == ():
        # randint(high, size): PyTorch's overload without low, size given by position.
        low, high, size = 0, low, high
    for name, v in (("low", low), ("high", high)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"randint: {name} must be an int, got {v!r}")
    low, high = int(low), int(high)
    if not low < high:
        raise ValueError(f"randint: expects low < high, got low={low}, high={high}")
    if low < _INT32_MIN or high > _INT32_END or high - low > 0xFFFFFFFF:
        raise ValueError(
            f"randint: [{low}, {high}) does not fit int32 (draws are int32, at most 2^32 - 1 "
            "values)"
        )
    shape = _shape_arg("randint", (size,))
    dev = Device.parse(device) if device is not None else default_device()
    dt = dtypes.get(dtype) if dtype is not None else dtypes.int32
    if dt is dtypes.bool_:
        raise TypeError("randint: bool is not an integer dtype here; use int32 or a float dtype")
    if dt is dtypes.float64 and dev.type != "cpu":
        raise TypeError(f"randint: float64 is not supported on {dev}")
    if requires_grad and not dt.is_floating:
        raise RuntimeError("randint: only floating-point tensors can require grad")
    st = _random.state(generator, dev, "randint")
    out = apply("rng_randint", st, shape=shape, low=low, span=high - low)
    _random.advance(st, _blocks(numel(shape)))
    out = F.to_dtype(out, dt)
    return out.requires_grad_(True) if requires_grad else out


def _host_words(op: str, n: int, generator, device: Device) -> np.ndarray:
    """n random uint32 words for a draw finished on the host (read back: not capturable)."""
    _random.refuse_host_draw(op)
    st = _random.state(generator, device, op)
    bits = apply("rng_bits", st, shape=(n,))
    _random.advance(st, _blocks(n))
    return bits.numpy().view(np.uint32)


def _host_uniform53(op: str, n: int, generator, device: Device) -> np.ndarray:
    w = _host_words(op, 2 * n, generator, device).astype(np.uint64)
    return ((w[0::2] >> np.uint64(5)) * (1 << 26) + (w[1::2] >> np.uint64(6))) * 2.0**-53


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A random permutation of 0..n-1: sorts 64-bit Philox keys on the host (so a captured
    step refuses it); the same seed gives the same permutation on every device."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"randperm: n must be a non-negative int, got {n!r}")
    if n > _INT32_END:
        raise ValueError(f"randperm: n={n} does not fit int32")
    dev = Device.parse(device) if device is not None else default_device()
    dt = dtypes.get(dtype) if dtype is not None else dtypes.int32
    w = _host_words("randperm", 2 * int(n), generator, dev).astype(np.uint64)
    keys = (w[0::2] << np.uint64(32)) | w[1::2]
    order = np.argsort(keys, kind="stable")
    out = F.to_dtype(_on(dev, order.astype(np.int32), dtypes.int32), dt)
    return out.requires_grad_(True) if requires_grad else out


def _on(dev: Device, arr: np.ndarray, dt):
    """A tensor on ``dev`` holding the host array ``arr``."""
    data = dev.backend.from_numpy(np.ascontiguousarray(arr), dt)
    return autograd.Tensor._make(data, tuple(arr.shape), dt, dev)


def multinomial(input, num_samples: int, replacement: bool = False, *, generator=None) -> Tensor:
    """Category indices drawn from the rows of ``input`` (non-negative weights, 1-D or 2-D),
    int32. Without replacement: the exponential race (the k smallest -log(u)/w), which draws
    as sampling one category at a time would. Finished on the host: not capturable."""
    op = "multinomial"
    if input.ndim not in (1, 2):
        raise RuntimeError(f"{op}: prob_dist must be 1 or 2 dim, got shape {tuple(input.shape)}")
    if not input.dtype.is_floating:
        raise TypeError(f"{op}: expects floating-point weights, got {input.dtype.name}")
    k = num_samples
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k <= 0:
        raise ValueError(f"{op}: num_samples must be a positive int, got {num_samples!r}")
    _random.refuse_host_draw(op)
    w = input.numpy().astype(np.float64).reshape(-1, input.shape[-1])
    rows, cats = w.shape
    if cats == 0:
        raise RuntimeError(f"{op}: cannot sample from an empty distribution")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise RuntimeError(f"{op}: probability tensor contains inf, nan or negative elements")
    nonzero = (w > 0).sum(-1)
    if np.any(nonzero == 0):
        raise RuntimeError(f"{op}: invalid distribution: a row sums to 0")
    if not replacement and k > int(nonzero.min()):
        raise RuntimeError(
            f"{op}: cannot sample {k} samples without replacement from a row with "
            f"{int(nonzero.min())} non-zero categories"
        )
    k = int(k)
    if replacement:
        # Inverse CDF: the first category whose cumulative weight exceeds u * total.
        u = _host_uniform53(op, rows * k, generator, input.device).reshape(rows, k)
        cdf = np.cumsum(w, axis=-1)
        out = np.empty((rows, k), np.int64)
        for r in range(rows):
            idx = np.searchsorted(cdf[r], u[r] * cdf[r, -1], side="right")
            # rounding can put u * total at the very end: the last category that can be drawn
            out[r] = np.minimum(idx, int(np.flatnonzero(w[r])[-1]))
    else:
        # One uniform per category: keys -log(1 - u) / w (zero weights never come first).
        u = _host_uniform53(op, rows * cats, generator, input.device).reshape(rows, cats)
        with np.errstate(divide="ignore"):
            keys = np.where(w > 0, -np.log1p(-u) / np.where(w > 0, w, 1.0), np.inf)
        out = np.argsort(keys, axis=-1, kind="stable")[:, :k]
    res = out.reshape(tuple(input.shape[:-1]) + (int(k),)).astype(np.int32)
    return _on(input.device, res, dtypes.int32)


# ---------------------------------------------------------------- bernoulli


def bernoulli(input, p=None, *, generator=None) -> Tensor:
    """1 with probability ``input`` (or the scalar ``p``) and 0 otherwise, in input's dtype:
    ``u < p`` for a uniform u of 24 bits (exact in f32, so the same on every backend)."""
    op = "bernoulli"
    if not input.dtype.is_floating:
        raise TypeError(f"{op}: expects a floating-point tensor, got {input.dtype.name}")
    shape = tuple(input.shape)
    st = _random.state(generator, input.device, op)
    if p is None:
        probs = input.detach() if input.requires_grad else input
    else:
        probs = float(p)
        if not 0.0 <= probs <= 1.0:
            raise ValueError(f"{op}: p must be in [0, 1], got {p}")
    out = apply("bernoulli", probs, st, shape=shape, dtype=input.dtype)
    _random.advance(st, _blocks(numel(shape)))
    return out


def bernoulli_(self, p=0.5, *, generator=None) -> Tensor:
    """Fill in place with 1 (probability ``p``, a number or a tensor broadcast to self's
    shape) or 0."""
    op = "bernoulli_"
    if not self.dtype.is_floating:
        raise TypeError(f"{op}: expects a floating-point tensor, got {self.dtype.name}")
    _check_writable(op, self)
    if isinstance(p, (int, float, np.integer, np.floating)) and not isinstance(p, bool):
        probs = float(p)
        if not 0.0 <= probs <= 1.0:
            raise ValueError(f"{op}: p must be in [0, 1], got {p}")
    else:
        probs = F.to_dtype(p.detach(), self.dtype)
        if tuple(probs.shape) != tuple(self.shape):
            probs = F.expand(probs, tuple(self.shape))
    st = _random.state(generator, self.device, op)
    apply_inplace("bernoulli", self, probs, st, include_target=False, shape=tuple(self.shape))
    _random.advance(st, _blocks(self.numel()))
    return self


TENSOR_METHODS.update(bernoulli=bernoulli, bernoulli_=bernoulli_, multinomial=multinomial)
