"""vkgrad: reverse-mode autograd whose kernels are GLSL compute shaders on any Vulkan device.

>>> import vkgrad
>>> x = vkgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> (x * x).sum().backward()
>>> x.grad
tensor([2., 4., 6.])
"""

from . import autograd, dtypes, functional, library, ops
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .capturing import capture
from .device import Device, devices
from .device import device as device
from .device import dtype as dtype
from .dtypes import bool_, float16, float32, float64, int32
from .functional import (
    abs,
    clamp,
    exp,
    log,
    log_softmax,
    matmul,
    maximum,
    mean,
    minimum,
    permute,
    pow,
    relu,
    reshape,
    sigmoid,
    softmax,
    sqrt,
    squeeze,
    sum,
    tanh,
    transpose,
    unsqueeze,
    where,
)
from .functional import max as max
from .random import manual_seed
from .serialization import load, save
from .tensor import (
    Tensor,
    arange,
    eye,
    from_numpy,
    full,
    full_like,
    ones,
    ones_like,
    rand,
    randint,
    randn,
    tensor,
    zeros,
    zeros_like,
)

float = float32
half = float16
double = float64
bool = bool_

__version__ = "0.1.0"


def synchronize() -> None:
    """Wait for all work queued on every device."""
    from .device import _backends

    for b in _backends.values():
        b.synchronize()


globals().update(library.exported("__all__"))

from . import data, linalg, nn, optim  # noqa: E402  (after Tensor: all build on it)
