"""Op specs of the indexing family (``vkgrad/library/indexing.py``); see op_specs.py.

Index tensors and masks are aux inputs (int32 / bool). Indices repeat on purpose (gather-type
backward and scatter_add accumulate over them); scatter, whose result with repeated indices is
undefined, gets distinct indices.
"""

from __future__ import annotations

import numpy as np
from op_specs import spec

import vkgrad
import vkgrad.nn.functional as NF

# Names beyond the family's public functions (test_ops requires a spec for each of those)
# that must have a spec: Tensor methods, namespaces, forms with options.
WANTED: list[str] = [
    "getitem",
    "setitem",
]


def _ints(name, lo, hi, shape):
    return lambda rng: {name: rng.integers(lo, hi, shape).astype(np.int32)}


def _mask(shape, name="m"):
    return lambda rng: {name: rng.random(shape) < 0.5}


# ---------------------------------------------------------------- references


def _gather_ref(a, i, dim):
    a = a[tuple(slice(0, s) if d != dim else slice(None) for d, s in enumerate(i.shape))]
    return np.take_along_axis(a, i.astype(np.int64), axis=dim)


def _scatter_add_ref(a, i, s, dim):
    out = a.copy()
    for pos in np.ndindex(i.shape):
        tgt = list(pos)
        tgt[dim] = i[pos]
        out[tuple(tgt)] += s[pos]
    return out


def _scatter_ref(a, i, s, dim):
    out = a.copy()
    for pos in np.ndindex(i.shape):
        tgt = list(pos)
        tgt[dim] = i[pos]
        out[tuple(tgt)] = s[pos] if np.ndim(s) else s
    return out


def _index_add_ref(a, i, s, dim, alpha):
    out = np.moveaxis(a.copy(), dim, 0)
    src = np.moveaxis(s, dim, 0)
    for k, j in enumerate(i):
        out[j] += alpha * src[k]
    return np.moveaxis(out, 0, dim)


def _distinct_rows(n, rows, cols):
    """Indices along dim 0 of shape (rows, cols), distinct within each column."""
    return lambda rng: {
        "i": np.stack([rng.permutation(n)[:rows] for _ in range(cols)], axis=1).astype(np.int32)
    }


# ---------------------------------------------------------------- index_select

spec(
    "index_select_dim0",
    lambda a, i: vkgrad.index_select(a, 0, i),
    lambda a, i: a[i],
    [(7, 5)],
    aux=_ints("i", 0, 7, 33),
)
spec(
    "index_select_dim1",
    lambda a, i: a.index_select(1, i),
    lambda a, i: a[:, i],
    [(3, 257)],
    aux=_ints("i", 0, 257, 7),
)
spec(
    "index_select_neg_dim",
    lambda a, i: vkgrad.index_select(a, -1, i),
    lambda a, i: a[..., i],
    [(2, 3, 4)],
    aux=_ints("i", 0, 4, 6),
)
spec(
    "index_select_one",
    lambda a, i: vkgrad.index_select(a, 0, i),
    lambda a, i: a[i],
    [(1,)],
    aux=_ints("i", 0, 1, 3),
)

# ---------------------------------------------------------------- gather

spec(
    "gather_dim1",
    lambda a, i: vkgrad.gather(a, 1, i),
    lambda a, i: _gather_ref(a, i, 1),
    [(3, 7)],
    aux=_ints("i", 0, 7, (3, 5)),
)
spec(
    "gather_dim0_smaller_index",
    lambda a, i: a.gather(0, i),
    lambda a, i: _gather_ref(a, i, 0),
    [(5, 4)],
    aux=_ints("i", 0, 5, (7, 3)),
)
spec(
    "gather_3d",
    lambda a, i: vkgrad.gather(a, -2, i),
    lambda a, i: _gather_ref(a, i, 1),
    [(2, 3, 4)],
    aux=_ints("i", 0, 3, (2, 5, 4)),
)
spec(
    "gather_1d",
    lambda a, i: vkgrad.gather(a, 0, i),
    lambda a, i: a[i],
    [(33,)],
    aux=_ints("i", 0, 33, 257),
)

# ---------------------------------------------------------------- scatter_add, index_add, scatter

