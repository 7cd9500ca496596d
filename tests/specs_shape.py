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

# ---------------------------------------------------------------- pad (nn.functional)

NF = vkgrad.nn.functional
_NP_PAD_MODE = {
    "constant": "constant",
    "reflect": "reflect",
    "replicate": "edge",
    "circular": "wrap",
}


def _np_pad(a, pads, mode="constant", value=0.0):
    """PyTorch's F.pad with NumPy: per padded dim (last first) crop negative amounts, then
    np.pad the positive ones."""
    for i in range(len(pads) // 2):
        d = a.ndim - 1 - i
        before, after = pads[2 * i], pads[2 * i + 1]
        n = a.shape[d]
        a = np.take(a, np.arange(max(-before, 0), n - max(-after, 0)), axis=d)
        width = [(0, 0)] * a.ndim
        width[d] = (max(before, 0), max(after, 0))
        kw = {"constant_values": value} if mode == "constant" else {}
        a = np.pad(a, width, mode=_NP_PAD_MODE[mode], **kw)
    return a


for _name, _shape, _pads, _mode, _value in [
    ("constant", (2, 3, 7), (1, 2), "constant", 0.0),
    ("constant_value_3d", (2, 3, 4, 5), (1, 0, 2, 1, 0, 1), "constant", 1.5),
    ("constant_crop", (3, 5, 6), (-1, 2, 1, -2), "constant", -0.5),
    ("constant_1", (1,), (0, 1), "constant", 2.0),
    ("reflect_1d", (2, 3, 7), (3, 2), "reflect", None),
    ("reflect_2d", (2, 2, 5, 6), (1, 2, 4, 0), "reflect", None),
    ("reflect_3d_unbatched", (2, 3, 4, 5), (1, 1, 2, 0, 1, 2), "reflect", None),
    ("reflect_crop", (1, 2, 6), (-1, 3), "reflect", None),
    ("replicate_1d", (3, 257), (2, 5), "replicate", None),
    ("replicate_2d", (2, 3, 4, 5), (2, 1, 0, 3), "replicate", None),
    ("circular_1d", (2, 2, 5), (5, 2), "circular", None),
    ("circular_2d", (1, 2, 4, 6), (2, 3, 4, 1), "circular", None),
    ("circular_crop", (2, 3, 6), (2, -1), "circular", None),
]:
    spec(
        f"pad_{_name}",
        lambda a, _p=_pads, _m=_mode, _v=_value: NF.pad(a, _p, mode=_m, value=_v),
        lambda a, _p=_pads, _m=_mode, _v=_value: _np_pad(a, _p, _m, _v or 0.0),
        [_shape],
    )

# ---------------------------------------------------------------- pixel shuffle


def _np_pixel_shuffle(a, r):
    """out[..., c, h r + i, w r + j] = a[..., c r^2 + i r + j, h, w], one (i, j) at a time."""
    *lead, cr, h, w = a.shape
    c = cr // (r * r)
    out = np.zeros((*lead, c, h * r, w * r))
    for i in range(r):
        for j in range(r):
            out[..., i::r, j::r] = a[..., i * r + j :: r * r, :, :]
    return out


def _np_pixel_unshuffle(a, r):
    *lead, c, hr, wr = a.shape
    out = np.zeros((*lead, c * r * r, hr // r, wr // r))
    for i in range(r):
        for j in range(r):
            out[..., i * r + j :: r * r, :, :] = a[..., i::r, j::r]
    return out


spec(
    "pixel_shuffle",
    lambda a: NF.pixel_shuffle(a, 2),
    lambda a: _np_pixel_shuffle(a, 2),
    [(2, 12, 3, 4)],
)
spec(
    "pixel_shuffle_lead_dims",
    lambda a: NF.pixel_shuffle(a, 3),
    lambda a: _np_pixel_shuffle(a, 3),
    [(2, 1, 9, 2, 3)],
)
spec(
    "pixel_unshuffle",
    lambda a: NF.pixel_unshuffle(a, 2),
    lambda a: _np_pixel_unshuffle(a, 2),
    [(2, 3, 4, 6)],
)
spec(
    "pixel_unshuffle_unbatched",
    lambda a: NF.pixel_unshuffle(a, 3),
    lambda a: _np_pixel_unshuffle(a, 3),
    [(2, 6, 3)],
)

# ---------------------------------------------------------------- interpolate


def _src_nearest(n_in, n_out, scale_factor, exact):
    """PyTorch's nearest source index, one output index at a time: float32 scale, as its
    kernels (1 / scale_factor when given, else in / out)."""
    if scale_factor:
        scale = np.float32(1.0 / scale_factor)
    else:
        scale = np.float32(n_in) / np.float32(n_out)
    out = []
    for i in range(n_out):
        if not exact and n_out == n_in:
            out.append(i)
        elif not exact and n_out == 2 * n_in:
            out.append(i // 2)
        else:
            pos = np.float32((i + 0.5) * scale) if exact else np.float32(i) * scale
            out.append(min(int(np.floor(pos)), n_in - 1))
    return out


def _src_linear(n_in, n_out, scale_factor, align_corners):
    """(i0, i1, l0, l1) per output index: PyTorch's area_pixel_compute_source_index."""
    out = []
    for i in range(n_out):
        if align_corners:
            src = i * (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
        else:
            scale = 1.0 / scale_factor if scale_factor else n_in / n_out
            src = max(scale * (i + 0.5) - 0.5, 0.0)
        i0 = min(int(np.floor(src)), n_in - 1)
        i1 = i0 + 1 if i0 < n_in - 1 else i0
        l1 = min(max(src - i0, 0.0), 1.0)
        out.append((i0, i1, 1.0 - l1, l1))
    return out


def _np_interp(a, out_size, mode, scales=None, align_corners=False):
    """(N, C, *spatial) -> (N, C, *out_size): each output element from its neighbours."""
    k = a.ndim - 2
    scales = scales or (None,) * k
    if mode.startswith("nearest"):
        src = [_src_nearest(a.shape[2 + d], out_size[d], scales[d], mode == "nearest-exact")
               for d in range(k)]  # fmt: skip
        return a[(slice(None), slice(None)) + np.ix_(*src)]
    src = [_src_linear(a.shape[2 + d], out_size[d], scales[d], align_corners) for d in range(k)]
    out = np.zeros(a.shape[:2] + tuple(out_size))
    for pos in np.ndindex(*out_size):
        acc = 0.0
        # Sum over the 2^k corners of the cell, each weighted by the product of its lambdas.
        for corner in np.ndindex(*(2,) * k):
            idx, w = [], 1.0
            for d, c in enumerate(corner):
                i0, i1, l0, l1 = src[d][pos[d]]
                idx.append(i1 if c else i0)
                w *= l1 if c else l0
            acc = acc + w * a[(slice(None), slice(None)) + tuple(idx)]
        out[(slice(None), slice(None)) + pos] = acc
    return out


for _name, _shape, _kw, _out, _scales in [
    ("nearest_1d_size", (2, 3, 7), dict(size=11), (11,), None),
    ("nearest_1d_scale", (2, 2, 7), dict(scale_factor=1.7), (11,), (1.7,)),
    ("nearest_1d_down", (1, 2, 33), dict(scale_factor=0.6), (19,), (0.6,)),
    ("nearest_2d_x2", (2, 2, 3, 4), dict(scale_factor=2), (6, 8), (2.0, 2.0)),
    ("nearest_2d_size", (1, 3, 5, 6), dict(size=(3, 13)), (3, 13), None),
    ("nearest_exact_2d", (1, 2, 5, 6), dict(size=(7, 4), mode="nearest-exact"), (7, 4), None),
    ("nearest_3d", (1, 2, 3, 4, 2), dict(scale_factor=(1.5, 0.5, 2)), (4, 2, 4), (1.5, 0.5, 2)),
    ("bilinear", (2, 2, 4, 5), dict(size=(7, 3), mode="bilinear"), (7, 3), None),
    (
        "bilinear_align_corners",
        (1, 3, 4, 5),
        dict(size=(7, 9), mode="bilinear", align_corners=True),
        (7, 9),
        None,
    ),
    ("bilinear_scale", (1, 2, 3, 4), dict(scale_factor=2.5, mode="bilinear"), (7, 10), (2.5, 2.5)),
    (
        "bilinear_recompute",
        (1, 2, 3, 4),
        dict(scale_factor=2.5, mode="bilinear", recompute_scale_factor=True),
        (7, 10),
        None,
    ),
    (
        "bilinear_one_row",
        (1, 1, 3, 4),
        dict(size=(1, 6), mode="bilinear", align_corners=True),
        (1, 6),
        None,
    ),
    ("linear", (2, 3, 5), dict(size=12, mode="linear"), (12,), None),
    ("trilinear", (1, 1, 2, 3, 4), dict(size=(3, 5, 2), mode="trilinear"), (3, 5, 2), None),
]:
    _mode = _kw.get("mode", "nearest")
    _ac = bool(_kw.get("align_corners"))
    spec(
        f"interpolate_{_name}",
        lambda a, _kw=_kw: NF.interpolate(a, **_kw),
        lambda a, _o=_out, _m=_mode, _s=_scales, _ac=_ac: _np_interp(a, _o, _m, _s, _ac),
        [_shape],
    )
spec(
    "interpolate_area",
    lambda a: NF.interpolate(a, size=(2, 3), mode="area"),
    lambda a: a.reshape(2, 3, 2, 2, 3, 2).mean((3, 5)),
    [(2, 3, 4, 6)],
)
