"""Tensor-level functions over the op table. ``Tensor`` methods and ``nn.functional`` call these.

Ops with several forms (reductions over dims, softmax over any dim, batched matmul) are
reduced here to the few shapes the kernels take: the kernels reduce the last axis, softmax
the last axis, and matmul multiplies 3-D batches.
"""

from __future__ import annotations

import builtins  # this module defines sum, max, min, any, all, ... as ops
from collections import namedtuple

import numpy as np

from . import autograd, dtypes
from .autograd import apply

call = apply  # backward rules say F.call("kernel", ...)


def _t():
    return autograd._Tensor or autograd._tensor_cls()


# ---------------------------------------------------------------- elementwise


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


def pow(a, b):
    return _binary("pow", a, b)


def maximum(a, b):
    return _binary("maximum", a, b)


def minimum(a, b):
    return _binary("minimum", a, b)


def _binary(name: str, a, b):
    T = _t()
    if not isinstance(a, T) and not isinstance(b, T):
        raise TypeError(
            f"{name}: expected at least one tensor, got {type(a).__name__} and {type(b).__name__}"
        )
    if not (isinstance(a, T) and isinstance(b, T)):
        dt = scalar_result_dtype(name, a, b)
        if dt is not None:
            return apply(name, _scalar_ok(name, a), _scalar_ok(name, b), dtype=dt)
    return apply(name, _scalar_ok(name, a), _scalar_ok(name, b))


def scalar_result_dtype(name: str, *inputs):
    """PyTorch's result dtype where Python numbers meet only integer/bool tensors in a row of
    out_dtype "keep" (``int_tensor * 2.5`` is float32, ``bool_tensor + 1`` int32); else None
    (the row's own rule applies)."""
    from . import ops

    op = ops.OPS[name]
    if op.out_dtype != "keep":
        return None
    T = _t()
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


def _scalar_ok(name: str, x):
    if isinstance(x, _t()):
        return x
    if isinstance(x, (bool, int, float)):
        return float(x)
    if isinstance(x, np.generic) and np.ndim(x) == 0:
        return float(x)
    raise TypeError(f"{name}: expected a tensor or a Python number, got {type(x).__name__}")


def neg(x):
    return apply("neg", x)


def exp(x):
    return apply("exp", x)


def log(x):
    return apply("log", x)


def sqrt(x):
    return apply("sqrt", x)


def abs(x):
    return apply("abs", x)


def sign(x):
    return apply("sign", x)


def relu(x):
    return apply("relu", x)


def sigmoid(x):
    return apply("sigmoid", x)


def tanh(x):
    return apply("tanh", x)


def gelu(x, approximate: str = "none"):
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return apply("gelu", x, approximate=int(approximate == "tanh"))


def silu(x):
    return apply("silu", x)


