"""Shape arithmetic shared by every layer: broadcasting, strides, sizes and dim checks.

Pure functions of tuples of ints; nothing here knows tensors, ops or backends. Errors name
the op they were called for.

>>> broadcast_shapes("add", (3, 1), (4,))
(3, 4)
>>> contiguous_strides((2, 3, 4))
(12, 4, 1)
"""

from __future__ import annotations

import operator

Shape = tuple


def broadcast_shapes(op: str, *shapes: Shape) -> Shape:
    """NumPy/PyTorch broadcasting, with an error that names the op and the shapes."""
    first = shapes[0] if shapes else ()
    if all(s == first for s in shapes):
        return tuple(first)
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(ndim):
        size = 1
        for s in shapes:
            d = s[i - ndim + len(s)] if i - ndim + len(s) >= 0 else 1
            if d != 1:
                if size not in (1, d):
                    shown = " and ".join(str(tuple(s)) for s in shapes)
                    raise ValueError(f"{op}: shapes {shown} cannot be broadcast together")
                size = d
        out.append(size)
    return tuple(out)


def numel(shape) -> int:
    """The number of elements of ``shape`` (1 for ``()``)."""
    n = 1
    for d in shape:
        n *= d
    return n


def contiguous_strides(shape) -> tuple:
    """Row-major element strides of ``shape``."""
    strides, acc = [], 1
    for d in reversed(shape):
        strides.append(acc)
        acc *= d
    return tuple(reversed(strides))


def broadcast_strides(in_shape, out_shape) -> tuple:
    """Element strides reading ``in_shape`` broadcast to ``out_shape`` (0 on broadcast dims)."""
    lead = len(out_shape) - len(in_shape)
    st = contiguous_strides(in_shape)
    res = [0] * lead
    for i, d in enumerate(in_shape):
        res.append(0 if d == 1 and out_shape[lead + i] != 1 else st[i])
    return tuple(res)


def normalize_dim(op: str, dim, ndim: int) -> int:
    """``dim`` in [-ndim, ndim) as a non-negative index (a 0-d tensor takes -1 and 0), with
    PyTorch's errors otherwise."""
    try:
        if isinstance(dim, bool):
            raise TypeError
        dim = operator.index(dim)  # NumPy integers too
    except TypeError:
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}") from None
    lo, hi = (-1, 0) if ndim == 0 else (-ndim, ndim - 1)
    if not lo <= dim <= hi:
        raise IndexError(
            f"{op}: dimension out of range (expected to be in range of [{lo}, {hi}], got {dim})"
        )
    return dim % ndim if ndim else 0
