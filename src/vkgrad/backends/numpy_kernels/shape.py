"""NumPy kernels of the shape family (``vkgrad/library/shape.py``)."""

from __future__ import annotations

import numpy as np

from ..numpy_backend import kernel

# ---------------------------------------------------------------- views (made contiguous by finish)


@kernel
def permute(x, dims=(), **_):
    return np.transpose(x, dims)


@kernel
def expand(x, shape=(), **_):
    return np.broadcast_to(x, shape)


def _slices(starts, steps, out_shape):
    return tuple(
        slice(s, s + n * st, st) if n else slice(0, 0) for s, st, n in zip(starts, steps, out_shape)
    )


@kernel
def slice_(x, starts=(), steps=(), out_shape=(), **_):
    return x[_slices(starts, steps, out_shape)]


@kernel
def slice_backward(g, in_shape=(), starts=(), steps=(), out_shape=(), **_):
    out = np.zeros(in_shape, dtype=np.result_type(g, np.float32))
    out[_slices(starts, steps, out_shape)] = g
    return out


# ---------------------------------------------------------------- copies


@kernel
def cat(*xs, dim=0, **_):
    return np.concatenate(xs, axis=dim)


@kernel
def flip(x, dims=(), **_):
    return np.flip(x, dims)


@kernel
def roll(x, shifts=(), **_):
    return np.roll(x, shifts, axis=tuple(range(x.ndim)))


@kernel
def diagonal(x, offset=0, dim1=0, dim2=1, **_):
    return np.diagonal(x, offset, dim1, dim2)


@kernel
def diagonal_backward(g, in_shape=(), offset=0, dim1=0, dim2=1, **_):
    out = np.zeros(in_shape, dtype=g.dtype)
    # The two dims last (a view of out), then the diagonal's (row, col) pairs written at once.
    view = np.moveaxis(out, (dim1, dim2), (-2, -1))
    k = np.arange(g.shape[-1])
    view[..., k + max(-offset, 0), k + max(offset, 0)] = g
    return out


@kernel
def tril(x, diagonal=0, **_):
    return np.tril(x, diagonal)


@kernel
def triu(x, diagonal=0, **_):
    return np.triu(x, diagonal)


@kernel
def repeat_interleave(x, index, offsets, dim=0, **_):
    return np.take(x, np.asarray(index, np.int64), axis=dim)


@kernel
def repeat_interleave_backward(g, index, offsets, dim=0, **_):
    shape = list(g.shape)
    shape[dim] = len(offsets) - 1
    out = np.zeros(shape, dtype=g.dtype)
    np.add.at(np.moveaxis(out, dim, 0), np.asarray(index, np.int64), np.moveaxis(g, dim, 0))
    return out
