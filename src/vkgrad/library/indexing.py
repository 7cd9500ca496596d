"""Indexing with integer and boolean tensors: gather/scatter/index_select/index_add/masked_*,
advanced __getitem__/__setitem__, one_hot, embedding.

The family's rows (added to ``ops.OPS``), their backward rules and the public functions.

Index tensors are int32 (PyTorch uses int64); float index tensors are rejected. Two kernels do
the work: a gather (one thread per output element reads the input at an index) and a scatter
(one thread per source element writes, or atomically adds, at an index). On the NumPy backend an
out-of-range index raises IndexError naming the op. On Vulkan, reading the indices back would
cost a host sync, so the backend checks the value range of indices uploaded from the host
(``Op.bounds``), and the kernels skip bad indices made on the device: a gather reads 0 there, a
scatter drops the element.
Boolean masks (``masked_select``, ``x[mask]``) size their output by the mask's count, which is
read on the host (a device sync on Vulkan), as in PyTorch.
"""

from __future__ import annotations

import math

import numpy as np

from .. import autograd, dtypes
from .. import functional as F
from ..autograd import apply_inplace, is_grad_enabled, no_grad
from ..ops import OPS, row
from ..shapes import broadcast_shapes, contiguous_strides, normalize_dim

# Public names: ``vkgrad.<name>`` and ``vkgrad.functional.<name>``.
__all__: list[str] = [
    "gather",
    "index_add",
    "index_select",
    "masked_fill",
    "masked_select",
    "scatter",
    "scatter_add",
]
# Names exported by ``vkgrad.nn.functional``.
NN_FUNCTIONAL: list[str] = ["embedding", "one_hot"]
# Exported by ``vkgrad.functional`` only: helpers other families and layers use.
FUNCTIONAL: list[str] = []
# Tensor methods: {method name: function(self, ...)}; filled at the end of this module.
TENSOR_METHODS: dict = {}


# ---------------------------------------------------------------- shape rules


def _dims_note(name: str, what: str, a, b) -> ValueError:
    return ValueError(f"{name}: {what} (shapes {tuple(a)} and {tuple(b)})")


def _check_index_dims(name: str, x, idx, d: int) -> None:
    if len(idx) != len(x):
        raise _dims_note(name, "index must have as many dims as input", x, idx)
    for k, (si, sx) in enumerate(zip(idx, x)):
        if k != d and si > sx:
            raise _dims_note(name, f"index size {si} exceeds input size {sx} at dim {k}", x, idx)


def _gather_shape(in_shapes, attrs):
    x, idx = in_shapes
    _check_index_dims("gather", x, idx, attrs["dim"])
    return tuple(idx)


def _select_shape(name: str):
    def shape(in_shapes, attrs):
        x, idx = in_shapes
        d = attrs.get("dim", 0)
        if len(idx) != 1:
            raise ValueError(f"{name}: index must be 1-D, got shape {tuple(idx)}")
        if name == "embedding" and len(x) != 2:
            raise ValueError(f"embedding: weight must be 2-D, got shape {tuple(x)}")
        return tuple(x[:d]) + (idx[0],) + tuple(x[d + 1 :])

    return shape


def _scatter_shape(name: str):
    def shape(in_shapes, attrs):
        x, idx, src = in_shapes
        _check_index_dims(name, x, idx, attrs["dim"])
        if len(src) or attrs.get("src_tensor", 1):
            if len(src) != len(idx) or any(si > ss for si, ss in zip(idx, src)):
                raise _dims_note(name, "index must not be larger than src in any dim", idx, src)
        return tuple(x)

    return shape


def _index_add_shape(in_shapes, attrs):
    x, idx, src = in_shapes
    d = attrs["dim"]
    if len(idx) != 1:
        raise ValueError(f"index_add: index must be 1-D, got shape {tuple(idx)}")
    want = tuple(x[:d]) + (idx[0],) + tuple(x[d + 1 :])
    if tuple(src) != want:
        raise ValueError(
            f"index_add: source shape {tuple(src)} does not match {want} (input {tuple(x)}, "
            f"dim {d}, index of length {idx[0]})"
        )
    return tuple(x)


def _one_hot_shape(in_shapes, attrs):
    return tuple(in_shapes[0]) + (attrs["num_classes"],)


