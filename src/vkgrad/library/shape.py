"""Shape ops: cat/stack/split/chunk, unflatten, repeat/repeat_interleave/tile, flip/roll,
narrow/select, diag/diagonal/tril/triu.

The family's rows (added to ``ops.OPS``), their backward rules and the public functions.

How each op moves data (one pass over the output unless said otherwise):

* ``cat``: one row of its own kind that writes each input once into its place in the output;
  ``stack`` is ``cat`` of unsqueezed views; ``hstack``/``vstack`` likewise.
* ``split``/``chunk``/``unbind``: one ``slice`` per piece (together one pass over the input);
  the pieces share one graph node whose backward is a single ``cat`` of their gradients.
* ``narrow``/``select``: one ``slice``. ``flip`` and ``diagonal``: strided views (``flip`` with
  negative strides). ``repeat``/``tile``/``repeat_interleave`` with an int: ``expand`` of a
  reshaped view. ``tril``/``triu``/``roll``/``diag`` embedding: rows with index math.
* ``repeat_interleave`` with a tensor of repeats: a gather along ``dim`` (its backward sums each
  segment); the repeats are read on the host, since they fix the output's shape.
* ``pad`` (``nn.functional``): per padded dim, ``slice`` for negative amounts, then one ``cat``
  of the input with constant blocks (``fill``), reflected slices (``flip`` views), its edge
  (``expand``) or its other end (circular). ``pixel_shuffle``/``pixel_unshuffle``: a reshape,
  a permute and a reshape. ``interpolate``: per resized dim, ``index_select`` at source
  positions computed on the host from the sizes alone (nearest), or two of them blended with
  host-computed weights (linear modes); 'area' is adaptive average pooling.

Unlike PyTorch, results are new tensors, not views sharing the input's storage: an in-place
change of a piece does not show in the input.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence

import numpy as np

from .. import autograd, dtypes
from .. import functional as F
from ..autograd import Node, apply
from ..ops import row
from ..shapes import contiguous_strides, normalize_dim, numel
from . import indexing

# Public names: ``vkgrad.<name>`` and ``vkgrad.functional.<name>``.
__all__: list[str] = [
    "cat",
    "concat",
    "concatenate",
    "stack",
    "hstack",
    "vstack",
    "split",
    "chunk",
    "unbind",
    "narrow",
    "select",
    "unflatten",
    "flatten",
    "repeat_interleave",
    "tile",
    "flip",
    "fliplr",
    "flipud",
    "roll",
    "diag",
    "diagonal",
    "tril",
    "triu",
]
# Names exported by ``vkgrad.nn.functional``.
NN_FUNCTIONAL: list[str] = ["pad", "pixel_shuffle", "pixel_unshuffle", "interpolate"]
# The core functions of the family, public as well.
__all__ += ["permute", "reshape", "squeeze", "transpose", "unsqueeze"]
# Exported by ``vkgrad.functional`` only: helpers other families and layers use.
FUNCTIONAL: list[str] = ["expand", "sum_to", "view", "getitem"]


# ---------------------------------------------------------------- strided views


def _permute(ctx, g):
    dims = ctx.attrs["dims"]
    inverse = [0] * len(dims)
    for i, d in enumerate(dims):
        inverse[d] = i
    return (F.permute(g, inverse),)


def _expand(ctx, g):
    return (F.sum_to(g, ctx.inputs[0].shape),)


def _slice(ctx, g):
    x = ctx.inputs[0]
    return (F.call("slice_backward", g, in_shape=tuple(x.shape), **ctx.attrs),)


def _slice_backward(ctx, g):
    a = ctx.attrs
    return (F.call("slice", g, starts=a["starts"], steps=a["steps"], out_shape=a["out_shape"]),)


def _permute_view(shape, attrs):
    dims = attrs["dims"]
    strides = contiguous_strides(shape)
    return tuple(shape[d] for d in dims), tuple(strides[d] for d in dims), 0


def _expand_view(shape, attrs):
    out = tuple(attrs["shape"])
    lead = len(out) - len(shape)
    strides = contiguous_strides(shape)
    st = [0] * lead + [
        0 if shape[i] == 1 and out[lead + i] != 1 else strides[i] for i in range(len(shape))
    ]
    return out, tuple(st), 0


def _slice_view(shape, attrs):
    strides = contiguous_strides(shape)
    offset = sum(s * st for s, st in zip(attrs["starts"], strides))
    st = tuple(s * step for s, step in zip(strides, attrs["steps"]))
    return tuple(attrs["out_shape"]), st, offset


# Views keep their input's dtype: an int32 tensor sliced or permuted stays int32.
_VIEW = dict(out_dtype="input0")
row("permute", "map", 1, _permute, attrs=("dims",), view=_permute_view, **_VIEW)
row("expand", "map", 1, _expand, attrs=("shape",), saves="i", view=_expand_view, **_VIEW)
_SLICE = ("starts", "steps", "out_shape")
row("slice", "map", 1, _slice, attrs=_SLICE, saves="i", view=_slice_view, **_VIEW)
row(
    "slice_backward",
    "map",
    1,
    _slice_backward,
    attrs=("in_shape",) + _SLICE,
    view=_slice_view,
    scatter=True,
    refuses=("int32", "bool"),  # gradients only
    **_VIEW,
)


# ---------------------------------------------------------------- helpers


def _sizes(args: tuple) -> tuple:
    """``f(2, 3)`` and ``f((2, 3))`` alike."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    return tuple(int(a) for a in args)


def _slice_dim(x, dim: int, start: int, length: int, step: int = 1):
    """x[..., start:start + length * step:step, ...] along ``dim`` (one ``slice`` row)."""
    if start == 0 and step == 1 and length == x.shape[dim]:
        return x
    nd = x.ndim
    starts = tuple(start if d == dim else 0 for d in range(nd))
    steps = tuple(step if d == dim else 1 for d in range(nd))
    shape = tuple(length if d == dim else s for d, s in enumerate(x.shape))
    return F.call("slice", x, starts=starts, steps=steps, out_shape=shape)


