"""Op specs of the conv family (``vkgrad/library/conv.py``); see op_specs.py.

The references are plain float64 loops over kernel taps or output positions (small shapes:
finite differences cost one forward per input element).
"""

from __future__ import annotations

import numpy as np
from op_specs import U, distinct, spec

import vkgrad.nn.functional as NF

# Names beyond the family's public functions (test_ops requires a spec for each of those).
WANTED: list[str] = []


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


# ---------------------------------------------------------------- references


def ref_conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """Cross-correlation, one kernel tap at a time; padding: int, pair, "same" or "valid"."""
    (sh, sw), (dh, dw) = _pair(stride), _pair(dilation)
    cout, cg, kh, kw = w.shape
    if padding == "same":
        th, tw = dh * (kh - 1), dw * (kw - 1)
        pads = ((th // 2, th - th // 2), (tw // 2, tw - tw // 2))
    elif padding == "valid":
        pads = ((0, 0), (0, 0))
    else:
        ph, pw = _pair(padding)
        pads = ((ph, ph), (pw, pw))
    xp = np.pad(x, ((0, 0), (0, 0)) + pads)
    ho = (xp.shape[2] - dh * (kh - 1) - 1) // sh + 1
    wo = (xp.shape[3] - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((x.shape[0], cout, ho, wo))
    per = cout // groups
    for o in range(cout):
        chans = slice((o // per) * cg, (o // per + 1) * cg)
        for i in range(kh):
            for j in range(kw):
                patch = xp[:, chans, i * dh :: sh, j * dw :: sw][:, :, :ho, :wo]
                out[:, o] += np.einsum("nchw,c->nhw", patch, w[o, :, i, j])
    if b is not None:
        out += b[None, :, None, None]
    return out


def ref_conv1d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    if padding not in ("same", "valid"):
        padding = (0, padding)
    y = ref_conv2d(x[:, :, None], w[:, :, None], b, (1, stride), padding, (1, dilation), groups)
    return y[:, :, 0]


def ref_conv_transpose2d(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Every input pixel scatters weight * value into the output (then the padding is cut)."""
    (sh, sw), (ph, pw), (oph, opw), (dh, dw) = map(
        _pair, (stride, padding, output_padding, dilation)
    )
    n, cin, h, wd = x.shape
    _, cog, kh, kw = w.shape
    full_h = (h - 1) * sh + dh * (kh - 1) + 1 + oph
    full_w = (wd - 1) * sw + dw * (kw - 1) + 1 + opw
    out = np.zeros((n, cog * groups, full_h, full_w))
    per = cin // groups
    for ci in range(cin):
        g = ci // per
        for i in range(kh):
            for j in range(kw):
                contrib = np.einsum("nhw,o->nohw", x[:, ci], w[ci, :, i, j])
                rows = slice(i * dh, i * dh + (h - 1) * sh + 1, sh)
                cols = slice(j * dw, j * dw + (wd - 1) * sw + 1, sw)
                out[:, g * cog : (g + 1) * cog, rows, cols] += contrib
    out = out[:, :, ph : full_h - ph, pw : full_w - pw]
    if b is not None:
        out += b[None, :, None, None]
    return out


def _pool_len(size, k, s, p, d, ceil_mode):
    eff = d * (k - 1) + 1
    if ceil_mode:
        out = -(-(size + 2 * p - eff) // s) + 1
        if (out - 1) * s >= size + p:
            out -= 1
        return out
    return (size + 2 * p - eff) // s + 1


def ref_max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    k = _pair(kernel_size)
    s = _pair(stride if stride is not None else kernel_size)
    p, d = _pair(padding), _pair(dilation)
    n, c, h, w = x.shape
    ho, wo = (_pool_len(*a, ceil_mode) for a in zip((h, w), k, s, p, d))
    xp = np.full((n, c, h + 2 * p[0] + k[0] * d[0], w + 2 * p[1] + k[1] * d[1]), -np.inf)
    xp[:, :, p[0] : p[0] + h, p[1] : p[1] + w] = x
    out = np.empty((n, c, ho, wo))
    for oh in range(ho):
        for ow in range(wo):
            win = xp[:, :, oh * s[0] :: d[0], ow * s[1] :: d[1]][:, :, : k[0], : k[1]]
            out[:, :, oh, ow] = win.max(axis=(2, 3))
    return out


def ref_avg_pool2d(
    x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor=None
):
    k = _pair(kernel_size)
    s = _pair(stride if stride is not None else kernel_size)
    p = _pair(padding)
    n, c, h, w = x.shape
    ho, wo = (_pool_len(*a, 1, ceil_mode) for a in zip((h, w), k, s, p))
    out = np.empty((n, c, ho, wo))
    for oh in range(ho):
        for ow in range(wo):
            y0, x0 = oh * s[0] - p[0], ow * s[1] - p[1]
            y1, x1 = min(y0 + k[0], h + p[0]), min(x0 + k[1], w + p[1])
            size = (y1 - y0) * (x1 - x0)
            y0, x0, y1, x1 = max(y0, 0), max(x0, 0), min(y1, h), min(x1, w)
            total = x[:, :, y0:y1, x0:x1].sum(axis=(2, 3))
            div = divisor or (size if count_include_pad else (y1 - y0) * (x1 - x0))
            out[:, :, oh, ow] = total / div
    return out


def ref_adaptive_avg_pool2d(x, out_size):
    ho, wo = out_size
    h, w = x.shape[-2:]
    out = np.empty(x.shape[:-2] + (ho, wo))
    for i in range(ho):
        for j in range(wo):
            y0, y1 = (i * h) // ho, -(-((i + 1) * h) // ho)
            x0, x1 = (j * w) // wo, -(-((j + 1) * w) // wo)
            out[..., i, j] = x[..., y0:y1, x0:x1].mean(axis=(-2, -1))
    return out


def _as_1d(ref2d):
    """A 2-d pooling reference applied to (N, C, L) as images of height 1."""

    def ref(x, **kw):
        kw = {
            k: ((1, v) if k in ("kernel_size", "stride", "dilation") and v is not None else v)
            for k, v in kw.items()
        }
        if "padding" in kw:
            kw["padding"] = (0, kw["padding"])
        return ref2d(x[..., None, :], **kw)[..., 0, :]

    return ref


def _unbatched(ref):
    return lambda x, *a, **kw: ref(x[None], *a, **kw)[0]


def _taps(size, k, s, p, d):
    """(window positions, padded size) along one axis."""
    n = (size + 2 * p - d * (k - 1) - 1) // s + 1
    return n, size + 2 * p


def ref_unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = map(_pair, (kernel_size, dilation, padding, stride))
    n, c, h, w = x.shape
    ho, _ = _taps(h, kh, sh, ph, dh)
    wo, _ = _taps(w, kw, sw, pw, dw)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    out = np.zeros((n, c, kh, kw, ho, wo))
    for i in range(kh):
        for j in range(kw):
            out[:, :, i, j] = xp[:, :, i * dh :: sh, j * dw :: sw][:, :, :ho, :wo]
    return out.reshape(n, c * kh * kw, ho * wo)


def ref_fold(cols, output_size, kernel_size, dilation=1, padding=0, stride=1):
    (h, w), (kh, kw), (dh, dw), (ph, pw), (sh, sw) = map(
        _pair, (output_size, kernel_size, dilation, padding, stride)
    )
    n = cols.shape[0]
    c = cols.shape[1] // (kh * kw)
    ho, hp = _taps(h, kh, sh, ph, dh)
    wo, wp = _taps(w, kw, sw, pw, dw)
    cols = cols.reshape(n, c, kh, kw, ho, wo)
    out = np.zeros((n, c, hp + kh * dh, wp + kw * dw))
    for i in range(kh):
        for j in range(kw):
            for oh in range(ho):
                out[:, :, oh * sh + i * dh, j * dw : j * dw + wo * sw : sw][:, :, :wo] += cols[
                    :, :, i, j, oh
                ]
    return out[:, :, ph : ph + h, pw : pw + w]


# ---------------------------------------------------------------- unfold / fold

_UNFOLD = {
    "basic": ((2, 3, 7, 7), dict(kernel_size=3)),
    "stride_pad_dil": (
        (1, 2, 7, 6),
        dict(kernel_size=(2, 3), dilation=(2, 1), padding=1, stride=(2, 1)),
    ),
}
for _name, (_xs, _kw) in _UNFOLD.items():
    spec(
        f"unfold_{_name}",
        lambda x, _k=_kw: NF.unfold(x, **_k),
        lambda x, _k=_kw: ref_unfold(x, **_k),
        [_xs],
    )
spec(
    "unfold_unbatched",
    lambda x: NF.unfold(x, 2),
    _unbatched(lambda x: ref_unfold(x, 2)),
    [(2, 5, 5)],
)
_FOLD = {
    # name: (cols shape, output_size, kwargs)
    "basic": ((2, 12, 16), (5, 5), dict(kernel_size=2)),
    "stride_pad": ((1, 18, 12), (7, 6), dict(kernel_size=3, stride=2, padding=1)),
    "dilation": ((1, 4, 25), (7, 5), dict(kernel_size=(2, 1), dilation=(2, 1), stride=1)),
}
for _name, (_xs, _size, _kw) in _FOLD.items():
    spec(
        f"fold_{_name}",
        lambda x, _s=_size, _k=_kw: NF.fold(x, _s, **_k),
        lambda x, _s=_size, _k=_kw: ref_fold(x, _s, **_k),
        [_xs],
    )
spec(
    "fold_unbatched",
    lambda x: NF.fold(x, (3, 4), 2),
    _unbatched(lambda x: ref_fold(x, (3, 4), 2)),
    [(8, 6)],
)

# ---------------------------------------------------------------- conv2d

_CONV2D = {
    # name: (x shape, w shape, bias, kwargs)
    "basic": ((2, 3, 7, 7), (4, 3, 3, 3), True, {}),
    "stride_pad": ((1, 2, 7, 6), (3, 2, 3, 3), True, dict(stride=2, padding=1)),
    "dilation_groups": (
        (2, 4, 7, 7),
        (6, 2, 3, 3),
        True,
        dict(padding=(1, 2), dilation=2, groups=2),
    ),
    "same_even": ((1, 2, 6, 7), (3, 2, 2, 4), False, dict(padding="same")),
    "valid_rect": ((2, 2, 5, 7), (2, 2, 1, 3), True, dict(stride=(1, 2), padding="valid")),
    "depthwise": ((2, 3, 6, 6), (3, 1, 3, 3), False, dict(stride=2, padding=1, groups=3)),
    "one_by_one": ((1, 5, 3, 3), (7, 5, 1, 1), True, {}),
}
for _name, (_xs, _ws, _bias, _kw) in _CONV2D.items():
    _shapes = [_xs, _ws] + ([(_ws[0],)] if _bias else [])
    spec(
        f"conv2d_{_name}",
        lambda x, w, b=None, _k=_kw: NF.conv2d(x, w, b, **_k),
        lambda x, w, b=None, _k=_kw: ref_conv2d(x, w, b, **_k),
        _shapes,
    )
spec(
    "conv2d_unbatched",
    lambda x, w: NF.conv2d(x, w, padding=1),
    _unbatched(lambda x, w: ref_conv2d(x, w, padding=1)),
    [(3, 7, 7), (2, 3, 3, 3)],
)

# ---------------------------------------------------------------- conv1d

_CONV1D = {
    "basic": ((2, 3, 33), (4, 3, 3), True, {}),
    "stride_pad_dil_groups": (
        (2, 4, 33),
        (2, 2, 5),
        True,
        dict(stride=2, padding=3, dilation=2, groups=2),
    ),
    "same_even": ((1, 2, 7), (3, 2, 4), False, dict(padding="same")),
}
for _name, (_xs, _ws, _bias, _kw) in _CONV1D.items():
    _shapes = [_xs, _ws] + ([(_ws[0],)] if _bias else [])
    spec(
        f"conv1d_{_name}",
        lambda x, w, b=None, _k=_kw: NF.conv1d(x, w, b, **_k),
        lambda x, w, b=None, _k=_kw: ref_conv1d(x, w, b, **_k),
        _shapes,
    )
spec(
    "conv1d_unbatched",
    lambda x, w: NF.conv1d(x, w, stride=2),
    _unbatched(lambda x, w: ref_conv1d(x, w, stride=2)),
    [(3, 7), (2, 3, 3)],
)

# ---------------------------------------------------------------- conv_transpose2d

_CONVT = {
    "basic": ((2, 3, 4, 5), (3, 2, 3, 3), True, {}),
    "stride_outpad": (
        (1, 2, 3, 4),
        (2, 3, 3, 2),
        True,
        dict(stride=2, padding=1, output_padding=1),
    ),
    "groups_dilation": (
        (2, 4, 3, 3),
        (4, 1, 2, 3),
        False,
        dict(stride=(2, 1), groups=2, dilation=(1, 2)),
    ),
}
for _name, (_xs, _ws, _bias, _kw) in _CONVT.items():
    _shapes = [_xs, _ws] + ([(_ws[1] * _kw.get("groups", 1),)] if _bias else [])
    spec(
        f"conv_transpose2d_{_name}",
        lambda x, w, b=None, _k=_kw: NF.conv_transpose2d(x, w, b, **_k),
        lambda x, w, b=None, _k=_kw: ref_conv_transpose2d(x, w, b, **_k),
        _shapes,
    )

# ---------------------------------------------------------------- conv_transpose1d


def ref_conv_transpose1d(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Every input position scatters weight * value into the output; unbatched (C, L) too."""
    if x.ndim == 2:
        return ref_conv_transpose1d(
            x[None], w, b, stride, padding, output_padding, groups, dilation
        )[0]
    n, cin, length = x.shape
    _, cog, k = w.shape
    full = (length - 1) * stride + dilation * (k - 1) + 1 + output_padding
    out = np.zeros((n, cog * groups, full))
    per = cin // groups
    for ci in range(cin):
        g = ci // per
        for t in range(length):
            for j in range(k):
                out[:, g * cog : (g + 1) * cog, t * stride + j * dilation] += (
                    x[:, ci, t, None] * w[ci, :, j]
                )
    out = out[:, :, padding : full - padding]
    return out if b is None else out + b[None, :, None]


_CONVT1 = {
    "basic": ((2, 3, 5), (3, 2, 3), True, {}),
    "stride_outpad": ((1, 2, 7), (2, 3, 4), True, dict(stride=3, padding=2, output_padding=1)),
    "groups_dilation": ((2, 4, 6), (4, 1, 2), False, dict(groups=2, dilation=3)),
    "unbatched": ((4, 5), (4, 2, 3), False, dict(stride=2)),
}
for _name, (_xs, _ws, _bias, _kw) in _CONVT1.items():
    _shapes = [_xs, _ws] + ([(_ws[1] * _kw.get("groups", 1),)] if _bias else [])
    spec(
        f"conv_transpose1d_{_name}",
        lambda x, w, b=None, _k=_kw: NF.conv_transpose1d(x, w, b, **_k),
        lambda x, w, b=None, _k=_kw: ref_conv_transpose1d(x, w, b, **_k),
        _shapes,
    )

# ---------------------------------------------------------------- max pooling
# Distinct values on a 1/8 grid (exact in f16): no ties, so the argmax is the same in every
# dtype and finite differences never cross a switch of the maximum.

_MAX2D = {
    "k2": ((2, 3, 7, 7), dict(kernel_size=2)),
    "k3s2p1": ((1, 2, 7, 6), dict(kernel_size=3, stride=2, padding=1)),
    "ceil_dilation": (
        (1, 2, 9, 8),
        dict(kernel_size=(3, 2), stride=(2, 3), dilation=(2, 1), ceil_mode=True),
    ),
    "overlap": ((2, 2, 5, 5), dict(kernel_size=3, stride=1, padding=1)),
}
for _name, (_xs, _kw) in _MAX2D.items():
    spec(
        f"max_pool2d_{_name}",
        lambda x, _k=_kw: NF.max_pool2d(x, **_k),
        lambda x, _k=_kw: ref_max_pool2d(x, **_k),
        [_xs],
        gens=(distinct(),),
    )
spec(
    "max_pool2d_unbatched",
    lambda x: NF.max_pool2d(x, 2),
    _unbatched(lambda x: ref_max_pool2d(x, 2)),
    [(3, 6, 6)],
    gens=(distinct(),),
)
spec(
    "max_pool1d_k3s2p1",
    lambda x: NF.max_pool1d(x, 3, stride=2, padding=1),
    lambda x: _as_1d(ref_max_pool2d)(x, kernel_size=3, stride=2, padding=1),
    [(2, 3, 33)],
    gens=(distinct(),),
)
spec(
    "max_pool1d_unbatched_ceil",
    lambda x: NF.max_pool1d(x, 2, ceil_mode=True),
    _unbatched(lambda x: _as_1d(ref_max_pool2d)(x, kernel_size=2, ceil_mode=True)),
    [(2, 7)],
    gens=(distinct(),),
)

# ---------------------------------------------------------------- average pooling

_AVG2D = {
    "k2": ((2, 3, 7, 7), dict(kernel_size=2)),
    "pad_exclude": (
        (1, 2, 7, 6),
        dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    ),
    "ceil_include": ((1, 2, 7, 7), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    "ceil_exclude": (
        (1, 2, 6, 7),
        dict(kernel_size=(2, 3), stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    ),
}
for _name, (_xs, _kw) in _AVG2D.items():
    spec(
        f"avg_pool2d_{_name}",
        lambda x, _k=_kw: NF.avg_pool2d(x, **_k),
        lambda x, _k=_kw: ref_avg_pool2d(x, **_k),
        [_xs],
    )
spec(
    "avg_pool2d_divisor_unbatched",
    lambda x: NF.avg_pool2d(x, 2, stride=1, divisor_override=3),
    _unbatched(lambda x: ref_avg_pool2d(x, 2, stride=1, divisor=3)),
    [(2, 5, 5)],
)
spec(
    "avg_pool1d_ceil_exclude",
    lambda x: NF.avg_pool1d(x, 4, stride=3, padding=2, ceil_mode=True, count_include_pad=False),
    lambda x: _as_1d(ref_avg_pool2d)(
        x, kernel_size=4, stride=3, padding=2, ceil_mode=True, count_include_pad=False
    ),
    [(2, 3, 33)],
)
spec(
    "avg_pool1d_unbatched",
    lambda x: NF.avg_pool1d(x, 3),
    _unbatched(lambda x: _as_1d(ref_avg_pool2d)(x, kernel_size=3)),
    [(1, 7)],
)

# ---------------------------------------------------------------- adaptive average pooling

spec(
    "adaptive_avg_pool2d_odd",
    lambda x: NF.adaptive_avg_pool2d(x, (3, 2)),
    lambda x: ref_adaptive_avg_pool2d(x, (3, 2)),
    [(2, 3, 7, 7)],
)
spec(
    "adaptive_avg_pool2d_global",
    lambda x: NF.adaptive_avg_pool2d(x, 1),
    lambda x: ref_adaptive_avg_pool2d(x, (1, 1)),
    [(2, 3, 7, 9)],
)
spec(
    "adaptive_avg_pool2d_up_none",
    lambda x: NF.adaptive_avg_pool2d(x, (5, None)),
    lambda x: ref_adaptive_avg_pool2d(x, (5, 4)),
    [(1, 2, 3, 4)],
)
spec(
    "adaptive_avg_pool2d_unbatched",
    lambda x: NF.adaptive_avg_pool2d(x, 4),
    _unbatched(lambda x: ref_adaptive_avg_pool2d(x, (4, 4))),
    [(2, 33, 7)],
)
spec(
    "adaptive_avg_pool1d",
    lambda x: NF.adaptive_avg_pool1d(x, 5),
    lambda x: ref_adaptive_avg_pool2d(x[:, :, None], (1, 5))[:, :, 0],
    [(2, 3, 33)],
)
spec(
    "adaptive_avg_pool1d_unbatched",
    lambda x: NF.adaptive_avg_pool1d(x, 3),
    lambda x: ref_adaptive_avg_pool2d(x[:, None], (1, 3))[:, 0],
    [(2, 7)],
    gens=(U(-1, 1),),
)

# ---------------------------------------------------------------- second derivatives
# A square after the op makes the first gradient depend on the inputs through the backward
# rows' gradient inputs, so that double backward runs each backward row's own rule.

spec(
    "conv2d_squared",
    lambda x, w: NF.conv2d(x, w, stride=2, padding=1, groups=2) ** 2,
    lambda x, w: ref_conv2d(x, w, stride=2, padding=1, groups=2) ** 2,
    [(1, 4, 5, 5), (2, 2, 3, 3)],
)
spec(
    "conv_transpose2d_squared_unbatched",
    lambda x, w: NF.conv_transpose2d(x, w, stride=2, padding=1) ** 2,
    _unbatched(lambda x, w: ref_conv_transpose2d(x, w, stride=2, padding=1) ** 2),
    [(2, 3, 3), (2, 3, 2, 2)],
)
spec(
    "max_pool2d_squared",
    lambda x: NF.max_pool2d(x, 3, stride=2, padding=1) ** 2,
    lambda x: ref_max_pool2d(x, 3, stride=2, padding=1) ** 2,
    [(1, 2, 5, 6)],
    gens=(distinct(),),
)
spec(
    "avg_pool2d_squared",
    lambda x: NF.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False) ** 2,
    lambda x: ref_avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False) ** 2,
    [(1, 2, 5, 6)],
)
spec(
    "adaptive_avg_pool2d_squared",
    lambda x: NF.adaptive_avg_pool2d(x, (2, 3)) ** 2,
    lambda x: ref_adaptive_avg_pool2d(x, (2, 3)) ** 2,
    [(1, 2, 5, 7)],
)
spec(
    "unfold_squared",
    lambda x: NF.unfold(x, 2, stride=1, padding=1) ** 2,
    lambda x: ref_unfold(x, 2, stride=1, padding=1) ** 2,
    [(1, 2, 3, 4)],
)
spec(
    "fold_squared",
    lambda x: NF.fold(x, (4, 3), 2, padding=1) ** 2,
    lambda x: ref_fold(x, (4, 3), 2, padding=1) ** 2,
    [(1, 8, 20)],
)