def _linear_shape(in_shapes, attrs):
    return broadcast_shapes("getitem", *in_shapes)


# ---------------------------------------------------------------- index bounds (Op.bounds)


def _along(op: str, dim: str | None = None, skip: str | None = None, pos: int = 1):
    """Indices at input ``pos`` into dim ``attrs[dim]`` (0 without one) of input 0; attr
    ``skip``, when >= 0, is a value that marks elements to skip."""

    def bounds(in_shapes, attrs):
        d = attrs.get(dim, 0) if dim else 0
        n = in_shapes[0][d]
        s = int(attrs.get(skip, -1)) if skip else -1
        msg = f"{op}: index {{v}} is out of bounds for dimension {d} with size {n}"
        return pos, 0, n, (s if s >= 0 else None), msg

    return bounds


def _one_hot_bounds(in_shapes, attrs):
    c = attrs["num_classes"]
    return 0, 0, c, None, f"one_hot: class value {{v}} is out of range [0, {c})"


def _linear_bounds(in_shapes, attrs):
    n, d = int(attrs["size"]), attrs["dim"]
    return 1, -n, n, None, f"indexing: index {{v}} is out of bounds for dimension {d} with size {n}"


# ---------------------------------------------------------------- backward rules


def _zeros(meta, device):
    shape, dtype = meta
    return F.zeros_like_meta(shape, dtype, device)


def _pad_to(g, shape):
    """g (the index's shape) placed at the origin of zeros of ``shape`` (src larger than index)."""
    if tuple(g.shape) == tuple(shape):
        return g
    n = len(shape)
    return F.call(
        "slice_backward",
        g,
        in_shape=tuple(shape),
        starts=(0,) * n,
        steps=(1,) * n,
        out_shape=tuple(g.shape),
    )


def _gather_rule(ctx, g):
    _, idx = ctx.inputs
    base = _zeros(ctx._input_meta[0], g.device)
    return F.call("scatter_add", base, idx, g, dim=ctx.attrs["dim"]), None


def _index_select_rule(ctx, g):
    _, idx = ctx.inputs
    base = _zeros(ctx._input_meta[0], g.device)
    skip = ctx.attrs.get("skip", -1)
    return F.call("index_add", base, idx, g, dim=ctx.attrs["dim"], alpha=1.0, skip=skip), None


def _embedding_rule(ctx, g):
    _, idx = ctx.inputs
    base = _zeros(ctx._input_meta[0], g.device)
    skip = ctx.attrs["padding_idx"]
    return F.call("index_add", base, idx, g, dim=0, alpha=1.0, skip=skip), None


def _scatter_add_rule(ctx, g):
    _, idx, src = ctx.inputs
    gsrc = None
    if ctx.needs_input_grad[2]:
        gsrc = _pad_to(F.call("gather", g, idx, dim=ctx.attrs["dim"]), src.shape)
    return g, None, gsrc


def _index_add_rule(ctx, g):
    _, idx, _ = ctx.inputs
    a = ctx.attrs
    gsrc = None
    if ctx.needs_input_grad[2]:
        gsrc = F.call("index_select", g, idx, dim=a["dim"], skip=a.get("skip", -1))
        if a["alpha"] != 1.0:
            gsrc = F.mul(gsrc, a["alpha"])
    return g, None, gsrc


def _scatter_rule(ctx, g):
    _, idx, src = ctx.inputs
    d = ctx.attrs["dim"]
    # The scattered positions were overwritten: no gradient reaches the input there.
    gx = F.call("scatter", g, idx, 0.0, dim=d, src_tensor=0) if ctx.needs_input_grad[0] else None
    gsrc = None
    if ctx.needs_input_grad[2]:
        gsrc = _pad_to(F.call("gather", g, idx, dim=d), src.shape)
    return gx, None, gsrc


# ---------------------------------------------------------------- the rows

