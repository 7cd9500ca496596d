"""Op specs of the shape family (``vkgrad/library/shape.py``); see op_specs.py."""

from __future__ import annotations

import numpy as np
from op_specs import spec

import vkgrad

# Names beyond the family's public functions (test_ops requires a spec for each of those)
# that must have a spec: Tensor methods, namespaces, forms with options.
WANTED: list[str] = [
    "repeat",
]


def _join(pieces):
    """One tensor from a tuple of pieces, each weighted differently (so that a gradient routed
    to the wrong piece shows)."""
    return vkgrad.cat([p.reshape(-1) * float(i + 1) for i, p in enumerate(pieces)])


def _np_join(pieces):
    return np.concatenate([p.reshape(-1) * float(i + 1) for i, p in enumerate(pieces)])


def _np_split(a, sizes, axis):
    return np.split(a, np.cumsum(sizes)[:-1], axis=axis)


# ---------------------------------------------------------------- cat, stack

spec("cat", lambda *t: vkgrad.cat(t), lambda *a: np.concatenate(a), [(7,), (33,), (1,)])
spec(
    "cat_dim1",
    lambda a, b, c: vkgrad.cat([a, b, c], dim=1),
    lambda a, b, c: np.concatenate([a, b, c], 1),
    [(3, 1), (3, 7), (3, 2)],
)
spec(
    "cat_neg_dim",
    lambda a, b: vkgrad.cat((a, b), -1),
    lambda a, b: np.concatenate([a, b], -1),
    [(2, 3, 5), (2, 3, 4)],
)
spec(
    "cat_257",
    lambda a, b: vkgrad.concat([a, b], dim=0),
    lambda a, b: np.concatenate([a, b], 0),
    [(257, 3), (2, 3)],
)
spec(
    "cat_one_used_twice",
    lambda a: vkgrad.cat([a, a * 2.0, a], 1),
    lambda a: np.concatenate([a, a * 2.0, a], 1),
    [(3, 5)],
)
spec(
    "cat_skip_empty",
    lambda a: vkgrad.cat([a, vkgrad.zeros(0, dtype=a.dtype, device=a.device), a], 0),
    lambda a: np.concatenate([a, a], 0),
    [(2, 3)],
)
spec(
    "stack",
    lambda a, b: vkgrad.stack([a, b]),
    lambda a, b: np.stack([a, b]),
    [(3, 4), (3, 4)],
)
spec(
    "stack_last",
    lambda a, b, c: vkgrad.stack((a, b, c), dim=-1),
    lambda a, b, c: np.stack([a, b, c], -1),
    [(7, 2), (7, 2), (7, 2)],
)
spec(
    "hstack",
    lambda a, b: vkgrad.hstack([a, b]),
    lambda a, b: np.hstack([a, b]),
    [(2, 3), (2, 1)],
)
spec("hstack_1d", lambda a, b: vkgrad.hstack([a, b]), lambda a, b: np.hstack([a, b]), [(3,), (4,)])
spec("vstack", lambda a, b: vkgrad.vstack([a, b]), lambda a, b: np.vstack([a, b]), [(4,), (2, 4)])

# ---------------------------------------------------------------- split, chunk, unbind

spec(
    "split_size",
    lambda a: _join(vkgrad.split(a, 3)),
    lambda a: _np_join(_np_split(a, [3, 3, 1], 0)),
    [(7, 2)],
)
spec(
    "split_sections_dim1",
    lambda a: _join(a.split([1, 0, 4], dim=1)),
    lambda a: _np_join(_np_split(a, [1, 0, 4], 1)),
    [(3, 5)],
)
# Only one piece used: the others' gradients are zeros.
spec(
    "split_one_piece",
    lambda a: vkgrad.split(a, [2, 3, 2], -1)[1],
    lambda a: a[..., 2:5],
    [(2, 3, 7)],
)
spec(
    "chunk",
    lambda a: _join(a.chunk(3)),
    lambda a: _np_join(_np_split(a, [11, 11, 11], 0)),
    [(33,)],
)
spec(
    "chunk_uneven",
    lambda a: _join(vkgrad.chunk(a, 4, dim=1)),
    lambda a: _np_join(_np_split(a, [2, 2, 2], 1)),
    [(2, 6)],
)
spec(
    "unbind",
    lambda a: _join(a.unbind(1)),
    lambda a: _np_join([a[:, i] for i in range(a.shape[1])]),
    [(4, 3)],
)

