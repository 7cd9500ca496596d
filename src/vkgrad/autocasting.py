"""Autocast's op policy: which public functions run in f16 and which in f32 while
``vkgrad.amp.autocast`` is active, and the wrapper that casts their inputs.

The lists follow PyTorch's (https://pytorch.org/docs/stable/amp.html, "CUDA Ops that can
autocast to float16" and "... to float32"), restricted to the functions vkgrad has, plus
``mean`` and ``batch_norm`` in f32: a mean of f16 values and batch statistics are what
mixed precision keeps in f32. Functions in neither list run in the dtype of their inputs
(binary ops promote, as always).

The families mark their functions with ``@autocasting.policy`` (or ``policy(fn, name)``
for functions made by a factory); a function whose name is in neither list is returned
unchanged, so marking costs nothing there. A marked function checks one global counter
when no autocast is active.
"""

from __future__ import annotations

import functools
import threading
from typing import Any, Callable

from . import dtypes

F16_OPS = frozenset(
    {
        "matmul",
        "mm",
        "bmm",
        "mv",
        "linear",
        "conv1d",
        "conv2d",
        "conv_transpose1d",
        "conv_transpose2d",
        "scaled_dot_product_attention",
    }
)
F32_OPS = frozenset(
    {
        # elementwise math whose f16 range or precision is too small
        "pow",
        "acos",
        "asin",
        "cosh",
        "sinh",
        "tan",
        "exp",
        "expm1",
        "log",
        "log10",
        "log1p",
        "log2",
        "reciprocal",
        "rsqrt",
        "softplus",
        # reductions
        "sum",
        "mean",
        "prod",
        "cumsum",
        "cumprod",
        "logsumexp",
        "norm",
        "normalize",
        "var",
        "std",
        "cosine_similarity",
        # softmax and the losses
        "softmax",
        "log_softmax",
        "cross_entropy",
        "nll_loss",
        "mse_loss",
        "l1_loss",
        "smooth_l1_loss",
        "huber_loss",
        "kl_div",
        "binary_cross_entropy",
        "binary_cross_entropy_with_logits",
        "cosine_embedding_loss",
        "margin_ranking_loss",
        "triplet_margin_loss",
        # normalisation layers
        "layer_norm",
        "group_norm",
        "batch_norm",
        "rms_norm",
    }
)

_state = threading.local()
_ACTIVE = [0]  # autocast regions entered and not left, over all threads: the fast path


def current() -> tuple | None:
    """(device type, dtype, cache casts) of this thread's innermost enabled autocast region,
    or None (none, a disabled one innermost, or inside an op autocast already cast for)."""
    stack = getattr(_state, "stack", None)
    if not stack:
        return None
    return stack[-1]


def push(entry: tuple | None) -> None:
    """Enter a region: ``(device type, dtype, cache casts)``, or None for one that disables
    autocast."""
    stack = getattr(_state, "stack", None)
    if stack is None:
        stack = _state.stack = []
    stack.append(entry)
    _ACTIVE[0] += 1


def pop() -> None:
    _state.stack.pop()
    _ACTIVE[0] -= 1
    if not _state.stack:
        _state.cache = {}


def _device_type(t) -> str:
    return "cpu" if t.device.type == "cpu" else "vulkan"


def _cast(x: Any, to: dtypes.DType, frm: dtypes.DType, device_type: str, cache: bool) -> Any:
    # Only f32 <-> f16 moves (f64 on the cpu stays f64, as PyTorch leaves float64 alone), and
    # only tensors on the region's device type.
    from .autograd import F, Tensor

    if not isinstance(x, Tensor) or x.dtype is not frm or _device_type(x) != device_type:
        return x
    if cache and x.is_leaf and x.requires_grad:
        # A parameter used several times in the region is cast once (PyTorch's cast cache).
        cache = getattr(_state, "cache", None)
        if cache is None:
            cache = _state.cache = {}
        key = (id(x), x._version[0], to.name)
        hit = cache.get(key)
        if hit is not None and hit[0] is x:
            return hit[1]
        y = F.to_dtype(x, to)
        cache[key] = (x, y)
        return y
    return F.to_dtype(x, to)


def policy(fn: Callable, name: str | None = None) -> Callable:
    """``fn`` run under autocast's policy for ``name`` (default: its own name): its floating
    tensor arguments cast to f16 (``F16_OPS``) or to f32 (``F32_OPS``) on the region's
    device type, and autocast suspended inside, so that the op's own internals run as
    written. Unlisted names: ``fn`` itself."""
    name = name or fn.__name__
    if name in F16_OPS:
        to, frm = dtypes.float16, dtypes.float32
    elif name in F32_OPS:
        to, frm = dtypes.float32, dtypes.float16
    else:
        return fn

    @functools.wraps(fn)
    def autocast_op(*args: Any, **kwargs: Any) -> Any:
        if not _ACTIVE[0]:
            return fn(*args, **kwargs)
        region = current()
        if region is None:
            return fn(*args, **kwargs)
        device_type, low, cache = region
        target = low if to is dtypes.float16 else to
        source = frm if to is dtypes.float16 else low
        args = tuple(_cast(a, target, source, device_type, cache) for a in args)
        kwargs = {k: _cast(v, target, source, device_type, cache) for k, v in kwargs.items()}
        push(None)  # the op's internals run as written
        try:
            return fn(*args, **kwargs)
        finally:
            pop()

    autocast_op.autocast = "f16" if to is dtypes.float16 else "f32"
    return autocast_op