# Gathers: one thread per output element. skip: an index value that reads 0 (padding rows).
row(
    "gather",
    "gather",
    2,
    _gather_rule,
    attrs=("dim",),
    saves="i",
    no_grad_inputs=(1,),
    out_dtype="input0",
    shape=_gather_shape,
    bounds=_along("gather", "dim"),
)
row(
    "index_select",
    "gather",
    2,
    _index_select_rule,
    attrs=("dim", "skip"),
    saves="i",
    no_grad_inputs=(1,),
    out_dtype="input0",
    shape=_select_shape("index_select"),
    bounds=_along("index_select", "dim", "skip"),
)
row(
    "embedding",
    "gather",
    2,
    _embedding_rule,
    attrs=("padding_idx",),
    saves="i",
    no_grad_inputs=(1,),
    out_dtype="input0",
    shape=_select_shape("embedding"),
    bounds=_along("embedding"),
)
# Scatters: the input copied, then one thread per source element writes (scatter) or adds
# atomically (scatter_add, index_add) at the index. src may be a Python scalar for scatter
# (src_tensor=0). skip: an index value whose elements are dropped.
row(
    "scatter_add",
    "scatter_add",
    3,
    _scatter_add_rule,
    attrs=("dim",),
    saves="i",
    no_grad_inputs=(1,),
    out_dtype="input0",
    shape=_scatter_shape("scatter_add"),
    bounds=_along("scatter_add", "dim"),
)
row(
    "index_add",
    "scatter_add",
    3,
    _index_add_rule,
    attrs=("dim", "alpha", "skip"),
    saves="i",
    no_grad_inputs=(1,),
    out_dtype="input0",
    shape=_index_add_shape,
    bounds=_along("index_add", "dim", "skip"),
)
row(
    "scatter",
    "scatter",
    3,
    _scatter_rule,
    attrs=("dim", "src_tensor"),
    saves="i",
    no_grad_inputs=(1,),
    out_dtype="input0",
    shape=_scatter_shape("scatter"),
    bounds=_along("scatter", "dim"),
)
row(
    "one_hot",
    "shape_index",
    1,
    attrs=("num_classes",),
    out_dtype="int32",
    shape=_one_hot_shape,
    bounds=_one_hot_bounds,
)
# acc + wrap(t) * stride over the broadcast shape, int32: the flat position of an element
# picked by several index tensors (getitem); wrap(t) = t + size for negative t.
row(
    "index_linear",
    "index_linear",
    2,
    attrs=("size", "stride", "dim"),
    out_dtype="int32",
    shape=_linear_shape,
    bounds=_linear_bounds,
)


# ---------------------------------------------------------------- argument checks


def _index_tensor(op: str, index, what: str = "index"):
    if not isinstance(index, autograd.Tensor):
        raise TypeError(f"{op}: {what} must be an int32 tensor, got {type(index).__name__}")
    if index.dtype is not dtypes.int32:
        raise TypeError(f"{op}: {what} must be an int32 tensor, got dtype {index.dtype}")
    return index


def _as_1d(x):
    return F.reshape(x, (1,)) if x.ndim == 0 else x


# ---------------------------------------------------------------- gathers


def gather(input, dim: int, index):
    """Values of ``input`` along ``dim`` at ``index``: ``out[i][j] = input[i][index[i][j]]``
    (dim=1).

    >>> vkgrad.gather(vkgrad.tensor([[1., 2.], [3., 4.]]), 1, vkgrad.tensor([[1], [0]]))
    """
    _index_tensor("gather", index)
    if input.ndim == 0 and index.ndim == 0:
        normalize_dim("gather", dim, 0)
        return F.reshape(F.call("gather", _as_1d(input), _as_1d(index), dim=0), ())
    d = normalize_dim("gather", dim, input.ndim)
    return F.call("gather", input, index, dim=d)


def index_select(input, dim: int, index):
    """The slices of ``input`` along ``dim`` at the positions in the 1-D ``index``.

    >>> vkgrad.index_select(vkgrad.eye(3), 0, vkgrad.tensor([2, 0]))
    """
    _index_tensor("index_select", index)
    if index.ndim > 1:
        raise ValueError(f"index_select: index must be 1-D, got shape {tuple(index.shape)}")
    if input.ndim == 0:
        normalize_dim("index_select", dim, 0)
        out = F.call("index_select", _as_1d(input), _as_1d(index), dim=0, skip=-1)
        return F.reshape(out, ())
    d = normalize_dim("index_select", dim, input.ndim)
    return F.call("index_select", input, _as_1d(index), dim=d, skip=-1)


