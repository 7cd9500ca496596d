"""NumPy kernels of the indexing family (``vkgrad/library/indexing.py``).

Indices arrive checked: the backend applies the rows' ``bounds`` before a kernel runs
(``vkgrad/validate.py``), so a kernel may index with them as they are.
"""

from __future__ import annotations

import numpy as np

from ..numpy_backend import kernel


def _grid(idx: np.ndarray, dim: int) -> tuple:
    """The coordinates picked by a gather/scatter index: its own grid, with dim from idx."""
    coords = list(np.indices(idx.shape, sparse=True))
    coords[dim] = idx
    return tuple(coords)


def _region(a, shape) -> np.ndarray:
    """The leading ``shape`` block of a (src may be larger than the index)."""
    return a[tuple(slice(0, s) for s in shape)]


@kernel
def gather(x, idx, dim=0, **_):
    return x[_grid(idx, dim)]


def _select(x, idx, dim: int, skip: int):
    out = np.take(x, np.where(idx == skip, 0, idx), axis=dim)
    if skip >= 0:
        shape = [1] * x.ndim
        shape[dim] = idx.size
        out = np.where((idx == skip).reshape(shape), 0, out)
    return out


@kernel
def index_select(x, idx, dim=0, skip=-1, **_):
    return _select(x, idx, int(dim), int(skip))


@kernel
def embedding(w, idx, **_):
    return _select(w, idx, 0, -1)


@kernel
def scatter_add(x, idx, src, dim=0, **_):
    out = np.array(x, dtype=np.result_type(x, src))
    np.add.at(out, _grid(idx, dim), _region(src, idx.shape))
    return out


@kernel
def index_add(x, idx, src, dim=0, alpha=1.0, skip=-1, **_):
    out = np.array(x, dtype=np.result_type(x, src))
    keep = idx != skip
    moved = np.moveaxis(out, dim, 0)  # a view: adds land in out
    np.add.at(moved, idx[keep], np.moveaxis(src, dim, 0)[keep] * alpha)
    return out


@kernel
def scatter(x, idx, src, dim=0, src_tensor=1, **_):
    out = np.array(x)
    out[_grid(idx, dim)] = _region(src, idx.shape) if src_tensor else src
    return out


@kernel
def one_hot(t, num_classes=1, **_):
    return (np.asarray(t)[..., None] == np.arange(num_classes)).astype(np.int32)


@kernel
def index_linear(acc, t, size=1, stride=1, dim=0, **_):
    t = np.asarray(t).astype(np.int64)
    return (np.asarray(acc).astype(np.int64) + np.where(t < 0, t + size, t) * stride).astype(
        np.int32
    )