# ---------------------------------------------------------------- narrow, select, reshapes

spec("narrow", lambda a: a.narrow(1, 2, 3), lambda a: a[:, 2:5], [(3, 7)])
spec("narrow_neg_start", lambda a: vkgrad.narrow(a, 0, -3, 2), lambda a: a[-3:-1], [(33,)])
spec("select", lambda a: a.select(1, 2), lambda a: a[:, 2], [(3, 4, 2)])
spec("select_neg", lambda a: vkgrad.select(a, -1, -1), lambda a: a[..., -1], [(7, 3)])
spec("unflatten", lambda a: a.unflatten(1, (2, 3)), lambda a: a.reshape(4, 2, 3), [(4, 6)])
spec(
    "unflatten_infer",
    lambda a: vkgrad.unflatten(a, -1, (-1, 7)),
    lambda a: a.reshape(2, 1, 7),
    [(2, 7)],
)
spec("flatten", lambda a: vkgrad.flatten(a), lambda a: a.reshape(-1), [(2, 3, 4)])
spec("flatten_mid", lambda a: a.flatten(1, 2), lambda a: a.reshape(2, 12, 5), [(2, 3, 4, 5)])

# ---------------------------------------------------------------- repeat, tile, interleave

spec("repeat", lambda a: a.repeat(2, 3), lambda a: np.tile(a, (2, 3)), [(3, 4)])
spec("repeat_new_dims", lambda a: a.repeat(2, 1, 3), lambda a: np.tile(a, (2, 1, 3)), [(7,)])
spec("tile", lambda a: vkgrad.tile(a, (2, 1)), lambda a: np.tile(a, (2, 1)), [(3, 5)])
spec("tile_short", lambda a: a.tile(3), lambda a: np.tile(a, (1, 3)), [(2, 4)])
spec(
    "repeat_interleave_int",
    lambda a: a.repeat_interleave(3, dim=1),
    lambda a: np.repeat(a, 3, axis=1),
    [(2, 4)],
)
spec(
    "repeat_interleave_flat",
    lambda a: vkgrad.repeat_interleave(a, 2),
    lambda a: np.repeat(a.reshape(-1), 2),
    [(3, 2)],
)


def _reps(n):
    return lambda rng: {"r": rng.integers(0, 4, n).astype(np.int32)}


spec(
    "repeat_interleave_tensor",
    lambda a, r: vkgrad.repeat_interleave(a, r, dim=0),
    lambda a, r: np.repeat(a, r, axis=0),
    [(7, 3)],
    aux=_reps(7),
)
spec(
    "repeat_interleave_tensor_dim1",
    lambda a, r: a.repeat_interleave(r, dim=1),
    lambda a, r: np.repeat(a, r, axis=1),
    [(2, 5, 2)],
    aux=_reps(5),
)

spec(
    "repeat_interleave_tensor_33",
    lambda a, r: a.repeat_interleave(r, dim=-1),
    lambda a, r: np.repeat(a, r, axis=-1),
    [(1, 33)],
    aux=_reps(33),
)

# ---------------------------------------------------------------- flip, roll