def embedding(input, weight, padding_idx: int | None = None, *args, **kwargs):
    """Rows of ``weight`` at the int32 indices ``input``: shape ``input.shape + (dim,)``.

    Rows at ``padding_idx`` get no gradient. (max_norm and the other PyTorch options are not
    supported.)

    >>> vkgrad.nn.functional.embedding(vkgrad.tensor([1, 0]), vkgrad.randn(4, 3))
    """
    if args or any(v not in (None, False, 2.0) for v in kwargs.values()):
        raise NotImplementedError("embedding: only input, weight and padding_idx are supported")
    _index_tensor("embedding", input, "input")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D, got shape {tuple(weight.shape)}")
    n = weight.shape[0]
    skip = -1
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise ValueError(
                f"embedding: padding_idx {padding_idx} must be within num_embeddings ({n})"
            )
        skip = padding_idx % n
    flat = F.reshape(input, (input.numel(),))
    out = F.call("embedding", weight, flat, padding_idx=skip)
    return F.reshape(out, tuple(input.shape) + (weight.shape[1],))


def one_hot(tensor, num_classes: int = -1):
    """int32 one-hot encoding: ``tensor.shape + (num_classes,)``. With num_classes=-1 the
    count is ``tensor.max() + 1``, read on the host.

    >>> vkgrad.nn.functional.one_hot(vkgrad.tensor([0, 2]), 3)
    """
    _index_tensor("one_hot", tensor, "tensor")
    if num_classes == -1:
        if tensor.numel() == 0:
            raise RuntimeError("one_hot: can not infer the number of classes from an empty tensor")
        num_classes = int(tensor.numpy().max()) + 1
    if num_classes < 1:
        raise ValueError(f"one_hot: num_classes must be positive or -1, got {num_classes}")
    return F.call("one_hot", tensor, num_classes=int(num_classes))


# ---------------------------------------------------------------- scatters


def _scatter_args(op: str, input, dim, index, src):
    _index_tensor(op, index)
    if isinstance(src, autograd.Tensor) and src.dtype is not input.dtype:
        raise TypeError(f"{op}: src dtype {src.dtype} must match the input's {input.dtype}")
    if input.ndim == 0:
        normalize_dim(op, dim, 0)
        return 0
    return normalize_dim(op, dim, input.ndim)


def scatter_add(input, dim: int, index, src):
    """A copy of ``input`` with ``src`` added at ``index`` along ``dim`` (repeated indices
    accumulate): ``out[i][index[i][j]] += src[i][j]`` (dim=1).

    >>> vkgrad.scatter_add(vkgrad.zeros(3), 0, vkgrad.tensor([0, 0, 2]), vkgrad.ones(3))
    """
    d = _scatter_args("scatter_add", input, dim, index, src)
    if not isinstance(src, autograd.Tensor):
        raise TypeError(f"scatter_add: src must be a tensor, got {type(src).__name__}")
    if input.ndim == 0:
        out = F.call("scatter_add", _as_1d(input), _as_1d(index), _as_1d(src), dim=0)
        return F.reshape(out, ())
    return F.call("scatter_add", input, index, src, dim=d)


def scatter(input, dim: int, index, src=None, value=None, *, reduce=None):
    """A copy of ``input`` with ``src`` (or the scalar ``value``) written at ``index`` along
    ``dim``: ``out[i][index[i][j]] = src[i][j]`` (dim=1). With repeated indices, which write
    wins is undefined (as in PyTorch).

    >>> vkgrad.scatter(vkgrad.zeros(3), 0, vkgrad.tensor([2]), vkgrad.ones(1))
    """
    if reduce is not None:
        raise NotImplementedError("scatter: reduce= is not supported; use scatter_add")
    if src is None:
        src = value
    if src is None:
        raise TypeError("scatter: give src (a tensor) or value (a number)")
    d = _scatter_args("scatter", input, dim, index, src)
    if not isinstance(src, autograd.Tensor):
        s = F.scalar_operand("scatter", src)
        x, idx = (_as_1d(input), _as_1d(index)) if input.ndim == 0 else (input, index)
        out = F.call("scatter", x, idx, s, dim=d, src_tensor=0)
    elif input.ndim == 0:
        out = F.call("scatter", _as_1d(input), _as_1d(index), _as_1d(src), dim=0, src_tensor=1)
    else:
        return F.call("scatter", input, index, src, dim=d, src_tensor=1)
    return F.reshape(out, tuple(input.shape))