def _tensors_arg(op: str, tensors) -> list:
    T = autograd.Tensor
    if isinstance(tensors, T) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}: expected a sequence of tensors, got {type(tensors).__name__}")
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{op}: expected a non-empty list of tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, T):
            raise TypeError(f"{op}: expected tensors, got {type(t).__name__} at position {i}")
    return tensors


def _result_dtype(tensors: list):
    floats = [t.dtype for t in tensors if t.dtype.is_floating]
    if floats:
        out = floats[0]
        for d in floats[1:]:
            out = dtypes.promote(out, d)
        return out
    if any(t.dtype is dtypes.int32 for t in tensors):
        return dtypes.int32
    return tensors[0].dtype


# ---------------------------------------------------------------- cat and its family


def _cat_shape(in_shapes, attrs):
    dim = attrs["dim"]
    first = tuple(in_shapes[0])
    total = 0
    for i, s in enumerate(in_shapes):
        s = tuple(s)
        if len(s) != len(first):
            raise ValueError(
                f"cat: tensors must have the same number of dimensions, got {first} and {s} "
                f"(tensor {i})"
            )
        if s[:dim] + s[dim + 1 :] != first[:dim] + first[dim + 1 :]:
            raise ValueError(
                f"cat: sizes of tensors must match except in dimension {dim}, got {first} and "
                f"{s} (tensor {i})"
            )
        total += s[dim]
    return first[:dim] + (total,) + first[dim + 1 :]


def _cat_rule(ctx, g):
    dim = ctx.attrs["dim"]
    grads, start = [], 0
    for (shape, _), need in zip(ctx._input_meta, ctx.needs_input_grad):
        n = shape[dim]
        grads.append(_slice_dim(g, dim, start, n) if need else None)
        start += n
    return tuple(grads)


# kind "cat" (backends/vulkan/kinds/shape.py): each input copied once into its slot of out.
row("cat", "cat", -1, _cat_rule, attrs=("dim",), shape=_cat_shape)


def cat(tensors: Sequence, dim: int = 0):
    """Concatenate tensors along an existing dim: ``vkgrad.cat([a, b], dim=1)``.

    Every tensor has the same shape except in ``dim``; 1-D empty tensors are skipped, as in
    PyTorch. Mixed dtypes promote.
    """
    tensors = _tensors_arg("cat", tensors)
    for i, t in enumerate(tensors):
        if t.ndim == 0:
            raise ValueError(
                f"cat: zero-dimensional tensor (at position {i}) cannot be concatenated"
            )
    # PyTorch's legacy rule: a 1-D empty tensor is ignored whatever the others' shapes.
    kept = [t for t in tensors if not (t.ndim == 1 and t.shape[0] == 0)]
    if not kept:
        return tensors[0]
    if len(kept) != len(tensors) and len({t.ndim for t in kept}) == 1:
        tensors = kept
    d = normalize_dim("cat", dim, tensors[0].ndim)
    dtype = _result_dtype(tensors)
    if len(tensors) == 1:
        return F.to_dtype(tensors[0], dtype)
    # Mixed inputs are cast first, so that the kernel only ever copies one dtype.
    tensors = [F.to_dtype(t, dtype) for t in tensors]
    return F.call("cat", *tensors, dim=d, dtype=dtype)


concat = cat
concatenate = cat


def stack(tensors: Sequence, dim: int = 0):
    """Join tensors of equal shape along a new dim: ``vkgrad.stack([a, b])``."""
    tensors = _tensors_arg("stack", tensors)
    first = tuple(tensors[0].shape)
    for i, t in enumerate(tensors):
        if tuple(t.shape) != first:
            raise ValueError(
                f"stack: expects each tensor to be equal size, but got {first} at entry 0 and "
                f"{tuple(t.shape)} at entry {i}"
            )
    d = normalize_dim("stack", dim, len(first) + 1)
    return cat([F.unsqueeze(t, d) for t in tensors], d)


def hstack(tensors: Sequence):
    """Concatenate along dim 1 (dim 0 for 1-D tensors): ``vkgrad.hstack([a, b])``."""
    tensors = [t if t.ndim else F.reshape(t, (1,)) for t in _tensors_arg("hstack", tensors)]
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors: Sequence):
    """Concatenate along dim 0, 1-D tensors as rows: ``vkgrad.vstack([a, b])``."""
    tensors = _tensors_arg("vstack", tensors)
    return cat([F.reshape(t, (1, -1)) if t.ndim < 2 else t for t in tensors], 0)


# ---------------------------------------------------------------- split, chunk, unbind

_SPLIT_NODE = None


def _split_node_cls():
    """One graph node for all the pieces of a split: backward is one cat of their gradients
    (zeros for unused pieces), not one zero-filled scatter per piece."""
    global _SPLIT_NODE
    if _SPLIT_NODE is None:

        class SplitNode(Node):
            def __init__(self, label: str, dim: int, metas: list, squeezed: bool) -> None:
                super().__init__()
                self.label, self.dim, self.metas, self.squeezed = label, dim, metas, squeezed

            def name(self) -> str:
                return self.label

            def apply(self, grads):
                parts = []
                for g, (shape, dtype, device) in zip(grads, self.metas):
                    if g is None:
                        g = F.zeros_like_meta(shape, dtype, device)
                    parts.append(F.unsqueeze(g, self.dim) if self.squeezed else g)
                if len(parts) == 1:
                    return (parts[0],)
                return (F.call("cat", *parts, dim=self.dim),)

        _SPLIT_NODE = SplitNode
    return _SPLIT_NODE