spec("flip", lambda a: vkgrad.flip(a, (0,)), lambda a: a[::-1], [(257,)])
spec("flip_multi", lambda a: a.flip(0, 2), lambda a: a[::-1, :, ::-1], [(2, 3, 4)])
spec("flip_neg_dim", lambda a: a.flip(-1), lambda a: a[:, ::-1], [(3, 33)])
spec("flip_size1", lambda a: a.flip(0, 1), lambda a: a[::-1, ::-1], [(1, 1)])
spec("flip_dims_size1", lambda a: a.flip(0, 1), lambda a: a[::-1, ::-1], [(1, 7)])
spec("fliplr", vkgrad.fliplr, np.fliplr, [(3, 4)])
spec("flipud", lambda a: a.flipud(), np.flipud, [(5, 2)])
spec("roll", lambda a: vkgrad.roll(a, 2, 0), lambda a: np.roll(a, 2, 0), [(7,)])
spec(
    "roll_multi",
    lambda a: a.roll((1, -2), (0, 2)),
    lambda a: np.roll(a, (1, -2), (0, 2)),
    [(3, 2, 5)],
)
spec("roll_257", lambda a: a.roll(100), lambda a: np.roll(a, 100), [(257,)])
spec("roll_size1", lambda a: a.roll(3, 1), lambda a: np.roll(a, 3, 1), [(7, 1)])
spec("roll_flat", lambda a: a.roll(-5), lambda a: np.roll(a, -5), [(3, 4)])
spec(
    "roll_same_dim_twice",
    lambda a: vkgrad.roll(a, (40, 1), (1, -1)),
    lambda a: np.roll(a, 41, 1),
    [(2, 33)],
)

# ---------------------------------------------------------------- diag, diagonal, tril, triu

spec("diag_vec", vkgrad.diag, np.diag, [(7,)])
spec("diag_vec_offset", lambda a: vkgrad.diag(a, 2), lambda a: np.diag(a, 2), [(3,)])
spec("diag_vec_neg", lambda a: a.diag(-1), lambda a: np.diag(a, -1), [(1,)])
spec("diag_vec_33", vkgrad.diag, np.diag, [(33,)])
spec("diag_mat", vkgrad.diag, np.diag, [(4, 6)])
spec("diag_mat_neg", lambda a: vkgrad.diag(a, -2), lambda a: np.diag(a, -2), [(5, 3)])
spec("diagonal", lambda a: a.diagonal(), lambda a: np.diagonal(a), [(6, 4)])
spec(
    "diagonal_3d",
    lambda a: vkgrad.diagonal(a, offset=-1, dim1=2, dim2=0),
    lambda a: np.diagonal(a, -1, 2, 0),
    [(3, 2, 4)],
)
spec("tril", lambda a: a.tril(), np.tril, [(4, 5)])
spec("tril_neg", lambda a: vkgrad.tril(a, -1), lambda a: np.tril(a, -1), [(5, 4)])
spec("tril_batched", lambda a: a.tril(2), lambda a: np.tril(a, 2), [(2, 3, 7)])
spec("tril_1", lambda a: a.tril(), np.tril, [(1, 1)])
spec("tril_257", lambda a: a.tril(100), lambda a: np.tril(a, 100), [(2, 257)])
spec("triu", lambda a: a.triu(), np.triu, [(4, 5)])
spec("triu_pos", lambda a: vkgrad.triu(a, 1), lambda a: np.triu(a, 1), [(33, 7)])
spec("triu_batched", lambda a: a.triu(-1), lambda a: np.triu(a, -1), [(3, 2, 4)])

# ---------------------------------------------------------------- basic indexing, more forms

for _name, _idx in {
    "none_ellipsis_none": (None, Ellipsis, None),
    "ellipsis_only": (Ellipsis,),
    "slice_past_end": (slice(2, 100), slice(-100, 2)),
    "empty_slice": (slice(3, 1),),
    "neg_int_step": (-1, slice(None, None, 2), slice(1, None)),
    "ellipsis_mid": (0, Ellipsis, -1),
    "none_int_none": (None, 2, None, slice(None, None, 3)),
    "true_is_new_axis": (True, 1),
    "numpy_ints": (np.int64(-2), slice(np.int32(1), None)),
}.items():
    spec(
        f"getitem_{_name}",
        lambda a, _i=_idx: a[_i],
        lambda a, _i=_idx: a[_i],
        [(4, 3, 7)],
    )