def index_add(input, dim: int, index, source, *, alpha=1):
    """A copy of ``input`` with ``alpha * source`` added at the positions ``index`` (1-D) along
    ``dim``; repeated indices accumulate.

    >>> vkgrad.index_add(vkgrad.zeros(3, 2), 0, vkgrad.tensor([0, 0]), vkgrad.ones(2, 2))
    """
    _index_tensor("index_add", index)
    if not isinstance(source, autograd.Tensor):
        raise TypeError(f"index_add: source must be a tensor, got {type(source).__name__}")
    if source.dtype is not input.dtype:
        raise TypeError(
            f"index_add: source dtype {source.dtype} must match the input's {input.dtype}"
        )
    if index.ndim > 1:
        raise ValueError(f"index_add: index must be 1-D, got shape {tuple(index.shape)}")
    if input.ndim == 0:
        normalize_dim("index_add", dim, 0)
        out = F.call(
            "index_add",
            _as_1d(input),
            _as_1d(index),
            _as_1d(source),
            dim=0,
            alpha=float(alpha),
            skip=-1,
        )
        return F.reshape(out, ())
    d = normalize_dim("index_add", dim, input.ndim)
    return F.call("index_add", input, _as_1d(index), source, dim=d, alpha=float(alpha), skip=-1)


# ---------------------------------------------------------------- masks


def _mask_tensor(op: str, mask):
    if not isinstance(mask, autograd.Tensor):
        raise TypeError(f"{op}: mask must be a bool tensor, got {type(mask).__name__}")
    if mask.dtype is not dtypes.bool_:
        raise TypeError(f"{op}: mask must be a bool tensor, got dtype {mask.dtype}")
    return mask


def masked_fill(input, mask, value):
    """``input`` with ``value`` (a number or a 0-d tensor) where the bool ``mask`` (broadcast to
    input's shape) is True.

    >>> vkgrad.masked_fill(vkgrad.zeros(3), vkgrad.tensor([True, False, True]), 1.0)
    """
    _mask_tensor("masked_fill", mask)
    if broadcast_shapes("masked_fill", input.shape, mask.shape) != tuple(input.shape):
        raise ValueError(
            f"masked_fill: mask of shape {tuple(mask.shape)} does not broadcast to the input's "
            f"shape {tuple(input.shape)}"
        )
    if isinstance(value, autograd.Tensor):
        if value.ndim != 0:
            raise ValueError(
                f"masked_fill: a tensor value must be 0-d, got shape {tuple(value.shape)}"
            )
        v = F.to_dtype(value, input.dtype)
    else:
        v = F.scalar_operand("masked_fill", value)
    out = F.where(mask, v, input)
    return F.to_dtype(out, input.dtype)


def _host_mask(op: str, mask, shape) -> np.ndarray:
    """The mask's values, broadcast to ``shape``, on the host (a device sync on Vulkan)."""
    m = mask.numpy()
    try:
        return np.broadcast_to(m, shape)
    except ValueError:
        raise ValueError(
            f"{op}: mask of shape {tuple(mask.shape)} does not broadcast to {tuple(shape)}"
        ) from None


def _int_tensor(values: np.ndarray, device):
    return autograd.tensor(np.asarray(values, np.int32), dtype=dtypes.int32, device=device)


def masked_select(input, mask):
    """The elements of ``input`` where ``mask`` is True, as a 1-D tensor. The output's size
    depends on the mask: its count is read on the host (a device sync on Vulkan).

    >>> vkgrad.masked_select(vkgrad.arange(3.), vkgrad.tensor([True, False, True]))
    """
    _mask_tensor("masked_select", mask)
    shape = broadcast_shapes("masked_select", input.shape, mask.shape)
    m = _host_mask("masked_select", mask, shape)
    pos = _int_tensor(np.flatnonzero(m), input.device)
    x = F.reshape(F.expand(input, shape), (math.prod(shape),))
    return F.call("index_select", x, pos, dim=0, skip=-1)


# ---------------------------------------------------------------- advanced __getitem__


def _is_advanced(i) -> bool:
    return isinstance(i, (autograd.Tensor, list, np.ndarray)) or isinstance(i, bool)


