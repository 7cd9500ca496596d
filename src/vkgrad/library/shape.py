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

Unlike PyTorch, results are new tensors, not views sharing the input's storage: an in-place
change of a piece does not show in the input.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..ops import F, _contiguous_strides, _row

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
NN_FUNCTIONAL: list[str] = []


# ---------------------------------------------------------------- helpers


def _dim(op: str, dim: int, ndim: int) -> int:
    """``dim`` in [-ndim, ndim) as a non-negative index; PyTorch's IndexError otherwise."""
    if not isinstance(dim, int) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}")
    lo, hi = (-1, 0) if ndim == 0 else (-ndim, ndim - 1)
    if not lo <= dim <= hi:
        raise IndexError(
            f"{op}: dimension out of range (expected to be in range of [{lo}, {hi}], got {dim})"
        )
    return dim % ndim if ndim else 0


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
    T = F._t()
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
    from .. import dtypes

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
_row("cat", "cat", -1, _cat_rule, attrs=("dim",), shape=_cat_shape)


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
    d = _dim("cat", dim, tensors[0].ndim)
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
    d = _dim("stack", dim, len(first) + 1)
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
        from ..autograd import Node

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
    from .. import autograd

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
    d = _dim("split", dim, tensor.ndim)
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
    d = _dim("chunk", dim, input.ndim)
    n = input.shape[d]
    return split(input, max(1, -(-n // chunks)) if n else 0, d)


def unbind(input, dim: int = 0) -> tuple:
    """The slices along ``dim``, with that dim removed: ``rows = x.unbind(0)``."""
    d = _dim("unbind", dim, input.ndim)
    return _pieces(input, d, [1] * input.shape[d], "UnbindBackward0", squeeze=True)


# ---------------------------------------------------------------- narrow, select, unflatten


def narrow(input, dim: int, start: int, length: int):
    """``length`` elements from ``start`` along ``dim``: ``x.narrow(1, 2, 3)``."""
    d = _dim("narrow", dim, input.ndim)
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
    d = _dim("select", dim, input.ndim)
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
    d = _dim("unflatten", dim, input.ndim)
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
    s = _dim("flatten", start_dim, input.ndim)
    e = _dim("flatten", end_dim, input.ndim)
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
_row(
    "repeat_interleave",
    "shape_index",
    3,
    _ri_rule("repeat_interleave_backward"),
    attrs=("dim",),
    saves="i",
    no_grad_inputs=(1, 2),
    shape=_ri_gather_shape,
)
_row(
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

    from .. import dtypes

    x = input
    if dim is None:
        x = F.reshape(x, (-1,))
        d = 0
    else:
        d = _dim("repeat_interleave", dim, x.ndim)
    n = x.shape[d] if x.ndim else 1
    if x.ndim == 0:
        x = F.reshape(x, (1,))
    T = F._t()
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
    make = F._t()._make
    dev = x.device

    def up(a):
        return make(dev.backend.from_numpy(a, dtypes.int32), a.shape, dtypes.int32, dev)

    return F.call("repeat_interleave", x, up(idx), up(offsets), dim=d)


# ---------------------------------------------------------------- flip, roll


def _flip_view(shape, attrs):
    st = list(_contiguous_strides(shape))
    off = 0
    for d in attrs["dims"]:
        off += (shape[d] - 1) * st[d] if shape[d] else 0
        st[d] = -st[d]
    return tuple(shape), tuple(st), off


# A strided view with negative strides (two's complement words in the shader's meta).
_row(
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
    out = tuple(_dim(op, int(d), ndim) for d in dims)
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
_row("roll", "shape_index", 1, _roll_rule, attrs=("shifts",), shape=lambda s, a: tuple(s[0]))


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
        d = _dim("roll", int(d), nd)
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
    st = _contiguous_strides(shape)
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
_row("diagonal", "map", 1, _diagonal_rule, attrs=_DIAG, view=_diagonal_view, out_dtype="input0")
# The diagonal written into zeros of in_shape (diag of a vector, backward of diagonal).
_row(
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
    d1, d2 = _dim("diagonal", dim1, nd), _dim("diagonal", dim2, nd)
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
    _row(
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
TENSOR_METHODS: dict = {
    "split": lambda self, split_size, dim=0: split(self, split_size, dim),
    "chunk": chunk,
    "unbind": unbind,
    "narrow": narrow,
    "select": select,
    "unflatten": unflatten,
    "repeat": repeat,
    "tile": lambda self, *dims: tile(self, _sizes(dims)),
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