spec(
    "scatter_add_dim0",
    lambda a, s, i: vkgrad.scatter_add(a, 0, i, s),
    lambda a, s, i: _scatter_add_ref(a, i, s, 0),
    [(7, 5), (9, 5)],
    aux=_ints("i", 0, 7, (9, 5)),
)
spec(
    "scatter_add_src_larger",
    lambda a, s, i: a.scatter_add(1, i, s),
    lambda a, s, i: _scatter_add_ref(a, i, s, 1),
    [(4, 6), (3, 4)],
    aux=_ints("i", 0, 6, (2, 3)),
)
spec(
    "scatter_add_1d",
    lambda a, s, i: vkgrad.scatter_add(a, 0, i, s),
    lambda a, s, i: _scatter_add_ref(a, i, s, 0),
    [(7,), (257,)],
    aux=_ints("i", 0, 7, 257),
)
spec(
    "index_add_dim0",
    lambda a, s, i: vkgrad.index_add(a, 0, i, s),
    lambda a, s, i: _index_add_ref(a, i, s, 0, 1.0),
    [(7, 3), (33, 3)],
    aux=_ints("i", 0, 7, 33),
)
spec(
    "index_add_dim1_alpha",
    lambda a, s, i: a.index_add(1, i, s, alpha=-2),
    lambda a, s, i: _index_add_ref(a, i, s, 1, -2.0),
    [(2, 5), (2, 4)],
    aux=_ints("i", 0, 5, 4),
)
spec(
    "scatter_src",
    lambda a, s, i: vkgrad.scatter(a, 0, i, s),
    lambda a, s, i: _scatter_ref(a, i, s, 0),
    [(7, 4), (3, 4)],
    aux=_distinct_rows(7, 3, 4),
)
spec(
    "scatter_src_larger",
    lambda a, s, i: a.scatter(0, i, s),
    lambda a, s, i: _scatter_ref(a, i, s, 0),
    [(7, 4), (5, 6)],
    aux=_distinct_rows(7, 3, 4),
)
spec(
    "scatter_value",
    lambda a, i: vkgrad.scatter(a, 0, i, value=1.5),
    lambda a, i: _scatter_ref(a, i, 1.5, 0),
    [(7, 4)],
    aux=_distinct_rows(7, 2, 4),
)

# ---------------------------------------------------------------- masks

spec(
    "masked_fill",
    lambda a, m: vkgrad.masked_fill(a, m, -0.5),
    lambda a, m: np.where(m, -0.5, a),
    [(7, 5)],
    aux=_mask((7, 5)),
)
spec(
    "masked_fill_bcast",
    lambda a, m: a.masked_fill(m, 2.0),
    lambda a, m: np.where(m, 2.0, a),
    [(3, 33)],
    aux=_mask((33,)),
)
spec(
    "masked_fill_tensor_value",
    lambda a, v, m: vkgrad.masked_fill(a, m, v),
    lambda a, v, m: np.where(m, v, a),
    [(3, 4), ()],
    aux=_mask((3, 4)),
)
spec(
    "masked_select",
    lambda a, m: vkgrad.masked_select(a, m),
    lambda a, m: a[m],
    [(7, 5)],
    aux=_mask((7, 5)),
)
spec(
    "masked_select_bcast",
    lambda a, m: a.masked_select(m),
    lambda a, m: a[np.broadcast_to(m, a.shape)],
    [(3, 7)],
    aux=_mask((7,)),
)

# ---------------------------------------------------------------- one_hot, embedding


def _one_hot_ref(x, t, c):
    return (t[..., None] == np.arange(c)).astype(np.float64)


# one_hot has an int32 output and no gradient: ``x`` only carries the tested dtype.
spec(
    "one_hot",
    lambda x, t: NF.one_hot(t, 5).to(x.dtype),
    lambda x, t: _one_hot_ref(x, t, 5),
    [(1,)],
    aux=_ints("t", 0, 5, (3, 7)),
    grad=False,
)
spec(
    "one_hot_infer",
    lambda x, t: NF.one_hot(t).to(x.dtype),
    lambda x, t: _one_hot_ref(x, t, int(t.max()) + 1),
    [(1,)],
    aux=_ints("t", 0, 9, 33),
    grad=False,
)
spec(
    "embedding",
    lambda w, i: NF.embedding(i, w),
    lambda w, i: w[i],
    [(7, 4)],
    aux=_ints("i", 0, 7, (3, 5)),
)
spec(
    "embedding_33",
    lambda w, i: NF.embedding(i, w),
    lambda w, i: w[i],
    [(5, 3)],
    aux=_ints("i", 0, 5, 33),
)
# padding_idx: its rows get no gradient, which is not the derivative finite differences see;
# tested in test_indexing.py.

# ---------------------------------------------------------------- advanced getitem

