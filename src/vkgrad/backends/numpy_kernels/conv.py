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


def _add_windows(canvas, cols, grid, kernel, stride, dilation, **_):
    """Add cols (..., kh, kw, Ho, Wo) into the windows of canvas (..., Hp, Wp), in place."""
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, stride, dilation, grid
    for i in range(kh):
        rows = slice(i * dh, i * dh + (ho - 1) * sh + 1, sh)
        for j in range(kw):
            canvas[..., rows, j * dw : j * dw + (wo - 1) * sw + 1 : sw] += cols[..., i, j, :, :]


def _fold(cols, image, grid, kernel, stride, padding, dilation, **_):
    """The adjoint of _windows (fill 0): cols (N, C, kh, kw, Ho, Wo) summed into (N, C, H, W)."""
    n = cols.shape[0]
    c, h, w = image
    hp, wp = _canvas(image, grid, kernel, stride, padding, dilation)
    out = np.zeros((n, c, hp, wp), cols.dtype)
    _add_windows(out, cols, grid, kernel, stride, dilation)
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
# The conv kernels walk the batch in chunks of images whose im2col columns, (C kh kw, Ho Wo)
# per image, fill about CHUNK_BYTES: the columns are copied into one reused buffer that stays
# in the L2 cache while the chunk's GEMMs (one per image and group, batched by np.matmul)
# read them, instead of a whole batch of columns streamed through memory twice. Measured
# with 1-thread OpenBLAS (SkylakeX kernels) on (64, 32, 26, 26) x (64, 32, 3, 3), ms:
# forward 16.7 against 24.6 for one GEMM over the whole batch's channels-last columns, weight
# gradient 17.1 against 26.3, input gradient (GEMM, then each kernel tap adds its slab) 23.9
# against 32.2. Small images (few channels) go many to a chunk, so the Python loop stays short.
CHUNK_BYTES = 1 << 20


