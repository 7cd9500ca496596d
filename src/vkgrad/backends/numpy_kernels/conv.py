"""NumPy kernels of the conv family (``vkgrad/library/conv.py``).

Windows are strided views (``as_strided``) of the padded image, shaped (N, C, kh, kw, Ho, Wo):
im2col and the pools read them without loops. The adjoints (col2im, the avg-pool backward)
add each kernel position's slab into the image: a loop over the kh*kw kernel positions, each
step one vectorised add over all pixels. Measured on (8, 16, 32, 32) with a 3x3 kernel, this
is 2x faster than one ``np.bincount`` over precomputed indices and 10x faster than
``np.add.at`` on an overlapping view.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..numpy_backend import kernel


def _canvas(image, grid, kernel, stride, padding, dilation) -> tuple:
    """(height, width) of the padded image that holds every window."""
    (_, h, w), (ho, wo) = image, grid
    need_h = (ho - 1) * stride[0] + (kernel[0] - 1) * dilation[0] + 1
    need_w = (wo - 1) * stride[1] + (kernel[1] - 1) * dilation[1] + 1
    return max(need_h, padding[0] + h), max(need_w, padding[1] + w)


def _windows(x, image, grid, kernel, stride, padding, dilation, fill=0.0, **_):
    """The windows of x (N, C, H, W) padded with ``fill``: a (N, C, kh, kw, Ho, Wo) view."""
    n, c, h, w = x.shape
    hp, wp = _canvas(image, grid, kernel, stride, padding, dilation)
    pt, pl = padding
    if (hp, wp) != (h, w):
        padded = np.full((n, c, hp, wp), fill, x.dtype)  # several times cheaper than np.pad
        padded[:, :, pt : pt + h, pl : pl + w] = x
        x = padded
    s0, s1, s2, s3 = x.strides
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, stride, dilation, grid
    return as_strided(
        x,
        (n, c, kh, kw, ho, wo),
        (s0, s1, dh * s2, dw * s3, sh * s2, sw * s3),
        writeable=False,
    )


def _fold(cols, image, grid, kernel, stride, padding, dilation, **_):
    """The adjoint of _windows (fill 0): cols (N, C, kh, kw, Ho, Wo) summed into (N, C, H, W)."""
    n = cols.shape[0]
    c, h, w = image
    hp, wp = _canvas(image, grid, kernel, stride, padding, dilation)
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, stride, dilation, grid
    out = np.zeros((n, c, hp, wp), cols.dtype)
    for i in range(kh):
        rows = slice(i * dh, i * dh + (ho - 1) * sh + 1, sh)
        for j in range(kw):
            out[:, :, rows, j * dw : j * dw + (wo - 1) * sw + 1 : sw] += cols[:, :, i, j]
    pt, pl = padding
    return out[:, :, pt : pt + h, pl : pl + w]


@kernel
def im2col(x, image, grid, kernel, stride, padding, dilation, **_):
    win = _windows(x, image, grid, kernel, stride, padding, dilation)
    n, c, kh, kw, ho, wo = win.shape
    return win.reshape(n, c * kh * kw, ho * wo)


@kernel
def col2im(cols, image, grid, kernel, stride, padding, dilation, **_):
    n = cols.shape[0]
    cols = cols.reshape((n, image[0]) + tuple(kernel) + tuple(grid))
    return _fold(cols, image, grid, kernel, stride, padding, dilation)


# ---------------------------------------------------------------- convolution
#
# Two layouts of the im2col columns, each the faster one on its side of CHANNELS_LAST_FROM
# (input channels per group). Channels-first, (N, G, C/G kh kw, Ho Wo): one GEMM per image,
# the output lands in (N, C_out, Ho, Wo) as computed; the copy into columns moves runs of one
# image row. Channels-last, one row per output pixel, (N Ho Wo, G, kh kw C/G): the copy moves
# runs of a whole window row (kw C/G values) and one GEMM per group covers the batch, taking
# its big operand as stored; only the output (C_out/K times smaller than the columns) is
# transposed back. Measured with 1-thread OpenBLAS (SkylakeX kernels), ms for forward /
# weight gradient: (64, 32, 26, 26) x (64, 32, 3, 3) 27.4 / 21.0 channels-first, 21.9 / 21.8
# channels-last; (32, 64, 16, 16) x (64, 64, 3, 3) 6.9 / 7.1 against 5.5 / 6.2; but
# (64, 1, 28, 28) x (32, 1, 3, 3) 0.57 / 0.57 against 2.8 / 2.3, where runs of kw values and
# a (N Ho Wo, 9) @ (9, 32) product are all overhead.
CHANNELS_LAST_FROM = 16


def _channels_last(x, image, grid, kernel, stride, padding, dilation, **_):
    """x (N, C, H, W) zero-padded to the canvas of every window, channels last (N, Hp, Wp, C)."""
    n, c, h, w = x.shape
    hp, wp = _canvas(image, grid, kernel, stride, padding, dilation)
    pt, pl = padding
    canvas = np.zeros((n, hp, wp, c), x.dtype)
    canvas[:, pt : pt + h, pl : pl + w] = x.transpose(0, 2, 3, 1)
    return canvas


def _columns(x, groups, image, grid, kernel, stride, padding, dilation, **_):
    """The im2col rows of x, one per output pixel: a contiguous (N Ho Wo, G, kh kw C/G)."""
    canvas = _channels_last(x, image, grid, kernel, stride, padding, dilation)
    n, _, _, c = canvas.shape
    s0, s1, s2, s3 = canvas.strides
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, stride, dilation, grid
    cg = c // groups
    win = as_strided(
        canvas,
        (n, ho, wo, groups, kh, kw, cg),
        (s0, sh * s1, sw * s2, cg * s3, dh * s1, dw * s2, s3),
        writeable=False,
    )
    return np.ascontiguousarray(win).reshape(n * ho * wo, groups, kh * kw * cg)


def _weight_rows(w, groups):
    """w (C_out, C/G, kh, kw) as (G, C_out/G, kh kw C/G): its taps in the columns' order."""
    cout = w.shape[0]
    return w.transpose(0, 2, 3, 1).reshape(groups, cout // groups, -1)


def _grad_rows(g, groups):
    """g (N, C_out, Ho, Wo) channels last: a contiguous (N Ho Wo, G, C_out/G)."""
    n, cout = g.shape[:2]
    return np.ascontiguousarray(g.transpose(0, 2, 3, 1)).reshape(-1, groups, cout // groups)


def _grouped_cols(x, groups, image, grid, kernel, stride, padding, dilation, **_):
    """The channels-first im2col columns of x per group: (N, G, C/G kh kw, Ho Wo)."""
    win = _windows(x, image, grid, kernel, stride, padding, dilation)
    return win.reshape(x.shape[0], groups, -1, grid[0] * grid[1])


def _correlate(x, rows, groups, image, grid, **geo):
    """conv2d of x (N, C, H, W) with weight rows (G, C_out/G, kh kw C/G), channels-last."""
    n = x.shape[0]
    ho, wo = grid
    cols = _columns(x, groups, image=image, grid=grid, **geo)
    # (G, N Ho Wo, C_out/G); a (M, K) slice of cols is a strided matrix BLAS reads in place.
    y = np.matmul(cols.transpose(1, 0, 2), rows.transpose(0, 2, 1))
    cout = groups * rows.shape[1]
    out = np.empty((n, cout, ho, wo), y.dtype)
    by_group = out.reshape(n, groups, cout // groups, ho * wo)
    by_group[...] = y.reshape(groups, n, ho * wo, -1).transpose(1, 0, 3, 2)
    return out


@kernel
def conv2d(x, w, out_channels, groups, **geo):
    if x.shape[1] // groups >= CHANNELS_LAST_FROM:
        return _correlate(x, _weight_rows(w, groups), groups, **geo)
    n, (ho, wo) = x.shape[0], geo["grid"]
    cols = _grouped_cols(x, groups, **geo)
    out = np.empty((n, out_channels, ho, wo), np.result_type(x, w))
    by_group = out.reshape(n, groups, out_channels // groups, ho * wo)
    np.matmul(w.reshape(groups, out_channels // groups, -1), cols, out=by_group)
    return out


def _transposed_padding(kernel, padding, dilation) -> tuple | None:
    """The padding of the stride-1 convolution of g that gives conv2d's input gradient, or None
    where conv2d's padding reaches past its dilated kernel (that would need a negative one)."""
    pads = tuple(d * (k - 1) - p for k, p, d in zip(kernel, padding, dilation))
    return pads if min(pads) >= 0 else None


@kernel
def conv2d_backward_input(g, w, out_channels, groups, **geo):
    n, c = g.shape[0], geo["image"][0]
    kh, kw = geo["kernel"]
    cg, og = c // groups, out_channels // groups
    pads = _transposed_padding(geo["kernel"], geo["padding"], geo["dilation"])
    # At stride 1 the input gradient is a convolution of g with the flipped kernel, its in and
    # out channels swapped: im2col rows of g and one GEMM per group, no scatter. Its columns
    # hold C_out/G channels per tap, so it pays where that is no more than C/G: 5.5 ms against
    # 9.3 for the scatter on (32, 64, 16, 16) x (64, 64, 3, 3), 31 against 26 on
    # (64, 32, 26, 26) x (64, 32, 3, 3).
    stride_one = tuple(geo["stride"]) == (1, 1)
    if stride_one and pads is not None and cg >= CHANNELS_LAST_FROM and cg >= og:
        flipped = w[:, :, ::-1, ::-1].reshape(groups, og, cg, kh, kw)
        rows = flipped.transpose(0, 2, 3, 4, 1).reshape(groups, cg, kh * kw * og)
        geo_t = dict(geo, image=(out_channels,) + g.shape[2:], grid=geo["image"][1:], padding=pads)
        return _correlate(g, rows, groups, **geo_t)
    # Otherwise a GEMM spreads each output pixel's gradient over its window (N, G, C/G kh kw,
    # Ho Wo) and every kernel tap adds its slab into the image.
    wt = w.reshape(groups, og, -1).transpose(0, 2, 1)
    cols = np.matmul(wt, g.reshape(n, groups, og, -1))
    cols = cols.reshape((n, c) + tuple(geo["kernel"]) + tuple(geo["grid"]))
    return _fold(cols, **geo)


@kernel
def conv2d_backward_weight(x, g, out_channels, groups, **geo):
    n, c = x.shape[:2]
    kh, kw = geo["kernel"]
    cg, og = c // groups, out_channels // groups
    if cg < CHANNELS_LAST_FROM:
        cols = _grouped_cols(x, groups, **geo)
        gg = g.reshape(n, groups, og, -1)
        # (N, G, C_out/G, C/G kh kw) per image, summed: small next to the columns.
        gw = np.matmul(gg, cols.transpose(0, 1, 3, 2)).sum(axis=0)
        return gw.reshape((out_channels, cg, kh, kw))
    cols = _columns(x, groups, **geo)
    # (G, kh kw C/G, C_out/G): one GEMM per group over every pixel of the batch, the columns
    # read transposed in place.
    gw = np.matmul(cols.transpose(1, 2, 0), _grad_rows(g, groups).transpose(1, 0, 2))
    out = np.empty((out_channels, cg, kh, kw), gw.dtype)
    by_group = out.reshape(groups, og, cg, kh, kw)
    by_group[...] = gw.reshape(groups, kh, kw, cg, og).transpose(0, 4, 3, 1, 2)
    return out


# ---------------------------------------------------------------- max pooling


@kernel
def max_pool2d_index(x, image, grid, kernel, stride, padding, dilation, **_):
    geo = (image, grid, kernel, stride, padding, dilation)
    n, c, h, w = x.shape
    (kh, kw), (ho, wo) = kernel, grid
    vals = _windows(x, *geo, fill=-np.inf).transpose(0, 1, 4, 5, 2, 3).reshape(n, c, ho, wo, -1)
    # The flat index of every window element (-1 on padding), the same for every plane.
    plane = np.arange(h * w, dtype=np.int64).reshape(1, 1, h, w)
    where = _windows(plane, *geo, fill=-1).transpose(4, 5, 2, 3, 0, 1).reshape(ho, wo, kh * kw)
    best = vals.argmax(-1)  # the first maximum, as PyTorch (NaN counts as the maximum)
    # A window of -inf only: its first real element, or -1 when it holds none.
    first_real = (where >= 0).argmax(-1)
    top = np.take_along_axis(vals, best[..., None], -1)[..., 0]
    best = np.where(top == -np.inf, first_real, best)
    rows, cols = np.arange(ho)[:, None], np.arange(wo)[None, :]
    return where[rows, cols, best].astype(np.int32)


@kernel
def max_pool2d(x, idx, **_):
    n, c, h, w = x.shape
    flat = idx.reshape(n, c, -1).astype(np.int64)
    got = np.take_along_axis(x.reshape(n, c, h * w), np.maximum(flat, 0), -1)
    return np.where(flat >= 0, got, -np.inf).reshape(idx.shape)


@kernel
def max_pool2d_backward(g, idx, image, **_):
    n = g.shape[0]
    c, h, w = image
    flat = idx.reshape(n * c, -1).astype(np.int64)
    target = flat + (np.arange(n * c) * (h * w))[:, None]
    keep = flat >= 0
    total = np.bincount(target[keep], weights=g.reshape(n * c, -1)[keep], minlength=n * c * h * w)
    return total.astype(g.dtype).reshape(n, c, h, w)


# ---------------------------------------------------------------- average pooling


def _avg_divisor(image, grid, kernel, stride, padding, count_include_pad, divisor, dtype):
    """(Ho, Wo) divisors, as PyTorch: windows clipped to the padded image, then (unless
    count_include_pad) to the image."""
    if divisor:
        return np.asarray(divisor, dtype)
    sizes = []
    for size, n, k, s, p in zip(image[1:], grid, kernel, stride, padding):
        start = np.arange(n) * s - p
        end = np.minimum(start + k, size + p)
        if count_include_pad:
            sizes.append(end - start)
        else:
            sizes.append(np.minimum(end, size) - np.maximum(start, 0))
    return (sizes[0][:, None] * sizes[1][None, :]).astype(dtype)


@kernel
def avg_pool2d(x, image, grid, kernel, stride, padding, dilation, count_include_pad, divisor, **_):
    geo = (image, grid, kernel, stride, padding, dilation)
    total = _windows(x, *geo).sum(axis=(2, 3))
    div = _avg_divisor(image, grid, kernel, stride, padding, count_include_pad, divisor, x.dtype)
    return total / div


@kernel
def avg_pool2d_backward(
    g, image, grid, kernel, stride, padding, dilation, count_include_pad, divisor, **_
):
    div = _avg_divisor(image, grid, kernel, stride, padding, count_include_pad, divisor, g.dtype)
    share = (g / div)[:, :, None, None]
    cols = np.broadcast_to(share, g.shape[:2] + tuple(kernel) + tuple(grid))
    return _fold(cols, image, grid, kernel, stride, padding, dilation)


# ---------------------------------------------------------------- adaptive average pooling


def _adaptive_matrix(size: int, n: int, dtype) -> np.ndarray:
    """(n, size): row i averages [floor(i size / n), ceil((i + 1) size / n))."""
    i = np.arange(n)[:, None]
    start = (i * size) // n
    end = -((-(i + 1) * size) // n)
    cols = np.arange(size)[None, :]
    inside = (cols >= start) & (cols < end)
    return (inside / (end - start)).astype(dtype)


@kernel
def adaptive_avg_pool2d(x, image, grid, **_):
    ph = _adaptive_matrix(image[1], grid[0], x.dtype)
    pw = _adaptive_matrix(image[2], grid[1], x.dtype)
    return ph @ x @ pw.T  # the windows are rectangles: average rows, then columns


@kernel
def adaptive_avg_pool2d_backward(g, image, grid, **_):
    ph = _adaptive_matrix(image[1], grid[0], g.dtype)
    pw = _adaptive_matrix(image[2], grid[1], g.dtype)
    return ph.T @ g @ pw