def has_advanced(index: tuple) -> bool:
    """Whether an index tuple holds tensors, lists or arrays (advanced indexing)."""
    for i in index:
        if i is None or i is Ellipsis or type(i) in (int, slice):  # the basic path's fast exit
            continue
        if _is_advanced(i):
            return True
    return False


def _to_index(op: str, i, device):
    """An advanced index as a tensor on ``device``: int32 or bool."""
    T = autograd.Tensor
    if isinstance(i, bool):
        raise IndexError(f"{op}: a Python bool is not supported as an index")
    if not isinstance(i, T):
        a = np.asarray(i)
        if a.dtype == np.bool_:
            return autograd.tensor(a, dtype=dtypes.bool_, device=device)
        if a.size == 0:
            a = a.astype(np.int32)
        if a.dtype.kind not in "iu":
            raise IndexError(
                f"{op}: tensors used as indices must be int32 or bool, got an array of {a.dtype}"
            )
        return _int_tensor(a, device)
    if i.dtype.is_floating:
        raise IndexError(f"{op}: tensors used as indices must be int32 or bool, got {i.dtype}")
    if i.device != device:
        raise RuntimeError(f"{op}: index on {i.device}, indexed tensor on {device}")
    return i


def _split(op: str, x, index: tuple):
    """(basic index tuple, [(dim of the basic result, int32 or bool tensor)]) for ``x[index]``.

    Ints are applied as basic indices first (as PyTorch does); every tensor keeps its dim as a
    full slice in the basic pass, a k-dim bool mask k dims.
    """
    items = [_to_index(op, i, x.device) if _is_advanced(i) else i for i in index]
    T = autograd.Tensor
    used = 0
    for i in items:
        if isinstance(i, T):
            used += i.ndim if i.dtype is dtypes.bool_ else 1
        elif i is not None and i is not Ellipsis:
            if not isinstance(i, (int, slice)):
                raise TypeError(f"{op}: unsupported index type {type(i).__name__}")
            used += 1
    if sum(i is Ellipsis for i in items) > 1:
        raise IndexError(f"{op}: an index can only have a single ellipsis ('...')")
    if used > x.ndim:
        raise IndexError(
            f"{op}: too many indices for tensor of dimension {x.ndim} (shape {tuple(x.shape)})"
        )
    ell = [k for k, i in enumerate(items) if i is Ellipsis]
    if ell:
        p = ell[0]
        items[p : p + 1] = [slice(None)] * (x.ndim - used)
    basic, adv = [], []
    dim = 0  # dims of the basic result so far
    for i in items:
        if isinstance(i, T):
            k = i.ndim if i.dtype is dtypes.bool_ else 1
            adv.append((dim, i))
            basic += [slice(None)] * k
            dim += k
        else:
            basic.append(i)
            if not isinstance(i, int):
                dim += 1
    return tuple(basic), adv


def _masks_to_ints(op: str, y_shape: tuple, adv: list) -> list:
    """Replace each k-dim bool mask by k int32 index tensors (its nonzero positions)."""
    out = []
    for d, t in adv:
        if t.dtype is not dtypes.bool_:
            out.append((d, t))
            continue
        want = tuple(y_shape[d : d + t.ndim])
        if tuple(t.shape) != want:
            raise IndexError(
                f"{op}: the shape of the mask {tuple(t.shape)} does not match the shape of the "
                f"indexed dims {want}"
            )
        nz = np.nonzero(t.numpy())  # the count sizes the output: read on the host
        for k, pos in enumerate(nz):
            out.append((d + k, _int_tensor(pos, t.device)))
    return out