def _chunks(n: int, per_image: int) -> list:
    """Slices of the batch with about CHUNK_BYTES of columns each (at least one image)."""
    step = max(1, CHUNK_BYTES // max(1, per_image))
    return [slice(i, min(i + step, n)) for i in range(0, n, step)]


def _correlate(x, rows, groups, image, grid, kernel, **geo):
    """conv2d of x (N, C, H, W) with weight rows (G, C_out/G, C/G kh kw): (N, C_out, Ho, Wo)."""
    n, (ho, wo) = x.shape[0], grid
    cout = groups * rows.shape[1]
    dtype = np.result_type(x, rows)
    win = _windows(x, image, grid, kernel, **geo)  # (N, C, kh, kw, Ho, Wo)
    out = np.empty((n, cout, ho, wo), dtype)
    parts = _chunks(n, win[0].size * dtype.itemsize)
    buf = np.empty((parts[0].stop,) + win.shape[1:], x.dtype)
    for part in parts:
        m = part.stop - part.start
        cols = buf[:m]
        cols[...] = win[part]
        by_group = out[part].reshape(m, groups, cout // groups, ho * wo)
        np.matmul(rows, cols.reshape(m, groups, -1, ho * wo), out=by_group)
    return out


@kernel
def conv2d(x, w, out_channels, groups, **geo):
    return _correlate(x, w.reshape(groups, out_channels // groups, -1), groups, **geo)


def _transposed_padding(kernel, padding, dilation) -> tuple | None:
    """The padding of the stride-1 convolution of g that gives conv2d's input gradient, or None
    where conv2d's padding reaches past its dilated kernel (that would need a negative one)."""
    pads = tuple(d * (k - 1) - p for k, p, d in zip(kernel, padding, dilation))
    return pads if min(pads) >= 0 else None


@kernel
def conv2d_backward_input(g, w, out_channels, groups, image, grid, kernel, **geo):
    n, c, (kh, kw) = g.shape[0], image[0], kernel
    cg, og = c // groups, out_channels // groups
    pads = _transposed_padding(kernel, geo["padding"], geo["dilation"])
    if tuple(geo["stride"]) == (1, 1) and pads is not None and cg >= og:
        # At stride 1 the input gradient is a convolution of g with the flipped kernel, its in
        # and out channels swapped: no scatter. Its columns hold C_out/G channels per tap, so
        # it pays where that is no more than C/G: 6.6 ms against 10.4 for the scatter on
        # (32, 64, 16, 16) x (64, 64, 3, 3), but 28.7 against 24.7 on (64, 32, 26, 26) x
        # (64, 32, 3, 3).
        flipped = w[:, :, ::-1, ::-1].reshape(groups, og, cg, kh, kw)
        rows = flipped.transpose(0, 2, 1, 3, 4).reshape(groups, cg, og * kh * kw)
        geo_t = dict(geo, padding=pads)
        return _correlate(
            g, rows, groups, (out_channels,) + g.shape[2:], image[1:], kernel, **geo_t
        )
    # Otherwise a GEMM spreads each output pixel's gradient over its window, (C kh kw, Ho Wo)
    # per image, and each kernel tap adds its slab into the image, a chunk at a time.
    dtype = np.result_type(g, w)
    wt = w.reshape(groups, og, -1).transpose(0, 2, 1)  # (G, C/G kh kw, C_out/G)
    hp, wp = _canvas(image, grid, kernel, geo["stride"], geo["padding"], geo["dilation"])
    (ho, wo), (dh, dw) = grid, geo["dilation"]
    # At stride 1, g's rows widened to the canvas width with zeros make each tap's slab one run
    # of Ho*Wp values in the flat canvas, added with one long inner loop per channel instead of
    # one per row: 24.7 -> 19.4 ms on (64, 32, 26, 26) x (64, 32, 3, 3). Widening copies g, so
    # it pays where g is smaller than the columns (C kh kw >= C_out); on (64, 1, 28, 28) x
    # (32, 1, 3, 3) it costs 0.94 -> 1.3 ms. The zero columns add zeros (NaN only with a
    # non-finite weight, whose true gradient is not finite either); the last taps' runs go
    # past the canvas into a spare tail.
    flat = tuple(geo["stride"]) == (1, 1) and c * kh * kw >= out_channels
    if flat:
        wide = np.zeros((n, out_channels, ho, wp), dtype)
        wide[..., :wo] = g
        g, row = wide, wp
        canvas = np.zeros((n, c, hp * wp + (kw - 1) * dw), dtype)
    else:
        row = wo
        canvas = np.zeros((n, c, hp, wp), dtype)
    parts = _chunks(n, c * kh * kw * ho * row * dtype.itemsize)
    buf = np.empty((parts[0].stop, groups, cg * kh * kw, ho * row), dtype)
    for part in parts:
        m = part.stop - part.start
        np.matmul(wt, g[part].reshape(m, groups, og, -1), out=buf[:m])
        if not flat:
            cols = buf[:m].reshape((m, c, kh, kw) + tuple(grid))
            _add_windows(canvas[part], cols, grid, kernel, **geo)
            continue
        cols = buf[:m].reshape(m, c, kh, kw, ho * wp)
        for i in range(kh):
            for j in range(kw):
                start = i * dh * wp + j * dw
                canvas[part, :, start : start + ho * wp] += cols[:, :, i, j]
    if flat:
        canvas = canvas[:, :, : hp * wp].reshape(n, c, hp, wp)
    (pt, pl), (_, h, wd) = geo["padding"], image
    if (hp, wp) == (h, wd) and canvas.base is None:
        return canvas
    return np.ascontiguousarray(canvas[:, :, pt : pt + h, pl : pl + wd])


@kernel
def conv2d_backward_weight(x, g, out_channels, groups, image, grid, kernel, **geo):
    n, c = x.shape[:2]
    cg, og = c // groups, out_channels // groups
    dtype = np.result_type(x, g)
    win = _windows(x, image, grid, kernel, **geo)
    parts = _chunks(n, win[0].size * dtype.itemsize)
    buf = np.empty((parts[0].stop,) + win.shape[1:], x.dtype)
    gw = np.zeros((groups, og, cg * kernel[0] * kernel[1]), dtype)
    for part in parts:
        m = part.stop - part.start
        cols = buf[:m]
        cols[...] = win[part]
        cols = cols.reshape(m, groups, -1, grid[0] * grid[1]).transpose(0, 1, 3, 2)
        # (m, G, C_out/G, C/G kh kw): small next to the columns, summed over the chunk.
        gw += np.matmul(g[part].reshape(m, groups, og, -1), cols).sum(axis=0)
    return gw.reshape((out_channels, cg) + tuple(kernel))


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