def clamp(x, min=None, max=None):
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    T = _t()
    if isinstance(min, T) or isinstance(max, T):
        # Tensor bounds (the elementwise family's row): gradients flow to the bounds too.
        return apply(
            "clamp_tensor",
            x,
            0.0 if min is None else _scalar_ok("clamp", min),
            0.0 if max is None else _scalar_ok("clamp", max),
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
    T = _t()
    if not isinstance(cond, T):
        raise TypeError(f"where: condition must be a tensor, got {type(cond).__name__}")
    if cond.dtype is not dtypes.bool_:
        raise TypeError(f"where: condition must be a bool tensor, got {cond.dtype}")
    dt = scalar_result_dtype("where", cond, a, b)
    if dt is not None:
        return apply("where", cond, _scalar_ok("where", a), _scalar_ok("where", b), dtype=dt)
    return apply("where", cond, _scalar_ok("where", a), _scalar_ok("where", b))


def compare(name: str, a, b):
    return _binary(name, a, b)


# ---------------------------------------------------------------- shapes


def _norm_dim(op: str, dim: int, ndim: int) -> int:
    lo, hi = (-1, 0) if ndim == 0 else (-ndim, ndim - 1)
    if not lo <= dim <= hi:
        raise IndexError(
            f"{op}: dimension out of range (expected to be in range of [{lo}, {hi}], got {dim})"
        )
    return dim % ndim if ndim else 0


def reshape(x, *shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    shape = tuple(int(s) for s in shape)
    n = x.numel()
    if shape.count(-1) > 1:
        raise RuntimeError(f"reshape: only one dimension can be inferred, got {shape}")
    if -1 in shape:
        known = 1
        for s in shape:
            if s != -1:
                known *= s
        if known == 0 or n % known:
            raise RuntimeError(f"reshape: shape {shape} is invalid for input of size {n}")
        shape = tuple(n // known if s == -1 else s for s in shape)
    size = 1
    for s in shape:
        size *= s
    if size != n:
        raise RuntimeError(
            f"reshape: shape {shape} is invalid for input of shape {tuple(x.shape)} (size {n})"
        )
    if shape == tuple(x.shape):
        return x
    return _reshape_node(x, shape)


def permute(x, *dims):
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    nd = x.ndim
    if len(dims) != nd:
        raise RuntimeError(
            f"permute: number of dims {len(dims)} doesn't match the tensor's {nd} "
            f"(shape {tuple(x.shape)})"
        )
    dims = tuple(_norm_dim("permute", d, nd) for d in dims)
    if sorted(dims) != list(range(nd)):
        raise RuntimeError(f"permute: dims {dims} are not a permutation of 0..{nd - 1}")
    if dims == tuple(range(nd)):
        return x
    # Moving only size-1 dims needs no data movement.
    if [d for d in dims if x.shape[d] != 1] == [d for d in range(nd) if x.shape[d] != 1]:
        return reshape(x, tuple(x.shape[d] for d in dims))
    return apply("permute", x, dims=dims)


def transpose(x, dim0: int, dim1: int):
    nd = x.ndim
    if nd < 2 and dim0 in (0, -1) and dim1 in (0, -1):
        return x
    d0, d1 = _norm_dim("transpose", dim0, nd), _norm_dim("transpose", dim1, nd)
    dims = list(range(nd))
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return permute(x, dims)


def expand(x, *shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    shape = tuple(int(s) for s in shape)
    if len(shape) < x.ndim:
        raise RuntimeError(
            f"expand: the number of sizes {len(shape)} must be >= the tensor's {x.ndim} dims"
        )
    lead = len(shape) - x.ndim
    out = []
    for i, s in enumerate(shape):
        src = x.shape[i - lead] if i >= lead else 1
        if s == -1:
            if i < lead:
                raise RuntimeError("expand: -1 is not allowed in a new leading dimension")
            s = src
        if src != 1 and src != s:
            raise RuntimeError(
                f"expand: the expanded size {s} must match the existing size {src} at dim {i} "
                f"(shape {tuple(x.shape)} -> {shape})"
            )
        out.append(s)
    out = tuple(out)
    if out == tuple(x.shape):
        return x
    if [s for s in x.shape if s != 1] == [
        o for o, s in zip(out[lead:], x.shape) if s != 1
    ] and _numel(out) == x.numel():
        return reshape(x, out)
    return apply("expand", x, shape=out)


def unsqueeze(x, dim: int):
    nd = x.ndim + 1
    d = _norm_dim("unsqueeze", dim, nd)
    shape = list(x.shape)
    shape.insert(d, 1)
    return reshape(x, tuple(shape))


def squeeze(x, dim=None):
    if dim is None:
        return reshape(x, tuple(s for s in x.shape if s != 1))
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    dims = {_norm_dim("squeeze", d, x.ndim) for d in dims}
    return reshape(x, tuple(s for i, s in enumerate(x.shape) if not (i in dims and s == 1)))


def flatten(x, start_dim: int = 0, end_dim: int = -1):
    if x.ndim == 0:
        return reshape(x, (1,))
    s = _norm_dim("flatten", start_dim, x.ndim)
    e = _norm_dim("flatten", end_dim, x.ndim)
    shape = tuple(x.shape)
    return reshape(x, shape[:s] + (_numel(shape[s : e + 1]),) + shape[e + 1 :])


def _numel(shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def sum_to(x, shape):
    """Sum ``x`` down to ``shape`` (the inverse of broadcasting ``shape`` to ``x.shape``)."""
    shape = tuple(shape)
    if tuple(x.shape) == shape:
        return x
    lead = x.ndim - len(shape)
    dims = list(range(lead)) + [
        lead + i for i, s in enumerate(shape) if s == 1 and x.shape[lead + i] != 1
    ]
    out = sum(x, dims, keepdim=True) if dims else x
    return reshape(out, shape)


def to_dtype(x, dtype):
    dtype = dtypes.get(dtype)
    if x.dtype is dtype:
        return x
    return apply("copy", x, dtype=dtype)


# ---------------------------------------------------------------- reductions


def _reduce_dims(op: str, x, dim) -> list:
    if dim is None:
        return list(range(x.ndim))
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    out = sorted({_norm_dim(op, d, x.ndim) for d in dims})
    if len(out) != len(dims):
        raise RuntimeError(f"{op}: dim {tuple(dims)} appears multiple times")
    return out


def _last_axis(op: str, kernel: str, x, dim, keepdim: bool):
    """Run the last-axis reduction ``kernel`` over ``dim`` of x."""
    dims = _reduce_dims(op, x, dim)
    if x.ndim == 0:
        return apply(kernel, reshape(x, (1, 1))).reshape(())
    keep = [d for d in range(x.ndim) if d not in dims]
    xp = permute(x, keep + dims)
    kept_shape = tuple(x.shape[d] for d in keep)
    k = _numel(tuple(x.shape[d] for d in dims))
    if k == 0 and kernel == "max":
        raise RuntimeError(f"{op}: cannot reduce an empty dimension (shape {tuple(x.shape)})")
    out = apply(kernel, reshape(xp, (_numel(kept_shape), k)))
    if keepdim:
        return reshape(out, tuple(1 if d in dims else s for d, s in enumerate(x.shape)))
    return reshape(out, kept_shape)


def sum(x, dim=None, keepdim: bool = False, dtype=None):
    if dtype is not None:
        x = to_dtype(x, dtype)
    elif not x.dtype.is_floating:
        # int32 (PyTorch: int64), summed in f32: exact up to 2^24.
        out = _last_axis("sum", "sum", to_dtype(x, dtypes.float32), dim, keepdim)
        return to_dtype(out, dtypes.int32)
    return _last_axis("sum", "sum", x, dim, keepdim)


def mean(x, dim=None, keepdim: bool = False):
    if not x.dtype.is_floating:
        raise TypeError(f"mean: expected a floating point tensor, got {x.dtype}")
    dims = _reduce_dims("mean", x, dim)
    n = _numel(tuple(x.shape[d] for d in dims))
    return div(sum(x, dims, keepdim), float(n) if n else float("nan"))


MaxResult = namedtuple("max", "values indices")


def max(x, dim=None, keepdim: bool = False):
    """``max(x)``: the largest value; ``max(x, dim)``: (values, indices) along dim."""
    if dim is None:
        return _last_axis("max", "max", x, None, False)
    values = _last_axis("max", "max", x, dim, True)
    d = _norm_dim("max", dim, x.ndim)
    indices = _first_index_of(x, values, d)
    if not keepdim:
        values, indices = squeeze(values, d), squeeze(indices, d)
    return MaxResult(values, indices)


def _first_index_of(x, values, d: int):
    """The first index along dim d where x equals values (broadcast), as int32."""
    from .autograd import no_grad

    with no_grad():
        n = x.shape[d]
        shape = [1] * x.ndim
        shape[d] = n
        idx = reshape(arange_like(x, n), tuple(shape))
        cand = where(compare("eq", x, values), idx, float(n))
        first = neg(_last_axis("max", "max", neg(cand), d, True))
        return to_dtype(first, dtypes.int32)


def arange_like(x, n: int):
    from .tensor import arange

    return arange(n, dtype=x.dtype if x.dtype.is_floating else dtypes.float32, device=x.device)


# ---------------------------------------------------------------- softmax family


def _move_last(x, dim: int):
    d = _norm_dim("softmax", dim, x.ndim)
    if d == x.ndim - 1:
        return x, None
    dims = [i for i in range(x.ndim) if i != d] + [d]
    return permute(x, dims), dims


def _row_op(kernel: str, x, dim: int):
    if x.ndim == 0:
        return reshape(apply(kernel, reshape(x, (1, 1))), ())
    xp, dims = _move_last(x, dim)
    shape = tuple(xp.shape)
    out = reshape(apply(kernel, reshape(xp, (_numel(shape[:-1]), shape[-1]))), shape)
    if dims is None:
        return out
    inverse = [0] * len(dims)
    for i, d in enumerate(dims):
        inverse[d] = i
    return permute(out, inverse)


def softmax(x, dim: int = -1):
    return _row_op("softmax", x, dim)


def log_softmax(x, dim: int = -1):
    return _row_op("log_softmax", x, dim)


# ---------------------------------------------------------------- matmul


def matmul(a, b):
    T = _t()
    if not isinstance(a, T) or not isinstance(b, T):
        raise TypeError("matmul: expected two tensors")
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(
            f"matmul: both arguments need at least 1 dimension, got shapes {tuple(a.shape)} and "
            f"{tuple(b.shape)}"
        )
    a_vec, b_vec = a.ndim == 1, b.ndim == 1
    a2 = unsqueeze(a, 0) if a_vec else a
    b2 = unsqueeze(b, -1) if b_vec else b
    m, k = a2.shape[-2:]
    k2, n = b2.shape[-2:]
    if k != k2:
        raise RuntimeError(
            f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} do not align ({k} != {k2})"
        )
    from .ops import broadcast_shapes

    try:
        batch = broadcast_shapes("matmul", tuple(a2.shape[:-2]), tuple(b2.shape[:-2]))
    except ValueError:
        raise ValueError(
            f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)}: batch dims "
            f"{tuple(a2.shape[:-2])} and {tuple(b2.shape[:-2])} cannot be broadcast together"
        ) from None
    nb = _numel(batch)

    def as3(t, rows, cols):
        tb = tuple(t.shape[:-2])
        if _numel(tb) == 1:
            return reshape(t, (1, rows, cols))
        if tb != batch:
            t = expand(t, batch + (rows, cols))
        return reshape(t, (nb, rows, cols))

    out = apply("matmul", as3(a2, m, k), as3(b2, k, n), ta=0, tb=0)
    shape = batch + (m, n)
    if a_vec:
        shape = shape[:-2] + (n,)
    if b_vec:
        shape = shape[:-1] if not a_vec else shape[:-1]
    return reshape(out, shape)


# ---------------------------------------------------------------- indexing


def getitem(x, index):
    """Basic indexing: ints, slices with positive steps, None and Ellipsis; advanced indices
    (tensors, lists, bool masks) go to ``library.indexing``."""
    if not isinstance(index, tuple):
        index = (index,)
    # As in PyTorch: True is a new axis (never the int 1), NumPy integers are ints.
    if builtins.any(i is False for i in index):
        raise TypeError("getitem: a False index (an empty selection) is not supported")
    index = tuple(None if i is True else int(i) if isinstance(i, np.integer) else i for i in index)
    from .library import indexing

    if indexing.has_advanced(index):  # tensors, lists, bool masks: the indexing family
        return indexing.getitem(x, index)
    T = _t()
    n_ellipsis = 0
    for i in index:
        if i is Ellipsis:
            n_ellipsis += 1
        elif isinstance(i, T) or not (i is None or isinstance(i, (int, slice))):
            raise TypeError(
                f"getitem: only ints, slices, None and ... are supported as indices here, got "
                f"{type(i).__name__}"
            )
    if n_ellipsis > 1:
        raise IndexError("getitem: an index can only have a single ellipsis ('...')")
    n_real = len([i for i in index if i is not None and i is not Ellipsis])
    if n_real > x.ndim:
        raise IndexError(
            f"getitem: too many indices for tensor of dimension {x.ndim} (shape {tuple(x.shape)})"
        )
    if n_ellipsis:
        pos = index.index(Ellipsis)
        index = index[:pos] + (slice(None),) * (x.ndim - n_real) + index[pos + 1 :]
    else:
        index = index + (slice(None),) * (x.ndim - n_real)
    starts, steps, sizes, final = [], [], [], []
    dim = 0
    for i in index:
        if i is None:
            final.append(1)
            continue
        size = x.shape[dim]
        if isinstance(i, int):
            j = i + size if i < 0 else i
            if not 0 <= j < size:
                raise IndexError(
                    f"getitem: index {i} is out of bounds for dimension {dim} with size {size}"
                )
            starts.append(j)
            steps.append(1)
            sizes.append(1)
        else:
            start, stop, step = i.indices(size)
            if step <= 0:
                raise ValueError("getitem: step must be greater than zero")
            length = len(range(start, stop, step))
            starts.append(start if length else 0)
            steps.append(step)
            sizes.append(length)
            final.append(length)
        dim += 1
    if (
        builtins.all(st == 0 for st in starts)
        and builtins.all(s == 1 for s in steps)
        and tuple(sizes) == tuple(x.shape)
    ):
        out = x
    else:
        out = apply("slice", x, starts=tuple(starts), steps=tuple(steps), out_shape=tuple(sizes))
    return reshape(out, tuple(final))


# ---------------------------------------------------------------- losses


def cross_entropy(
    input,
    target,
    weight=None,
    size_average=None,
    ignore_index: int | None = None,
    reduce=None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
):
    """Fused, numerically stable cross entropy from logits.

    ``target`` holds class indices (an int32 tensor of shape (N,)) or class probabilities
    (a float tensor of the input's shape (N, C)). With ``weight``, ``ignore_index`` or
    ``label_smoothing`` (and (N, C, d1, ...) inputs) it is composed of log_softmax and nll_loss
    (``library/loss.py``). Without them the fused kernels run, which ignore no target: unlike
    PyTorch, targets of -100 are ignored only when ``ignore_index=-100`` is given (checking
    every call would cost a pass over the targets).
    """
    if weight is not None or ignore_index is not None or label_smoothing:
        from .library.loss import cross_entropy_options

        return cross_entropy_options(
            input,
            target,
            weight,
            -100 if ignore_index is None else ignore_index,
            reduction,
            float(label_smoothing),
        )
    _check_reduction("cross_entropy", reduction)
    T = _t()
    if not isinstance(target, T):
        raise TypeError("cross_entropy: target must be a tensor")
    x = input
    if x.ndim == 1:
        x = unsqueeze(x, 0)
        target = unsqueeze(target, 0) if target.dtype.is_floating else reshape(target, (1,))
    if x.ndim != 2:
        raise ValueError(
            f"cross_entropy: expected input of shape (N, C) or (C,), got {tuple(input.shape)}"
        )
    if target.dtype.is_floating:
        if tuple(target.shape) != tuple(x.shape):
            raise ValueError(
                f"cross_entropy: probability targets must have the input's shape "
                f"{tuple(x.shape)}, got {tuple(target.shape)}"
            )
        losses = apply("cross_entropy_prob", x, to_dtype(target, x.dtype))
    else:
        if target.dtype is not dtypes.int32:
            raise TypeError(f"cross_entropy: class targets must be int32, got {target.dtype}")
        if tuple(target.shape) != (x.shape[0],):
            raise ValueError(
                f"cross_entropy: class-index targets must have shape ({x.shape[0]},) for input "
                f"{tuple(x.shape)}, got {tuple(target.shape)}"
            )
        losses = apply("cross_entropy_index", x, target)
    return _reduce_loss(losses, reduction)


def mse_loss(input, target, reduction: str = "mean"):
    _check_reduction("mse_loss", reduction)
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(
            f"mse_loss: input shape {tuple(input.shape)} and target shape "
            f"{tuple(target.shape)} differ"
        )
    d = sub(input, target)
    return _reduce_loss(mul(d, d), reduction)


def _check_reduction(op: str, reduction: str) -> None:
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _reduce_loss(losses, reduction: str):
    if reduction == "mean":
        return mean(losses)
    if reduction == "sum":
        return sum(losses)
    return losses


# ---------------------------------------------------------------- creation helpers


def ones_like(x):
    return full_like(x, 1.0)


def zeros_like(x):
    return full_like(x, 0.0)


def full_like(x, value):
    return apply("fill", value=float(value), shape=tuple(x.shape), dtype=x.dtype, device=x.device)


def zeros_like_meta(shape, dtype, device):
    return apply("fill", value=0.0, shape=tuple(shape), dtype=dtype, device=device)


# ---------------------------------------------------------------- reshape: a view, no kernel


def view(x, shape: tuple):
    """The same storage seen with another shape, with no graph node: callers check sizes."""
    out = _t()._make(x._device.backend.reshape(x._data, shape), shape, x._dtype, x._device)
    out._version = x._version  # a view: in-place changes show through both
    return out


def _reshape_node(x, shape: tuple):
    out = view(x, shape)
    if autograd.is_grad_enabled() and x.requires_grad:
        autograd.record(_ReshapeNode(tuple(x.shape)), [x], [out])
    return out


class _ReshapeNode(autograd.Node):
    def __init__(self, in_shape) -> None:
        super().__init__()
        self.in_shape = in_shape

    def name(self) -> str:
        return "ViewBackward0"

    def apply(self, grads):
        return (reshape(grads[0], self.in_shape),)


def update(name: str, *tensors, **attrs) -> None:
    """Run an in-place ``update`` row (an optimizer step) on the tensors' device.

    The row's attrs travel to the kernel as a small array of their own (f64 on the cpu, f32
    on Vulkan), not as constants baked into the dispatch, so that a captured step
    (``vkgrad.capture``) replays with the new learning rate and bias corrections.
    No graph is recorded; every tensor's version goes up, as for any in-place op.
    """
    from . import capturing, ops

    op = ops.OPS[name]
    if capturing.ACTIVE is not None and capturing.refresh_update(name, attrs, op.attrs):
        return  # a replay's host pass: the new values went into the recorded array
    if op.kind != "update":
        raise ValueError(f"update: {name} is not an update op")
    if len(tensors) != op.nin:
        raise TypeError(f"{name}: expected {op.nin} tensors, got {len(tensors)}")
    dev = tensors[0].device
    for t in tensors:
        if t.device != dev:
            raise RuntimeError(f"{name}: expected all tensors on {dev}, got one on {t.device}")
        if t.numel() != tensors[0].numel():
            raise ValueError(
                f"{name}: expected tensors of {tensors[0].numel()} elements, got shape "
                f"{tuple(t.shape)}"
            )
    missing = [a for a in op.attrs if a not in attrs]
    if missing:
        raise TypeError(f"{name}: missing attributes {missing}")
    values = np.array([float(attrs[a]) for a in op.attrs], dtype=np.float64)
    hyper = dev.backend.from_numpy(values, _HYPER_DTYPE[dev.type])
    capturing.note_update(name, hyper)
    dev.backend.run(op, [t._data for t in tensors] + [hyper], attrs, (), tensors[0].dtype)
    seen = set()
    for t in tensors:
        if id(t._version) not in seen:
            seen.add(id(t._version))
            t._version[0] += 1


# The cpu computes updates in the parameter's precision (f64 included); shaders read f32.
_HYPER_DTYPE = {"cpu": dtypes.float64, "vulkan": dtypes.float32}


# The op families' public functions (vkgrad/library), so that rules and users find every op
# here. A family may extend a core function above by defining the same name.
from .library import exported as _exported  # noqa: E402  (the families need this module)

globals().update(_exported("__all__", "NN_FUNCTIONAL"))