def _take(op: str, y, adv: list):
    """``y`` indexed by the int32 tensors ``adv`` [(dim, tensor)], NumPy/PyTorch placement."""
    dims = [d for d, _ in adv]
    idx = [t for _, t in adv]
    bshape = broadcast_shapes(op, *[tuple(t.shape) for t in idx])
    k = len(dims)
    if dims != list(range(dims[0], dims[0] + k)):
        # Not adjacent: the indexed dims go first, the broadcast dims lead the result.
        rest = [d for d in range(y.ndim) if d not in dims]
        y = F.permute(y, dims + rest)
        dims = list(range(k))
    p = dims[0]
    sizes = [y.shape[d] for d in dims]
    block = math.prod(sizes)
    if block >= 2**31:
        raise IndexError(f"{op}: more than 2**31 elements in the indexed dims {tuple(sizes)}")
    lin = 0.0
    stride = block
    for d, t, size in zip(dims, idx, sizes):
        stride //= size
        lin = F.call("index_linear", lin, t, size=size, stride=stride, dim=d)
    if not isinstance(lin, autograd.Tensor) or tuple(lin.shape) != bshape:
        lin = F.expand(lin, bshape)
    pre, post = tuple(y.shape[:p]), tuple(y.shape[p + k :])
    y3 = F.reshape(y, pre + (block,) + post)
    flat = F.reshape(lin, (math.prod(bshape),))
    out = F.call("index_select", y3, flat, dim=p, skip=-1)
    return F.reshape(out, pre + bshape + post)


def getitem(x, index):
    """``x[index]`` with integer tensors, int lists and bool masks (advanced indexing), alone
    or with ints, slices, None and ``...``; ``functional.getitem`` routes such indices here.

    >>> x[vkgrad.tensor([0, 2]), 1:]
    """
    if not isinstance(index, tuple):
        index = (index,)
    basic, adv = _split("getitem", x, index)
    y = F.getitem(x, basic) if basic else x
    adv = _masks_to_ints("getitem", tuple(y.shape), adv)
    return _take("getitem", y, adv)


# ---------------------------------------------------------------- __setitem__


def _basic_positions(shape: tuple, basic: tuple) -> np.ndarray:
    """Flat positions of ``np.arange(numel).reshape(shape)[basic]``, allocating only the
    result: they do not depend on the data, so this is host work without a device sync."""
    if not shape:
        return np.zeros((), np.int64)[basic]
    pos = 0
    for d, (size, st) in enumerate(zip(shape, contiguous_strides(shape))):
        grid = np.arange(size, dtype=np.int64) * st
        grid = grid.reshape((1,) * d + (size,) + (1,) * (len(shape) - d - 1))
        pos = pos + np.broadcast_to(grid, shape)[basic]  # views until the add
    return pos


def setitem(x, index, value) -> None:
    """``x[index] = value`` in place (basic or advanced indices, a number or a tensor broadcast
    to the indexed shape). Not recorded by autograd: under grad mode it is an error on a
    tensor (or value) that requires grad.

    >>> x[vkgrad.tensor([0, 2])] = 1.0
    """
    T = autograd.Tensor
    if is_grad_enabled() and (x.requires_grad or (isinstance(value, T) and value.requires_grad)):
        raise RuntimeError(
            "setitem: assigning into a tensor that requires grad (or from a value that "
            "requires grad) is not differentiable here; wrap it in `with vkgrad.no_grad():` "
            "or build the result out of place (where, scatter, index_add)"
        )
    if not isinstance(index, tuple):
        index = (index,)
    n = x.numel()
    if n >= 2**31:
        raise IndexError(f"setitem: tensors of {n} elements (>= 2**31) are not supported")
    with no_grad():
        basic, adv = _split("setitem", x, index)
        for i in basic:
            if isinstance(i, slice) and i.step is not None and i.step <= 0:
                raise ValueError("setitem: step must be greater than zero")
        try:
            pos_np = _basic_positions(tuple(x.shape), basic)
        except IndexError as e:
            raise IndexError(f"setitem: {e} (shape {tuple(x.shape)})") from None
        pos = _int_tensor(np.ascontiguousarray(pos_np), x.device)
        if adv:
            adv = _masks_to_ints("setitem", tuple(pos.shape), adv)
            pos = _take("setitem", pos, adv)
        m = pos.numel()
        if isinstance(value, (list, tuple, np.ndarray)):
            value = autograd.tensor(np.asarray(value), dtype=x.dtype, device=x.device)
        if isinstance(value, T):
            if value.device != x.device:
                raise RuntimeError(f"setitem: value on {value.device}, tensor on {x.device}")
            try:
                v = F.expand(F.to_dtype(value, x.dtype), tuple(pos.shape))
            except (RuntimeError, ValueError):
                raise RuntimeError(
                    f"setitem: shape mismatch: value of shape {tuple(value.shape)} cannot be "
                    f"broadcast to the indexed shape {tuple(pos.shape)}"
                ) from None
            src, src_tensor = F.reshape(v, (m,))._data, 1
        else:
            src, src_tensor = F.scalar_operand("setitem", value), 0
        if m:
            flat = F.view(x, (n,))
            op = OPS["scatter"]
            attrs = {"dim": 0, "src_tensor": src_tensor}
            posflat = F.reshape(pos, (m,))
            x.device.backend.run(
                op, [flat._data, posflat._data, src], attrs, (n,), x.dtype, out=flat._data
            )
    x._version[0] += 1