_GETITEM = {
    # name: (index from aux i/j/m, reference, input shape, aux)
    "tensor": (lambda a, i: a[i], (7, 5), _ints("i", -7, 7, 9)),
    "list": (lambda a: a[[0, 2, 2, -1]], (7, 5), None),
    "tensor_2d": (lambda a, i: a[i], (33,), _ints("i", 0, 33, (4, 5))),
    "tensor_mid_slices": (lambda a, i: a[:, i, 1:], (3, 7, 5), _ints("i", 0, 7, 6)),
    "tensor_last": (lambda a, i: a[..., i], (2, 3, 4), _ints("i", -4, 4, 5)),
    "int_tensor": (lambda a, i: a[1, i], (3, 7), _ints("i", 0, 7, 4)),
    "none_tensor_step": (lambda a, i: a[None, i, ::2], (5, 7), _ints("i", 0, 5, 3)),
    "scalar_tensor": (lambda a, i: a[:, i], (3, 4), _ints("i", 0, 4, ())),
}
for _n, (_f, _shape, _aux) in _GETITEM.items():
    if _aux is None:
        spec(f"getitem_{_n}", _f, _f, [_shape])
    else:
        spec(
            f"getitem_{_n}",
            lambda a, i, _f=_f: _f(a, i),
            lambda a, i, _f=_f: _f(a, i),
            [_shape],
            aux=_aux,
        )


def _pair(shape_i, shape_j, hi_i, hi_j):
    def aux(rng):
        return {
            "i": rng.integers(0, hi_i, shape_i).astype(np.int32),
            "j": rng.integers(-hi_j, hi_j, shape_j).astype(np.int32),
        }

    return aux


spec(
    "getitem_two_adjacent",
    lambda a, i, j: a[:, i, j],
    lambda a, i, j: a[:, i, j],
    [(3, 4, 5)],
    aux=_pair((2, 3), (3,), 4, 5),
)
spec(
    "getitem_two_leading",
    lambda a, i, j: a[i, j],
    lambda a, i, j: a[i, j],
    [(7, 33)],
    aux=_pair((7,), (1,), 7, 33),
)
# Separated by a slice: the broadcast dims lead the result (as NumPy and PyTorch).
spec(
    "getitem_two_apart",
    lambda a, i, j: a[i, :, j],
    lambda a, i, j: a[i, :, j],
    [(3, 4, 5)],
    aux=_pair((2,), (2,), 3, 5),
)
spec(
    "getitem_mask",
    lambda a, m: a[m],
    lambda a, m: a[m],
    [(7, 5)],
    aux=_mask((7, 5)),
)
spec(
    "getitem_mask_rows_slice",
    lambda a, m: a[m, 1:],
    lambda a, m: a[m, 1:],
    [(7, 5)],
    aux=_mask((7,)),
)
spec(
    "getitem_mask_last",
    lambda a, m: a[..., m],
    lambda a, m: a[..., m],
    [(2, 3, 4)],
    aux=_mask((4,)),
)


# ---------------------------------------------------------------- setitem (no autograd)


def _set(index_fn, value_fn):
    """A fresh copy of ``a`` (no graph: setitem is not differentiable) with a[index] = value."""

    def fn(a, **aux):
        with vkgrad.no_grad():
            y = a.detach().clone()
            y[index_fn(aux)] = value_fn(a, aux)
        return y

    def ref(a, **aux):
        y = a.copy()
        v = value_fn(None, aux)
        y[index_fn(aux)] = v if not isinstance(v, vkgrad.Tensor) else v.numpy()
        return y

    return fn, ref


def _val(x):
    """A value as the tested dtype and device (a is None in the reference)."""
    return lambda a, aux: x if a is None else vkgrad.tensor(x, dtype=a.dtype, device=a.device)


_SETITEM = {
    "slice_scalar": ((5, 7), lambda aux: (slice(1, None, 2), 3), lambda a, aux: 0.25, None),
    "tensor_scalar": ((7, 5), lambda aux: aux["i"], lambda a, aux: -1.5, _ints("i", -7, 7, 4)),
    "tensor_bcast_row": (
        (7, 5),
        lambda aux: (aux["i"], slice(None)),
        _val(np.linspace(-1, 1, 5)),
        _ints("i", 0, 7, 3),
    ),
    "two_tensors": (
        (3, 4, 5),
        lambda aux: (slice(None), aux["i"], aux["j"]),
        _val(np.array([[[0.5]], [[1.0]], [[-1.0]]])),
        _pair((1, 2), (2,), 4, 5),
    ),
    "mask_scalar": ((33,), lambda aux: aux["m"], lambda a, aux: 2.0, _mask((33,))),
    "mask_rows_tensor": (
        (257,),
        lambda aux: (aux["m"],),
        lambda a, aux: 1.0 if a is None else vkgrad.ones(1, dtype=a.dtype, device=a.device),
        _mask((257,)),
    ),
}
for _n, (_shape, _idx, _value, _aux) in _SETITEM.items():
    _fn, _ref = _set(_idx, _value)
    spec(f"setitem_{_n}", _fn, _ref, [_shape], aux=_aux, grad=False)
