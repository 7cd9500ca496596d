"""vkgrad: reverse-mode autograd whose kernels are GLSL compute shaders on any Vulkan device.

>>> import vkgrad
>>> x = vkgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> (x * x).sum().backward()
>>> x.grad
tensor([2., 4., 6.])
"""

# The engine first: it binds functional (and through it every op family) and tensor once it
# exists, and each of those imports it.
from . import autograd, dtypes, functional, library, ops
from .autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .backends.vulkan.pool import OutOfMemoryError
from .capturing import capture
from .device import Device, devices, empty_cache, memory_stats
from .device import _backends as _device_backends
from .device import device as device
from .device import dtype as dtype
from .dtypes import bool_, float16, float32, float64, int32

# isort: off
# BEGIN GENERATED EXPORTS (scripts/gen_exports.py)
from .library.elementwise import (
    abs as abs,
    acos,
    addcdiv,
    addcmul,
    arccos,
    arcsin,
    arctan,
    asin,
    atan,
    bitwise_and,
    bitwise_not,
    bitwise_or,
    bitwise_xor,
    ceil,
    clamp,
    clip,
    cos,
    cosh,
    elu,
    exp,
    expm1,
    floor,
    floor_divide,
    hardsigmoid,
    hardswish,
    leaky_relu,
    lerp,
    log,
    log10,
    log1p,
    log2,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    logsigmoid,
    maximum,
    minimum,
    mish,
    pow as pow,
    reciprocal,
    relu,
    remainder,
    round as round,
    rsqrt,
    selu,
    sigmoid,
    sign,
    sin,
    sinh,
    softplus,
    sqrt,
    square,
    tan,
    tanh,
    trunc,
    where,
)
from .library.indexing import (
    gather,
    index_add,
    index_select,
    masked_fill,
    masked_select,
    scatter,
    scatter_add,
)
from .library.linalg import (
    bmm,
    cross,
    det,
    dot,
    einsum,
    ger,
    inverse,
    logdet,
    matmul,
    mm,
    mv,
    outer,
    slogdet,
)
from .library.norm import (
    log_softmax,
    softmax,
)
from .library.random import (
    bernoulli,
    multinomial,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
)
from .library.reduction import (
    all as all,
    amax,
    amin,
    any as any,
    argmax,
    argmin,
    cumprod,
    cumsum,
    logsumexp,
    max as max,
    mean,
    min as min,
    norm,
    prod,
    std,
    sum as sum,
    var,
)
from .library.shape import (
    cat,
    chunk,
    concat,
    concatenate,
    diag,
    diagonal,
    flatten,
    flip,
    fliplr,
    flipud,
    hstack,
    narrow,
    permute,
    repeat_interleave,
    reshape,
    roll,
    select,
    split,
    squeeze,
    stack,
    tile,
    transpose,
    tril,
    triu,
    unbind,
    unflatten,
    unsqueeze,
    vstack,
)

# END GENERATED EXPORTS
# isort: on
from .random import (
    Generator,
    default_generator,
    get_rng_state,
    initial_seed,
    manual_seed,
    seed,
    set_rng_state,
)
from .serialization import load, save
from .tensor import (
    Tensor,
    arange,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    is_floating_point,
    is_tensor,
    ones,
    ones_like,
    tensor,
    zeros,
    zeros_like,
)

float = float32
half = float16
double = float64
bool = bool_
# int64/long data is stored as int32, with an error for values that do not fit (dtypes.py).
int = long = int64 = int32

__version__ = "0.1.0"


def numel(input: Tensor) -> int:
    """The number of elements of ``input`` (``torch.numel``)."""
    return input.numel()


def synchronize() -> None:
    """Wait for all work queued on every device."""
    for b in _device_backends.values():
        b.synchronize()


from . import amp, cuda, data, distributed, linalg, nn, optim, profiler, utils  # noqa: E402  (after Tensor: all build on it)