# ---------------------------------------------------------------- in-place methods


def _inplace(name: str, target, *inputs, **attrs):
    return apply_inplace(name, target, *inputs, **attrs)


def _scatter_(self, dim: int, index, src=None, value=None, *, reduce=None):
    """In-place ``scatter``: ``self`` with src (or value) written at index along dim."""
    if reduce is not None:
        raise NotImplementedError("scatter_: reduce= is not supported; use scatter_add_")
    src = value if src is None else src
    if src is None:
        raise TypeError("scatter_: give src (a tensor) or value (a number)")
    if self.ndim == 0:
        return self.copy_(scatter(self, dim, index, src))
    d = _scatter_args("scatter_", self, dim, index, src)
    if isinstance(src, autograd.Tensor):
        return _inplace("scatter", self, index, src, dim=d, src_tensor=1)
    return _inplace("scatter", self, index, F.scalar_operand("scatter_", src), dim=d, src_tensor=0)


def _scatter_add_(self, dim: int, index, src):
    """In-place ``scatter_add``."""
    if self.ndim == 0:
        return self.copy_(scatter_add(self, dim, index, src))
    d = _scatter_args("scatter_add_", self, dim, index, src)
    if not isinstance(src, autograd.Tensor):
        raise TypeError(f"scatter_add_: src must be a tensor, got {type(src).__name__}")
    return _inplace("scatter_add", self, index, src, dim=d)


def _index_add_(self, dim: int, index, source, *, alpha=1):
    """In-place ``index_add``."""
    if self.ndim == 0 or (isinstance(index, autograd.Tensor) and index.ndim != 1):
        return self.copy_(index_add(self, dim, index, source, alpha=alpha))
    _index_tensor("index_add_", index)
    if not isinstance(source, autograd.Tensor) or source.dtype is not self.dtype:
        raise TypeError(f"index_add_: source must be a tensor of the input's dtype {self.dtype}")
    d = normalize_dim("index_add_", dim, self.ndim)
    return _inplace("index_add", self, index, source, dim=d, alpha=float(alpha), skip=-1)


def _masked_fill_(self, mask, value):
    """In-place ``masked_fill``."""
    _mask_tensor("masked_fill_", mask)
    if broadcast_shapes("masked_fill_", self.shape, mask.shape) != tuple(self.shape):
        raise ValueError(
            f"masked_fill_: mask of shape {tuple(mask.shape)} does not broadcast to the "
            f"input's shape {tuple(self.shape)}"
        )
    if isinstance(value, autograd.Tensor):
        if value.ndim != 0:
            raise ValueError(f"masked_fill_: a tensor value must be 0-d, got {tuple(value.shape)}")
        v = F.to_dtype(value, self.dtype)
    else:
        v = F.scalar_operand("masked_fill_", value)
    recording = is_grad_enabled() and (
        self.requires_grad or (isinstance(v, autograd.Tensor) and v.requires_grad)
    )
    # Recorded, where's saved inputs must not be the tensor being overwritten: read a copy.
    old = F.call("copy", self, dtype=self.dtype) if recording else self
    return _inplace("where", self, mask, v, old, include_target=False, dtype=self.dtype)


# ---------------------------------------------------------------- Tensor methods


def _method_setitem(self, index, value) -> None:
    setitem(self, index, value)


TENSOR_METHODS.update(
    {
        "gather": gather,
        "index_select": index_select,
        "scatter": scatter,
        "scatter_add": scatter_add,
        "index_add": index_add,
        "masked_fill": masked_fill,
        "masked_select": masked_select,
        "__setitem__": _method_setitem,
        "scatter_": _scatter_,
        "scatter_add_": _scatter_add_,
        "index_add_": _index_add_,
        "masked_fill_": _masked_fill_,
    }
)