def _pieces(x, dim: int, sizes: list, label: str, squeeze: bool = False) -> tuple:
    if len(sizes) == 1 and not squeeze:
        return (x,)
    with autograd.no_grad():
        outs, start = [], 0
        for n in sizes:
            p = _slice_dim(x, dim, start, n)
            if squeeze:
                p = F.squeeze(p, dim)
            if p is x:
                p = F.view(x, tuple(x.shape))
            outs.append(p)
            start += n
    if autograd.is_grad_enabled() and x.requires_grad:
        node = _split_node_cls()(label, dim, [(o.shape, o.dtype, o.device) for o in outs], squeeze)
        autograd.record(node, [x], outs)
    return tuple(outs)


def split(tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """Split into pieces of a given size, or of the given sizes, along ``dim``.

    >>> a, b = vkgrad.split(vkgrad.arange(5.0), [2, 3])
    """
    d = normalize_dim("split", dim, tensor.ndim)
    n = tensor.shape[d]
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = [int(s) for s in split_size_or_sections]
        if any(s < 0 for s in sizes) or sum(sizes) != n:
            raise ValueError(
                f"split: split_sizes {sizes} must be non-negative and sum exactly to {n} (the "
                f"size of dimension {d} of the input of shape {tuple(tensor.shape)})"
            )
    else:
        size = int(split_size_or_sections)
        if size < 0 or (size == 0 and n != 0):
            raise ValueError(
                f"split: split_size must be positive, got {size} (input shape "
                f"{tuple(tensor.shape)}, dim {d})"
            )
        sizes = [min(size, n - s) for s in range(0, n, size)] if n else [0]
    return _pieces(tensor, d, sizes, "SplitBackward0")


def chunk(input, chunks: int, dim: int = 0) -> tuple:
    """Split into ``chunks`` pieces of equal size (the last smaller): ``x.chunk(3, dim=1)``.

    As in PyTorch, fewer pieces come back when the size does not allow ``chunks`` non-empty
    ones (6 split into 4 chunks gives 3 of size 2).
    """
    chunks = int(chunks)
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be greater than 0, got {chunks}")
    d = normalize_dim("chunk", dim, input.ndim)
    n = input.shape[d]
    return split(input, max(1, -(-n // chunks)) if n else 0, d)


def unbind(input, dim: int = 0) -> tuple:
    """The slices along ``dim``, with that dim removed: ``rows = x.unbind(0)``."""
    d = normalize_dim("unbind", dim, input.ndim)
    return _pieces(input, d, [1] * input.shape[d], "UnbindBackward0", squeeze=True)


# ---------------------------------------------------------------- narrow, select, unflatten


def narrow(input, dim: int, start: int, length: int):
    """``length`` elements from ``start`` along ``dim``: ``x.narrow(1, 2, 3)``."""
    d = normalize_dim("narrow", dim, input.ndim)
    n = input.shape[d]
    start, length = int(start), int(length)
    if not -n <= start <= n:
        raise IndexError(
            f"narrow: start ({start}) out of range for dimension {d} of size {n} (input shape "
            f"{tuple(input.shape)})"
        )
    if start < 0:
        start += n
    if length < 0 or start + length > n:
        raise ValueError(
            f"narrow: start ({start}) + length ({length}) exceeds dimension size ({n}) of the "
            f"input of shape {tuple(input.shape)} at dim {d}"
        )
    return _slice_dim(input, d, start, length)


def select(input, dim: int, index: int):
    """The slice at ``index`` along ``dim``, that dim removed: ``x.select(0, -1)``."""
    d = normalize_dim("select", dim, input.ndim)
    n = input.shape[d]
    index = int(index)
    if not -n <= index < n:
        raise IndexError(
            f"select: index {index} out of range for tensor of shape {tuple(input.shape)} at "
            f"dimension {d}"
        )
    return F.squeeze(_slice_dim(input, d, index % n, 1), d)


def unflatten(input, dim: int, sizes):
    """Expand ``dim`` into several dims: ``x.unflatten(1, (2, -1))``."""
    d = normalize_dim("unflatten", dim, input.ndim)
    sizes = tuple(int(s) for s in sizes)
    if not sizes:
        raise ValueError("unflatten: sizes must be non-empty")
    n = input.shape[d]
    known = 1
    for s in sizes:
        if s != -1:
            known *= s
    if (
        sizes.count(-1) > 1
        or (-1 in sizes and (known == 0 or n % known))
        or (-1 not in sizes and known != n)
    ):
        raise ValueError(
            f"unflatten: provided sizes {sizes} don't multiply up to the size of dim {d} ({n}) "
            f"of the input of shape {tuple(input.shape)}"
        )
    sizes = tuple(n // known if s == -1 else s for s in sizes)
    shape = tuple(input.shape)
    return F.reshape(input, shape[:d] + sizes + shape[d + 1 :])


def flatten(input, start_dim: int = 0, end_dim: int = -1):
    """Merge dims ``start_dim..end_dim`` into one: ``vkgrad.flatten(x, 1)``."""
    if input.ndim == 0:
        return F.reshape(input, (1,))
    s = normalize_dim("flatten", start_dim, input.ndim)
    e = normalize_dim("flatten", end_dim, input.ndim)
    if s > e:
        raise ValueError(f"flatten: start_dim ({s}) cannot come after end_dim ({e})")
    shape = tuple(input.shape)
    n = 1
    for v in shape[s : e + 1]:
        n *= v
    return F.reshape(input, shape[:s] + (n,) + shape[e + 1 :])


# ---------------------------------------------------------------- repeat, tile, interleave


def repeat(self, *sizes):
    """Tile the tensor ``sizes[i]`` times along dim i: ``x.repeat(2, 1, 3)``.

    One copy: the input, viewed with a size-1 dim before each of its dims, is expanded.
    """
    reps = _sizes(sizes)
    if len(reps) < self.ndim:
        raise ValueError(
            f"repeat: number of repeat dims ({len(reps)}) cannot be smaller than the number of "
            f"dims of the tensor ({self.ndim}, shape {tuple(self.shape)})"
        )
    if any(r < 0 for r in reps):
        raise ValueError(f"repeat: repeats must be non-negative, got {reps}")
    shape = (1,) * (len(reps) - self.ndim) + tuple(self.shape)
    inter = tuple(v for s in shape for v in (1, s))
    big = tuple(v for r, s in zip(reps, shape) for v in (r, s))
    out = F.expand(F.reshape(self, inter), big)
    return F.reshape(out, tuple(r * s for r, s in zip(reps, shape)))


def tile(input, dims):
    """``repeat`` with ones prepended to ``dims`` when it is shorter: ``vkgrad.tile(x, (2,))``."""
    reps = _sizes((dims,)) if isinstance(dims, (tuple, list)) else (int(dims),)
    reps = (1,) * (input.ndim - len(reps)) + reps
    return repeat(input, reps)


def _ri_gather_shape(in_shapes, attrs):
    x, idx = tuple(in_shapes[0]), tuple(in_shapes[1])
    d = attrs["dim"]
    return x[:d] + (idx[0],) + x[d + 1 :]


def _ri_sum_shape(in_shapes, attrs):
    g, offsets = tuple(in_shapes[0]), tuple(in_shapes[2])
    d = attrs["dim"]
    return g[:d] + (offsets[0] - 1,) + g[d + 1 :]


def _ri_rule(kernel: str):
    def rule(ctx, g):
        _, idx, offsets = ctx.inputs
        return F.call(kernel, g, idx, offsets, **ctx.attrs), None, None

    return rule


# Inputs (x, index, offsets): index[j] = the source position of output j along dim, and
# offsets (n + 1 int32) the segment bounds; the backward sums each segment.
row(
    "repeat_interleave",
    "shape_index",
    3,
    _ri_rule("repeat_interleave_backward"),
    attrs=("dim",),
    saves="i",
    no_grad_inputs=(1, 2),
    shape=_ri_gather_shape,
)
row(
    "repeat_interleave_backward",
    "shape_index",
    3,
    _ri_rule("repeat_interleave"),
    attrs=("dim",),
    saves="i",
    no_grad_inputs=(1, 2),
    shape=_ri_sum_shape,
)


def repeat_interleave(input, repeats, dim: int | None = None, *, output_size: int | None = None):
    """Repeat each element ``repeats`` times along ``dim`` (flattened when None).

    >>> vkgrad.repeat_interleave(vkgrad.tensor([1.0, 2.0]), 2)   # [1, 1, 2, 2]

    ``repeats`` is an int or an int32 tensor with one count per element along ``dim``; a
    tensor's values are read on the host, since they fix the output's shape.
    """
    import numpy as np

    x = input
    if dim is None:
        x = F.reshape(x, (-1,))
        d = 0
    else:
        d = normalize_dim("repeat_interleave", dim, x.ndim)
    n = x.shape[d] if x.ndim else 1
    if x.ndim == 0:
        x = F.reshape(x, (1,))
    T = autograd.Tensor
    counts = None
    if isinstance(repeats, T):
        if repeats.dtype.is_floating or repeats.dtype is dtypes.bool_:
            raise TypeError(
                f"repeat_interleave: repeats must be an int tensor, got {repeats.dtype}"
            )
        if repeats.ndim > 1:
            raise ValueError(
                f"repeat_interleave: repeats must be 0-d or 1-d, got shape {tuple(repeats.shape)}"
            )
        counts = repeats.numpy().astype(np.int64).reshape(-1)
        if counts.size == 1:
            repeats, counts = int(counts[0]), None
        elif counts.size != n:
            raise ValueError(
                f"repeat_interleave: repeats must have {n} elements (the size of dim {d} of "
                f"the input of shape {tuple(input.shape)}), got {counts.size}"
            )
    if counts is None:
        r = int(repeats)
        if r < 0:
            raise ValueError(f"repeat_interleave: repeats must be non-negative, got {r}")
        total = n * r
    else:
        if (counts < 0).any():
            raise ValueError("repeat_interleave: repeats must be non-negative")
        total = int(counts.sum())
    if output_size is not None and int(output_size) != total:
        raise ValueError(
            f"repeat_interleave: output_size {output_size} does not match the {total} repeated "
            "elements"
        )
    shape = tuple(x.shape)
    if counts is None:
        v = F.unsqueeze(x, d + 1)
        big = shape[: d + 1] + (r,) + shape[d + 1 :]
        return F.reshape(F.expand(v, big), shape[:d] + (total,) + shape[d + 1 :])
    idx = np.repeat(np.arange(n, dtype=np.int32), counts)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    make = autograd.Tensor._make
    dev = x.device

    def up(a):
        return make(dev.backend.from_numpy(a, dtypes.int32), a.shape, dtypes.int32, dev)

    return F.call("repeat_interleave", x, up(idx), up(offsets), dim=d)


# ---------------------------------------------------------------- flip, roll


def _flip_view(shape, attrs):
    st = list(contiguous_strides(shape))
    off = 0
    for d in attrs["dims"]:
        off += (shape[d] - 1) * st[d] if shape[d] else 0
        st[d] = -st[d]
    return tuple(shape), tuple(st), off


# A strided view with negative strides (two's complement words in the shader's meta).
row(
    "flip",
    "map",
    1,
    lambda c, g: (F.call("flip", g, dims=c.attrs["dims"]),),
    attrs=("dims",),
    view=_flip_view,
    out_dtype="input0",
)


def _dims_arg(op: str, dims, ndim: int) -> tuple:
    dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    out = tuple(normalize_dim(op, int(d), ndim) for d in dims)
    if len(set(out)) != len(out):
        raise RuntimeError(f"{op}: dims {dims} has a dim appearing multiple times")
    return out


def flip(input, dims):
    """Reverse the order of elements along ``dims``: ``vkgrad.flip(x, (0, 1))``."""
    dims = _dims_arg("flip", dims, input.ndim)
    dims = tuple(d for d in sorted(dims) if input.shape[d] > 1)
    if not dims:
        return input
    return F.call("flip", input, dims=dims)


def _flip_method(self, *dims):
    return flip(self, _sizes(dims))


def fliplr(input):
    """Flip dim 1: ``vkgrad.fliplr(x)``."""
    if input.ndim < 2:
        raise ValueError(f"fliplr: input must be >= 2-d, got shape {tuple(input.shape)}")
    return flip(input, (1,))


def flipud(input):
    """Flip dim 0: ``vkgrad.flipud(x)``."""
    if input.ndim < 1:
        raise ValueError("flipud: input must be >= 1-d")
    return flip(input, (0,))


def _roll_rule(ctx, g):
    shape = ctx._input_meta[0][0]
    back = tuple((s - k) % s if s else 0 for k, s in zip(ctx.attrs["shifts"], shape))
    return (F.call("roll", g, shifts=back),)


# shifts: one per dim of the input, in [0, size): out[c] = x[(c - shift) mod size].
row("roll", "shape_index", 1, _roll_rule, attrs=("shifts",), shape=lambda s, a: tuple(s[0]))


def roll(input, shifts, dims=None):
    """Rotate elements along ``dims`` by ``shifts`` (flattened when dims is None).

    >>> vkgrad.roll(vkgrad.arange(4.0), 1)   # [3, 0, 1, 2]
    """
    sh = tuple(shifts) if isinstance(shifts, (tuple, list)) else (shifts,)
    sh = tuple(int(s) for s in sh)
    if dims is None:
        if len(sh) != 1:
            raise ValueError(f"roll: with dims=None, shifts must be one int, got {shifts}")
        flat = F.reshape(input, (-1,))
        return F.reshape(roll(flat, sh, 0), tuple(input.shape))
    dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    if len(sh) != len(dims):
        raise ValueError(
            f"roll: shifts and dimensions must align, got {len(sh)} shifts and {len(dims)} dims"
        )
    nd = input.ndim
    per = [0] * nd
    for s, d in zip(sh, dims):
        d = normalize_dim("roll", int(d), nd)
        n = input.shape[d]
        per[d] = (per[d] + s) % n if n else 0
    if not any(per):
        return input
    return F.call("roll", input, shifts=tuple(per))


def _roll_method(self, shifts, dims=None):
    return roll(self, shifts, dims)


# ---------------------------------------------------------------- diagonal, diag, tril, triu


def _diag_len(shape, offset, d1, d2) -> int:
    if offset >= 0:
        return max(0, min(shape[d1], shape[d2] - offset))
    return max(0, min(shape[d1] + offset, shape[d2]))


def _diagonal_view(shape, attrs):
    off, d1, d2 = attrs["offset"], attrs["dim1"], attrs["dim2"]
    st = contiguous_strides(shape)
    rest = [d for d in range(len(shape)) if d not in (d1, d2)]
    n = _diag_len(shape, off, d1, d2)
    start = (off * st[d2] if off >= 0 else -off * st[d1]) if n else 0
    out = tuple(shape[d] for d in rest) + (n,)
    return out, tuple(st[d] for d in rest) + (st[d1] + st[d2],), start


def _diagonal_rule(ctx, g):
    a = ctx.attrs
    shape = tuple(ctx._input_meta[0][0])
    return (
        F.call(
            "diagonal_backward", g, in_shape=shape, offset=a["offset"], dim1=a["dim1"],
            dim2=a["dim2"],
        ),
    )  # fmt: skip


def _diagonal_backward_rule(ctx, g):
    a = ctx.attrs
    return (F.call("diagonal", g, offset=a["offset"], dim1=a["dim1"], dim2=a["dim2"]),)


def _embed_shape(in_shapes, attrs):
    shape, off, d1, d2 = attrs["in_shape"], attrs["offset"], attrs["dim1"], attrs["dim2"]
    want = _diagonal_view(shape, attrs)[0]
    if tuple(in_shapes[0]) != want:
        raise ValueError(
            f"diagonal_backward: grad shape {tuple(in_shapes[0])} does not match the diagonal "
            f"{want} of shape {tuple(shape)} (offset {off}, dims {d1}, {d2})"
        )
    return tuple(shape)


_DIAG = ("offset", "dim1", "dim2")
row("diagonal", "map", 1, _diagonal_rule, attrs=_DIAG, view=_diagonal_view, out_dtype="input0")
# The diagonal written into zeros of in_shape (diag of a vector, backward of diagonal).
row(
    "diagonal_backward",
    "shape_index",
    1,
    _diagonal_backward_rule,
    attrs=("in_shape",) + _DIAG,
    shape=_embed_shape,
)


def diagonal(input, offset: int = 0, dim1: int = 0, dim2: int = 1):
    """The diagonal of dims ``dim1``/``dim2`` as the last dim: ``x.diagonal(1)``."""
    nd = input.ndim
    if nd < 2:
        raise ValueError(f"diagonal: input must be >= 2-d, got shape {tuple(input.shape)}")
    d1, d2 = normalize_dim("diagonal", dim1, nd), normalize_dim("diagonal", dim2, nd)
    if d1 == d2:
        raise ValueError(f"diagonal: dim1 and dim2 cannot be the same dimension ({d1})")
    return F.call("diagonal", input, offset=int(offset), dim1=d1, dim2=d2)


def diag(input, diagonal: int = 0):
    """Vector -> matrix with it on a diagonal; matrix -> that diagonal: ``vkgrad.diag(v)``."""
    k = int(diagonal)
    if input.ndim == 1:
        n = input.shape[0] + abs(k)
        return F.call("diagonal_backward", input, in_shape=(n, n), offset=k, dim1=0, dim2=1)
    if input.ndim == 2:
        return F.call("diagonal", input, offset=k, dim1=0, dim2=1)
    raise ValueError(f"diag: expected a 1-D or 2-D input, got shape {tuple(input.shape)}")


def _tri_shape(op: str):
    def shape(in_shapes, attrs):
        s = tuple(in_shapes[0])
        if len(s) < 2:
            raise ValueError(f"{op}: input must be at least 2-d, got shape {s}")
        return s

    return shape


for _name in ("tril", "triu"):
    # y = x where col - row <= diagonal (tril) / >= diagonal (triu), else 0; last two dims.
    row(
        _name,
        "shape_index",
        1,
        (lambda n: lambda c, g: (F.call(n, g, diagonal=c.attrs["diagonal"]),))(_name),
        attrs=("diagonal",),
        shape=_tri_shape(_name),
    )


def tril(input, diagonal: int = 0):
    """Zero the elements above the ``diagonal``-th diagonal: ``x.tril(-1)``."""
    return F.call("tril", input, diagonal=int(diagonal))


def triu(input, diagonal: int = 0):
    """Zero the elements below the ``diagonal``-th diagonal: ``x.triu(1)``."""
    return F.call("triu", input, diagonal=int(diagonal))


# Tensor methods: {method name: function(self, ...)}.
def _tile_method(self, *dims):
    """``x.tile(2, 3)`` or ``x.tile((2, 3))``."""
    return tile(self, _sizes(dims))


TENSOR_METHODS: dict = {
    "split": split,
    "chunk": chunk,
    "unbind": unbind,
    "narrow": narrow,
    "select": select,
    "unflatten": unflatten,
    "repeat": repeat,
    "tile": _tile_method,
    "repeat_interleave": repeat_interleave,
    "flip": _flip_method,
    "fliplr": fliplr,
    "flipud": flipud,
    "roll": _roll_method,
    "diag": diag,
    "diagonal": diagonal,
    "tril": tril,
    "triu": triu,
}


# ---------------------------------------------------------------- views and reshapes: functions


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
    dims = tuple(normalize_dim("permute", d, nd) for d in dims)
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
    d0, d1 = normalize_dim("transpose", dim0, nd), normalize_dim("transpose", dim1, nd)
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
    ] and numel(out) == x.numel():
        return reshape(x, out)
    return apply("expand", x, shape=out)


def unsqueeze(x, dim: int):
    nd = x.ndim + 1
    d = normalize_dim("unsqueeze", dim, nd)
    shape = list(x.shape)
    shape.insert(d, 1)
    return reshape(x, tuple(shape))


def squeeze(x, dim=None):
    if dim is None:
        return reshape(x, tuple(s for s in x.shape if s != 1))
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    dims = {normalize_dim("squeeze", d, x.ndim) for d in dims}
    return reshape(x, tuple(s for i, s in enumerate(x.shape) if not (i in dims and s == 1)))


def sum_to(x, shape):
    """Sum ``x`` down to ``shape`` (the inverse of broadcasting ``shape`` to ``x.shape``)."""
    shape = tuple(shape)
    if tuple(x.shape) == shape:
        return x
    lead = x.ndim - len(shape)
    dims = list(range(lead)) + [
        lead + i for i, s in enumerate(shape) if s == 1 and x.shape[lead + i] != 1
    ]
    out = F.sum(x, dims, keepdim=True) if dims else x
    return reshape(out, shape)


def getitem(x, index):
    """Basic indexing: ints, slices with positive steps, None and Ellipsis; advanced indices
    (tensors, lists, bool masks) go to ``library.indexing``."""
    if not isinstance(index, tuple):
        index = (index,)
    # As in PyTorch: True is a new axis (never the int 1), NumPy integers are ints.
    if builtins.any(i is False for i in index):
        raise TypeError("getitem: a False index (an empty selection) is not supported")
    index = tuple(None if i is True else int(i) if isinstance(i, np.integer) else i for i in index)
    if indexing.has_advanced(index):  # tensors, lists, bool masks: the indexing family
        return indexing.getitem(x, index)
    T = autograd.Tensor
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


def view(x, shape: tuple):
    """The same storage seen with another shape, with no graph node: callers check sizes."""
    out = autograd.Tensor._make(
        x._device.backend.reshape(x._data, shape), shape, x._dtype, x._device
    )
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


# ---------------------------------------------------------------- pad


_PAD_MODES = ("constant", "reflect", "replicate", "circular")


def pad(input, pad, mode: str = "constant", value=None):
    """Pad (or, with negative amounts, crop) the last ``len(pad) // 2`` dims of ``input``;
    ``pad`` lists (before, after) pairs starting from the last dim, as PyTorch's
    ``F.pad``: ``(left, right, top, bottom)`` pads W then H.

    ``mode``: 'constant' (``value``, default 0; any number of dims), or 'reflect' (mirrored
    without repeating the edge), 'replicate' (the edge repeated) and 'circular' (the other
    end), which pad 1 to 3 trailing dims of a (C, *) or (N, C, *) input. Negative amounts crop
    first; the padding then comes from what is left.

    >>> F.pad(vkgrad.ones(1, 2, 3), (1, 2))                   # shape (1, 2, 6)
    >>> F.pad(vkgrad.ones(1, 1, 4, 4), (1, 1, 2, 0), mode="reflect")   # (1, 1, 6, 6)
    """
    op = "pad"
    if not isinstance(input, autograd.Tensor):
        raise TypeError(f"{op}: input must be a tensor, got {type(input).__name__}")
    if not isinstance(pad, (tuple, list)):
        raise TypeError(f"{op}: pad must be a tuple or list of ints, got {type(pad).__name__}")
    pads = tuple(int(p) for p in pad)
    if len(pads) % 2:
        raise ValueError(f"{op}: the padding length must be divisible by 2, got {len(pads)} {pads}")
    k = len(pads) // 2
    shape = tuple(input.shape)
    if k > input.ndim:
        raise ValueError(
            f"{op}: padding {pads} pads {k} dims but the input of shape {shape} has {input.ndim}"
        )
    if mode not in _PAD_MODES:
        raise ValueError(f"{op}: mode must be one of {list(_PAD_MODES)}, got {mode!r}")
    if mode != "constant":
        if value is not None and value != 0:
            raise ValueError(f'{op}: padding mode "{mode}" does not take a value argument')
        if k not in (1, 2, 3) or input.ndim not in (k + 1, k + 2):
            raise ValueError(
                f"{op}: {mode} padding of {k} dims (padding {pads}) needs a {k + 1}-D or "
                f"{k + 2}-D input, got shape {shape}; it pads the last 1, 2 or 3 dims of a "
                "(C, *) or (N, C, *) input"
            )
    x = input
    fill = 0.0 if value is None else value
    for i in range(k):
        x = _pad_dim(x, input.ndim - 1 - i, pads[2 * i], pads[2 * i + 1], mode, fill, pads, shape)
    return x


def _pad_dim(x, dim: int, before: int, after: int, mode: str, value, pads, shape):
    """Pad one dim of x: crop negative amounts, then add the mode's blocks on each side."""
    op = "pad"
    size = x.shape[dim]
    if size + min(before, 0) + min(after, 0) < 0:
        raise ValueError(
            f"{op}: padding ({before}, {after}) of dim {dim} (size {size}) crops to a negative "
            f"size (input shape {shape}, padding {pads})"
        )
    if before < 0:
        x, size, before = _slice_dim(x, dim, -before, size + before), size + before, 0
    if after < 0:
        x, size, after = _slice_dim(x, dim, 0, size + after), size + after, 0
    if before == 0 and after == 0:
        return x
    if mode == "reflect" and (before >= size or after >= size):
        raise ValueError(
            f"{op}: reflect padding ({before}, {after}) must be smaller than the size {size} of "
            f"dim {dim} (input shape {shape}, padding {pads})"
        )
    if mode == "circular" and (before > size or after > size):
        raise ValueError(
            f"{op}: circular padding ({before}, {after}) must be at most the size {size} of dim "
            f"{dim} (input shape {shape}, padding {pads}): it would wrap around more than once"
        )
    if mode == "replicate" and size == 0:
        raise ValueError(
            f"{op}: replicate padding of dim {dim} needs a non-empty dim (input shape {shape}, "
            f"padding {pads})"
        )

    def block(n: int, at_start: bool):
        if mode == "constant":
            s = tuple(n if d == dim else e for d, e in enumerate(x.shape))
            return F.call("fill", value=float(value), shape=s, dtype=x.dtype, device=x.device)
        if mode == "reflect":  # the edge itself is not repeated
            start = 1 if at_start else size - 1 - n
            return F.flip(_slice_dim(x, dim, start, n), (dim,))
        if mode == "replicate":
            edge = _slice_dim(x, dim, 0 if at_start else size - 1, 1)
            return F.expand(edge, tuple(n if d == dim else e for d, e in enumerate(x.shape)))
        return _slice_dim(x, dim, size - n if at_start else 0, n)  # circular

    parts = ([block(before, True)] if before else []) + [x]
    if after:
        parts.append(block(after, False))
    return F.cat(parts, dim)


# ---------------------------------------------------------------- pixel shuffle


def _shuffle_factor(op: str, input, factor, what: str) -> int:
    if not isinstance(input, autograd.Tensor):
        raise TypeError(f"{op}: input must be a tensor, got {type(input).__name__}")
    if input.ndim < 3:
        raise ValueError(
            f"{op}: expected an input of at least 3 dims (*, C, H, W), got shape "
            f"{tuple(input.shape)}"
        )
    r = int(factor)
    if r <= 0:
        raise ValueError(f"{op}: {what} must be positive, got {factor}")
    return r


def pixel_shuffle(input, upscale_factor: int):
    """(*, C r^2, H, W) -> (*, C, H r, W r): each group of r^2 channels becomes an r x r
    block of pixels (sub-pixel convolution's rearrangement).

    >>> F.pixel_shuffle(vkgrad.ones(1, 8, 3, 3), 2).shape   # (1, 2, 6, 6)
    """
    op = "pixel_shuffle"
    r = _shuffle_factor(op, input, upscale_factor, "upscale_factor")
    *lead, c, h, w = input.shape
    if c % (r * r):
        raise ValueError(
            f"{op}: the channel dim (size {c}) of input {tuple(input.shape)} must be divisible "
            f"by upscale_factor^2 = {r * r}"
        )
    b = numel(lead)
    x = reshape(input, (b, c // (r * r), r, r, h, w))
    x = permute(x, (0, 1, 4, 2, 5, 3))
    return reshape(x, (*lead, c // (r * r), h * r, w * r))


def pixel_unshuffle(input, downscale_factor: int):
    """(*, C, H r, W r) -> (*, C r^2, H, W), the inverse of ``pixel_shuffle``.

    >>> F.pixel_unshuffle(vkgrad.ones(1, 2, 6, 6), 2).shape   # (1, 8, 3, 3)
    """
    op = "pixel_unshuffle"
    r = _shuffle_factor(op, input, downscale_factor, "downscale_factor")
    *lead, c, h, w = input.shape
    if h % r or w % r:
        raise ValueError(
            f"{op}: the height {h} and width {w} of input {tuple(input.shape)} must be "
            f"divisible by downscale_factor {r}"
        )
    b = numel(lead)
    x = reshape(input, (b, c, h // r, r, w // r, r))
    x = permute(x, (0, 1, 3, 5, 2, 4))
    return reshape(x, (*lead, c * r * r, h // r, w // r))


# ---------------------------------------------------------------- interpolate

# mode -> the input ndims it takes (PyTorch's: nearest of 1-3 spatial dims, linear 1,
# bilinear 2, trilinear 3; area through adaptive average pooling, 1 or 2).
_INTERP_MODES = {
    "nearest": (3, 4, 5),
    "nearest-exact": (3, 4, 5),
    "linear": (3,),
    "bilinear": (4,),
    "trilinear": (5,),
    "area": (3, 4),
}


def interpolate(
    input,
    size=None,
    scale_factor=None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
):
    """Resize the spatial dims of (N, C, *spatial) input to ``size``, or by ``scale_factor``
    (output size ``floor(size * scale_factor)``), as PyTorch's ``F.interpolate``.

    Modes: 'nearest' (source index ``floor(i * scale)``, PyTorch's legacy rule, with scale =
    1 / scale_factor when that is given, else in / out), 'nearest-exact'
    (``floor((i + 0.5) * scale)``), 'linear' (3-D), 'bilinear' (4-D), 'trilinear' (5-D), with
    ``align_corners`` as PyTorch (default False), and 'area' (3-D or 4-D: adaptive average
    pooling). The gradient flows to the input through the gathers.

    >>> F.interpolate(vkgrad.ones(1, 3, 4, 4), scale_factor=2, mode="bilinear").shape
    (1, 3, 8, 8)
    """
    op = "interpolate"
    if not isinstance(input, autograd.Tensor):
        raise TypeError(f"{op}: input must be a tensor, got {type(input).__name__}")
    if mode not in _INTERP_MODES:
        raise NotImplementedError(
            f"{op}: mode {mode!r} is not supported; supported modes: {list(_INTERP_MODES)}"
        )
    if antialias:
        raise NotImplementedError(f"{op}: antialias=True is not supported")
    ndims = _INTERP_MODES[mode]
    if input.ndim not in ndims:
        want = " or ".join(f"{d}-D" for d in ndims)
        raise ValueError(
            f"{op}: mode {mode!r} needs a {want} (N, C, *spatial) input, got shape "
            f"{tuple(input.shape)}"
        )
    linear = mode in ("linear", "bilinear", "trilinear")
    if align_corners is not None and not linear:
        raise ValueError(
            f"{op}: align_corners can only be set with the interpolating modes linear, "
            f"bilinear and trilinear, not {mode!r}"
        )
    spatial = tuple(input.shape[2:])
    k = len(spatial)
    out_size, scales = _interp_sizes(op, spatial, size, scale_factor, recompute_scale_factor)
    if mode == "area":
        pool = F.adaptive_avg_pool1d if k == 1 else F.adaptive_avg_pool2d
        return pool(input, out_size if k > 1 else out_size[0])
    x = input
    # Last dim first: PyTorch's bilinear kernel blends along W, then H.
    for i in reversed(range(k)):
        d = 2 + i
        n_in, n_out, scale = spatial[i], out_size[i], scales[i]
        if linear:
            x = _lerp_dim(x, d, n_in, n_out, scale, bool(align_corners))
        else:
            idx = _nearest_index(n_in, n_out, scale, mode == "nearest-exact")
            if idx is not None:
                x = F.index_select(x, d, _host_int32(idx, x.device))
    return x


def _interp_sizes(op: str, spatial: tuple, size, scale_factor, recompute) -> tuple:
    """(output sizes, scales given to the kernel: 1 / scale_factor or None per dim)."""
    k = len(spatial)
    if (size is None) == (scale_factor is None):
        which = "either" if size is None else "only one of"
        raise ValueError(f"{op}: {which} size or scale_factor should be given")
    if size is not None:
        sizes = tuple(size) if isinstance(size, (tuple, list)) else (size,) * k
        if len(sizes) != k:
            raise ValueError(
                f"{op}: size {tuple(sizes)} must have one entry per spatial dim of the input "
                f"(spatial size {spatial})"
            )
        sizes = tuple(int(s) for s in sizes)
        scales = (None,) * k
    else:
        factors = (
            tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * k
        )
        if len(factors) != k:
            raise ValueError(
                f"{op}: scale_factor {tuple(factors)} must have one entry per spatial dim of "
                f"the input (spatial size {spatial})"
            )
        factors = tuple(float(f) for f in factors)
        if any(not f > 0 for f in factors):
            raise ValueError(f"{op}: scale_factor must be positive, got {factors}")
        sizes = tuple(int(np.floor(float(n) * f)) for n, f in zip(spatial, factors))
        scales = (None,) * k if recompute else factors
    if any(s <= 0 for s in sizes) or any(n <= 0 for n in spatial):
        raise ValueError(
            f"{op}: input and output sizes must be greater than 0, got input spatial size "
            f"{spatial} and output size {sizes}"
        )
    return sizes, scales


def _host_int32(a, device):
    return autograd.tensor(np.asarray(a, np.int32), dtype=dtypes.int32, device=device)


def _nearest_index(n_in: int, n_out: int, scale_factor, exact: bool):
    """Source index per output index along one dim, as PyTorch's CPU kernels (float32 scale);
    None where it is the identity."""
    if not exact and n_out == n_in:
        return None
    if not exact and n_out == 2 * n_in:
        return np.arange(n_out) >> 1
    scale = np.float32(1.0 / scale_factor if scale_factor else np.float32(n_in) / np.float32(n_out))
    i = np.arange(n_out, dtype=np.float64)
    # f32 products, then floor, as PyTorch's floorf(dst_index * scale).
    src = (i + 0.5) * np.float64(scale) if exact else i.astype(np.float32) * scale
    return np.minimum(np.floor(np.asarray(src, np.float32)).astype(np.int64), n_in - 1)


def _lerp_dim(x, d: int, n_in: int, n_out: int, scale_factor, align_corners: bool):
    """Linear interpolation along dim d: x[i0] * l0 + x[i1] * l1 with PyTorch's source
    positions (area_pixel_compute_source_index)."""
    i = np.arange(n_out, dtype=np.float64)
    if align_corners:
        scale = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
        src = i * scale
    else:
        scale = 1.0 / scale_factor if scale_factor else n_in / n_out
        src = np.maximum(scale * (i + 0.5) - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    l1 = np.clip(src - i0, 0.0, 1.0)
    l0 = 1.0 - l1
    bshape = tuple(n_out if j == d else 1 for j in range(x.ndim))
    a = F.index_select(x, d, _host_int32(i0, x.device))
    b = F.index_select(x, d, _host_int32(i1, x.device))
    w0 = autograd.tensor(l0.reshape(bshape), dtype=x.dtype, device=x.device)
    w1 = autograd.tensor(l1.reshape(bshape), dtype=x.dtype, device=x.device)
    return F.add(F.mul(a, w0), F.mul(b, w1))
