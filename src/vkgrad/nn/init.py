"""Parameter initialisation, in place and without recording a graph (``torch.nn.init``).

Uniform and normal values are drawn on the tensor's device from ``generator`` (by default
that device's default generator, which ``vkgrad.manual_seed`` seeds), as ``Tensor.uniform_``
and ``Tensor.normal_`` draw them. ``trunc_normal_`` and ``orthogonal_`` finish on the host
(rejection, a QR decomposition) from normals drawn the same way.
"""

from __future__ import annotations

import math

import numpy as np

from .. import dtypes
from .. import random as _random
from ..autograd import no_grad
from ..library.random import randn
from ..tensor import Tensor


def _write(tensor: Tensor, values: np.ndarray) -> Tensor:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"init: expected a vkgrad Tensor, got {type(tensor).__name__}")
    with no_grad():
        tensor._set_values(np.asarray(values, dtype=np.float64).reshape(tensor.shape))
    tensor._version[0] += 1
    return tensor


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (as ``torch.nn.init.calculate_gain``)."""
    linear = ("linear", "conv1d", "conv2d", "conv3d", "sigmoid")
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple:
    if tensor.ndim < 2:
        raise ValueError(
            "init: fan in and fan out can not be computed for a tensor with fewer than 2 "
            f"dimensions (shape {tuple(tensor.shape)})"
        )
    receptive = 1
    for s in tensor.shape[2:]:
        receptive *= s
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _check(tensor) -> None:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"init: expected a vkgrad Tensor, got {type(tensor).__name__}")


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    """Fill with U(a, b). ``nn.init.uniform_(w, -0.1, 0.1)``"""
    _check(tensor)
    with no_grad():
        tensor.uniform_(a, b, generator=generator)
    return tensor


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    """Fill with N(mean, std^2)."""
    _check(tensor)
    with no_grad():
        tensor.normal_(mean, std, generator=generator)
    return tensor


def _host_normals(op: str, tensor: Tensor, shape: tuple, generator) -> np.ndarray:
    """Standard normals drawn on the tensor's device, read back for work on the host."""
    _random.refuse_host_draw(op)
    dt = dtypes.float64 if tensor.dtype is dtypes.float64 else dtypes.float32
    return randn(shape, generator=generator, dtype=dt, device=tensor.device).numpy()


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with ``val``. ``nn.init.constant_(b, 0.1)``"""
    with no_grad():
        tensor.fill_(val)
    return tensor


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with 0."""
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with 1."""
    return constant_(tensor, 1.0)


def kaiming_uniform_(
    tensor: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator=None,
) -> Tensor:
    """He init: U(-b, b) with b = gain * sqrt(3 / fan). ``nn.Linear`` uses a=sqrt(5)."""
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming_uniform_: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    fan = fan_in if mode == "fan_in" else fan_out
    if fan == 0:
        return tensor
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(
    tensor: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator=None,
) -> Tensor:
    """He init: N(0, std^2) with std = gain / sqrt(fan). ``nn.init.kaiming_normal_(w)``"""
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming_normal_: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    fan = fan_in if mode == "fan_in" else fan_out
    if fan == 0:
        return tensor
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan), generator)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot init: U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot init: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def trunc_normal_(
    tensor: Tensor,
    mean: float = 0.0,
    std: float = 1.0,
    a: float = -2.0,
    b: float = 2.0,
    generator=None,
) -> Tensor:
    """Fill with N(mean, std^2) restricted to [a, b] (redrawn until inside, so exactly the
    truncated distribution). ``nn.init.trunc_normal_(w, std=0.02)``"""
    _check(tensor)
    n = math.prod(tensor.shape)
    out = np.empty(0)
    while out.size < n:
        z = _host_normals("trunc_normal_", tensor, (max(2 * (n - out.size), 16),), generator)
        draw = mean + std * z.astype(np.float64)
        out = np.concatenate([out, draw[(draw >= a) & (draw <= b)]])
    return _write(tensor, out[:n])


def eye_(tensor: Tensor) -> Tensor:
    """The 2-D identity (ones on the diagonal of a possibly non-square matrix)."""
    if tensor.ndim != 2:
        raise ValueError(f"eye_: only 2-D tensors are supported, got shape {tuple(tensor.shape)}")
    return _write(tensor, np.eye(*tensor.shape))


def orthogonal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """A (semi-)orthogonal matrix times ``gain``, from the QR decomposition of a Gaussian
    matrix (Saxe et al. 2013); dims after the first are flattened.

    >>> nn.init.orthogonal_(w, gain=nn.init.calculate_gain("relu"))
    """
    if tensor.ndim < 2:
        raise ValueError(
            f"orthogonal_: only tensors with 2 or more dimensions are supported, got shape "
            f"{tuple(tensor.shape)}"
        )
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = _host_normals("orthogonal_", tensor, (rows, cols), generator).astype(np.float64)
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))  # makes the distribution uniform (Haar)
    if rows < cols:
        q = q.T
    return _write(tensor, gain * q)
