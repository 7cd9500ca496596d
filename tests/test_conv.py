"""Convolution and pooling beyond the specs: large inputs (many workgroups) on cpu and Vulkan
against float64 references, max-pool indices and ties, and error messages."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import vulkan_param
from specs_conv import (
    ref_adaptive_avg_pool2d,
    ref_avg_pool2d,
    ref_conv2d,
    ref_conv_transpose2d,
    ref_fold,
    ref_max_pool2d,
    ref_unfold,
)

import vkgrad
import vkgrad.nn.functional as F
from vkgrad import autograd

LARGE = ["cpu", vulkan_param("vulkan", id="vulkan")]


def _big(shape, seed):
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)


def _close(got, ref, bound_terms, what):
    """f32 error of a sum grows with its terms: bound it by the sum of |terms| (1e-5 relative)."""
    err = np.abs(np.asarray(got, np.float64) - ref)
    bound = 1e-5 * bound_terms + 1e-6
    assert got.shape == ref.shape, f"{what}: shape {got.shape}, expected {ref.shape}"
    assert np.all(err <= bound), f"{what}: max err {err.max():.3g} (bound {bound.min():.3g})"


def _grads(fn, arrays, gout, dev):
    xs = [vkgrad.tensor(a, dtype="f32", device=dev, requires_grad=True) for a in arrays]
    out = fn(*xs)
    grads = autograd.grad(out, xs, vkgrad.tensor(gout, dtype="f32", device=dev))
    return out.numpy(), [g.numpy() for g in grads]


def _conv_weight_grad_ref(x, g, w_shape, stride, padding, dilation, groups):
    """d/dw of sum(g * conv2d(x, w)): each tap correlates the shifted input with g."""
    cout, cg, kh, kw = w_shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    ho, wo = g.shape[2:]
    per = cout // groups
    gw = np.zeros(w_shape)
    for o in range(cout):
        chans = slice((o // per) * cg, (o // per + 1) * cg)
        for i in range(kh):
            for j in range(kw):
                patch = xp[:, chans, i * dh :: sh, j * dw :: sw][:, :, :ho, :wo]
                gw[o, :, i, j] = np.einsum("nchw,nhw->c", patch, g[:, o])
    return gw


@pytest.mark.parametrize("dev", LARGE)
@pytest.mark.parametrize(
    "stride,padding,dilation,groups",
    [((1, 1), (1, 1), (1, 1), 1), ((2, 1), (2, 1), (2, 1), 2)],
    ids=["s1p1", "s2p2d2g2"],
)
def test_large_conv2d(dev, stride, padding, dilation, groups):
    x, w, b = _big((8, 16, 32, 32), 1), _big((16, 16 // groups, 3, 3), 2), _big((16,), 3)
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    ref = ref_conv2d(x.astype(np.float64), w.astype(np.float64), b, **kw)
    gout = _big(ref.shape, 4).astype(np.float64)
    out, (gx, gw, gb) = _grads(lambda *t: F.conv2d(*t, **kw), [x, w, b], gout, dev)
    terms = ref_conv2d(np.abs(x), np.abs(w), np.abs(b), **kw)
    _close(out, ref, terms, f"conv2d forward on {dev}")
    # grad_input is the transposed convolution of g; grad_weight correlates x with g.
    ct = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    gx_ref = ref_conv_transpose2d(gout, w.astype(np.float64), **ct)
    gx_ref = np.pad(gx_ref, [(0, 0), (0, 0)] + [(0, 32 - s) for s in gx_ref.shape[2:]])
    gx_terms = np.abs(ref_conv_transpose2d(np.abs(gout), np.abs(w), **ct))
    gx_terms = np.pad(gx_terms, [(0, 0), (0, 0)] + [(0, 32 - s) for s in gx_terms.shape[2:]])
    _close(gx, gx_ref, gx_terms, f"conv2d grad_input on {dev}")
    geo = (stride, padding, dilation, groups)
    gw_ref = _conv_weight_grad_ref(x.astype(np.float64), gout, w.shape, *geo)
    gw_terms = _conv_weight_grad_ref(np.abs(x), np.abs(gout), w.shape, *geo)
    _close(gw, gw_ref, gw_terms, f"conv2d grad_weight on {dev}")
    _close(gb, gout.sum((0, 2, 3)), np.abs(gout).sum((0, 2, 3)), f"conv2d grad_bias on {dev}")


@pytest.mark.parametrize("dt", ["f32", "f16"])
@pytest.mark.parametrize("dev", LARGE)
def test_weight_gradient_over_many_positions(dev, dt):
    # 32 images of 48x48 outputs: each weight element sums 73728 products. On Vulkan the sum
    # is cut into slices of the (image, row) pairs, one thread each, then the slices are added
    # (one thread for all of it would also pass lavapipe's 65535-iteration loop limit).
    x, w, gout = _big((32, 2, 48, 48), 11), _big((3, 2, 3, 3), 12), _big((32, 3, 48, 48), 13)
    X = vkgrad.tensor(x, dtype=dt, device=dev)
    W = vkgrad.tensor(w, dtype=dt, device=dev, requires_grad=True)
    (gw,) = autograd.grad(F.conv2d(X, W, padding=1), [W], vkgrad.tensor(gout, dtype=dt, device=dev))
    # The reference takes the values the kernel saw (f16-rounded for f16).
    x64, g64 = (
        X.numpy().astype(np.float64),
        vkgrad.tensor(gout, dtype=dt).numpy().astype(np.float64),
    )
    geo = ((1, 1), (1, 1), (1, 1), 1)
    ref = _conv_weight_grad_ref(x64, g64, w.shape, *geo)
    terms = _conv_weight_grad_ref(np.abs(x64), np.abs(g64), w.shape, *geo)
    if dt == "f32":
        _close(gw.numpy(), ref, terms, f"conv2d grad_weight on {dev}")
    else:  # f32 sums, then the result rounded to f16 (2^-11 relative)
        np.testing.assert_allclose(gw.numpy(), ref, rtol=2.0**-10, atol=1e-5 * terms.max())


@pytest.mark.parametrize("dev", LARGE)
def test_large_conv1d_and_transpose(dev):
    x, w = _big((8, 16, 1001), 5), _big((8, 16, 5), 6)
    out = F.conv1d(vkgrad.tensor(x, device=dev), vkgrad.tensor(w, device=dev), padding=2)
    ref = ref_conv2d(x[:, :, None].astype(np.float64), w[:, :, None], padding=(0, 2))[:, :, 0]
    terms = ref_conv2d(np.abs(x[:, :, None]), np.abs(w[:, :, None]), padding=(0, 2))[:, :, 0]
    _close(out.numpy(), ref, terms, f"conv1d on {dev}")
    x, w = _big((8, 16, 20, 20), 7), _big((16, 8, 3, 3), 8)
    kw = dict(stride=2, padding=1, output_padding=1)
    out = F.conv_transpose2d(vkgrad.tensor(x, device=dev), vkgrad.tensor(w, device=dev), **kw)
    ref = ref_conv_transpose2d(x.astype(np.float64), w.astype(np.float64), **kw)
    terms = ref_conv_transpose2d(np.abs(x), np.abs(w), **kw)
    _close(out.numpy(), ref, terms, f"conv_transpose2d on {dev}")


@pytest.mark.parametrize("dev", LARGE)
def test_large_unfold_fold(dev):
    x = _big((8, 16, 32, 31), 21)
    kw = dict(kernel_size=3, dilation=(1, 2), padding=1, stride=(2, 1))
    got = F.unfold(vkgrad.tensor(x, device=dev), **kw).numpy()
    np.testing.assert_array_equal(got, ref_unfold(x, **kw).astype(np.float32))
    cols = _big(got.shape, 22)
    back = F.fold(vkgrad.tensor(cols, device=dev), (32, 31), **kw).numpy()
    ref = ref_fold(cols.astype(np.float64), (32, 31), **kw)
    terms = ref_fold(np.abs(cols), (32, 31), **kw)
    _close(back, ref, terms, f"fold on {dev}")


# ---------------------------------------------------------------- pooling


def ref_max_indices(x, k, s, p, d=(1, 1), ceil_mode=False):
    """Flat argmax (first maximum, -inf padding) of every window, as PyTorch's indices."""
    n, c, h, w = x.shape
    ho, wo = ref_max_pool2d(x[:1, :1], k, s, p, d, ceil_mode).shape[2:]
    idx = np.empty((n, c, ho, wo), np.int64)
    for oh in range(ho):
        for ow in range(wo):
            ys = oh * s[0] - p[0] + d[0] * np.arange(k[0])
            xs = ow * s[1] - p[1] + d[1] * np.arange(k[1])
            ys, xs = ys[(ys >= 0) & (ys < h)], xs[(xs >= 0) & (xs < w)]
            win = x[:, :, ys][:, :, :, xs].reshape(n, c, -1)
            flat = (ys[:, None] * w + xs[None, :]).reshape(-1)
            idx[:, :, oh, ow] = flat[win.argmax(-1)]
    return idx


def _scatter_to(idx, g, hw):
    n, c = g.shape[:2]
    out = np.zeros((n, c, hw[0] * hw[1]))
    for i in range(n):
        for j in range(c):
            np.add.at(out[i, j], idx[i, j].reshape(-1), g[i, j].reshape(-1))
    return out.reshape(n, c, *hw)


@pytest.mark.parametrize("dev", LARGE)
def test_large_max_pool2d(dev):
    x = _big((8, 16, 33, 32), 9)
    k, s, p = (3, 3), (2, 2), (1, 1)
    ref = ref_max_pool2d(x.astype(np.float64), k, s, p)
    idx_ref = ref_max_indices(x, k, s, p)
    gout = _big(ref.shape, 10).astype(np.float64)
    xt = vkgrad.tensor(x, device=dev, requires_grad=True)
    out, idx = F.max_pool2d(xt, k, s, p, return_indices=True)
    (gx,) = autograd.grad(out, [xt], vkgrad.tensor(gout, dtype="f32", device=dev))
    np.testing.assert_array_equal(out.numpy(), ref.astype(np.float32))
    np.testing.assert_array_equal(idx.numpy(), idx_ref)
    assert idx.dtype is vkgrad.int32
    # A pixel sums the f32 gradients of up to 4 windows (|g| <= 1): rounding ~ 4 * 6e-8.
    np.testing.assert_allclose(gx.numpy(), _scatter_to(idx_ref, gout, (33, 32)), atol=1e-6)


@pytest.mark.parametrize("dev", LARGE)
def test_large_pools_1d(dev):
    x = _big((8, 16, 1001), 11)
    xt = vkgrad.tensor(x, device=dev, requires_grad=True)
    out = F.max_pool1d(xt, 4, stride=3, padding=2, ceil_mode=True)
    ref = ref_max_pool2d(x[:, :, None].astype(np.float64), (1, 4), (1, 3), (0, 2), 1, True)
    np.testing.assert_array_equal(out.numpy(), ref[:, :, 0].astype(np.float32))
    gout = _big(out.shape, 12).astype(np.float64)
    (gx,) = autograd.grad(out, [xt], vkgrad.tensor(gout, dtype="f32", device=dev))
    idx = ref_max_indices(x[:, :, None], (1, 4), (1, 3), (0, 2), ceil_mode=True)
    want = _scatter_to(idx, gout[:, :, None], (1, 1001))[:, :, 0]
    np.testing.assert_allclose(gx.numpy(), want, atol=1e-6)  # sums of <= 2 f32 gradients
    avg = F.avg_pool1d(xt, 5, stride=2, padding=2, count_include_pad=False)
    ref = ref_avg_pool2d(x[:, :, None].astype(np.float64), (1, 5), (1, 2), (0, 2), False, False)
    np.testing.assert_allclose(avg.numpy(), ref[:, :, 0], rtol=1e-5, atol=1e-6)


def _avg_backward_ref(g, hw, k, s, p, ceil_mode, count_include_pad):
    """The adjoint of ref_avg_pool2d, window by window."""
    n, c, ho, wo = g.shape
    h, w = hw
    gx = np.zeros((n, c, h, w))
    for oh in range(ho):
        for ow in range(wo):
            y0, x0 = oh * s[0] - p[0], ow * s[1] - p[1]
            y1, x1 = min(y0 + k[0], h + p[0]), min(x0 + k[1], w + p[1])
            size = (y1 - y0) * (x1 - x0)
            y0, x0, y1, x1 = max(y0, 0), max(x0, 0), min(y1, h), min(x1, w)
            div = size if count_include_pad else (y1 - y0) * (x1 - x0)
            gx[:, :, y0:y1, x0:x1] += g[:, :, oh, ow, None, None] / div
    return gx


@pytest.mark.parametrize("dev", LARGE)
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_large_avg_pool2d(dev, count_include_pad):
    x = _big((8, 16, 33, 32), 13)
    k, s, p = (3, 2), (2, 2), (1, 1)
    kw = dict(ceil_mode=True, count_include_pad=count_include_pad)
    ref = ref_avg_pool2d(x.astype(np.float64), k, s, p, **kw)
    gout = _big(ref.shape, 14).astype(np.float64)
    out, (gx,) = _grads(lambda t: F.avg_pool2d(t, k, s, p, **kw), [x], gout, dev)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)
    gx_ref = _avg_backward_ref(gout, (33, 32), k, s, p, **kw)
    np.testing.assert_allclose(gx, gx_ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dev", LARGE)
@pytest.mark.parametrize("size", [(5, 7), (1, 1), (40, 3)], ids=["5x7", "global", "up"])
def test_large_adaptive_avg_pool2d(dev, size):
    x = _big((8, 16, 33, 31), 15)
    ref = ref_adaptive_avg_pool2d(x.astype(np.float64), size)
    gout = _big(ref.shape, 16).astype(np.float64)
    out, (gx,) = _grads(lambda t: F.adaptive_avg_pool2d(t, size), [x], gout, dev)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)
    # The adjoint, window by window.
    ho, wo = size
    gx_ref = np.zeros(x.shape)
    for i in range(ho):
        for j in range(wo):
            y0, y1 = (i * 33) // ho, -(-((i + 1) * 33) // ho)
            x0, x1 = (j * 31) // wo, -(-((j + 1) * 31) // wo)
            gx_ref[:, :, y0:y1, x0:x1] += gout[:, :, i, j, None, None] / ((y1 - y0) * (x1 - x0))
    np.testing.assert_allclose(gx, gx_ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dt", ["f32", "f16"])
@pytest.mark.parametrize("dev", [vulkan_param("vulkan", id="vulkan")])
def test_window_kernels_loop_over_few_workgroups(dev, dt):
    """With 2 workgroups every window kernel must walk its outputs in a grid-stride loop (f16:
    whole words per thread); the results must match the cpu backend's in the same dtype."""
    x, w = _big((3, 4, 9, 11), 23), _big((6, 2, 3, 3), 24)
    geo = dict(stride=(2, 1), padding=1, groups=2)

    def run(device):
        xs = vkgrad.tensor(x, dtype=dt, device=device, requires_grad=True)
        ws = vkgrad.tensor(w, dtype=dt, device=device, requires_grad=True)
        y = F.conv2d(xs, ws, **geo)
        outs = [y, F.max_pool2d(xs, 3, 2, 1), F.avg_pool2d(xs, 2), F.adaptive_avg_pool2d(xs, 4)]
        outs += [F.unfold(xs, 2), F.conv_transpose2d(y, ws, stride=(2, 1), padding=1, groups=2)]
        total = sum((o * o).sum() for o in outs)
        grads = autograd.grad(total, [xs, ws])
        return [o.numpy().astype(np.float64) for o in outs + list(grads)]

    be = vkgrad.tensor([0.0], device=dev)._device.backend
    old = be.max_groups
    try:
        be.max_groups = 2
        got = run(dev)
    finally:
        be.max_groups = old
    rtol, atol = (1e-4, 1e-4) if dt == "f32" else (2e-2, 2e-2)  # f16: rounded differently
    for i, (a, b) in enumerate(zip(got, run("cpu"))):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol * max(1, np.abs(b).max()), err_msg=i)


# ---------------------------------------------------------------- max-pool semantics


def test_max_pool_ties_go_to_the_first_maximum(device):
    x = vkgrad.ones(1, 1, 4, 4, device=device, requires_grad=True)
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    y.sum().backward()
    want = np.zeros((4, 4))
    want[::2, ::2] = 1  # the top-left element of each window, as PyTorch
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], want)
    np.testing.assert_array_equal(idx.numpy()[0, 0], [[0, 2], [8, 10]])


def test_max_pool_padding_is_minus_infinity(device):
    a = -np.arange(1, 10, dtype=np.float32).reshape(1, 1, 3, 3)  # all negative
    y, idx = F.max_pool2d(
        vkgrad.tensor(a, device=device), 2, stride=2, padding=1, return_indices=True
    )
    np.testing.assert_array_equal(y.numpy()[0, 0], [[-1, -2], [-4, -5]])
    np.testing.assert_array_equal(idx.numpy()[0, 0], [[0, 1], [3, 4]])
    # Windows whose real elements are all -inf still point at their first real element.
    inf = vkgrad.tensor(np.full((1, 3, 3), -np.inf, np.float32), device=device)
    y, idx = F.max_pool2d(inf, 2, stride=2, padding=1, return_indices=True)
    assert np.all(y.numpy() == -np.inf)
    np.testing.assert_array_equal(idx.numpy()[0], [[0, 1], [3, 4]])


def test_max_pool1d_indices(device):
    a = np.array([[[3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0]]], np.float32)
    y, idx = F.max_pool1d(vkgrad.tensor(a, device=device), 3, stride=2, return_indices=True)
    np.testing.assert_array_equal(y.numpy(), [[[4.0, 5.0, 9.0]]])
    np.testing.assert_array_equal(idx.numpy(), [[[2, 4, 5]]])


def test_global_average_pool_is_the_spatial_mean(device):
    x = _big((3, 5, 7, 9), 17)
    y = F.adaptive_avg_pool2d(vkgrad.tensor(x, device=device), 1)
    assert tuple(y.shape) == (3, 5, 1, 1)
    np.testing.assert_allclose(y.numpy(), x.mean((2, 3), keepdims=True), rtol=1e-5, atol=1e-6)


def test_conv2d_matches_linear_for_a_full_kernel(device):
    # A kernel covering the whole image is a fully connected layer on the flattened input.
    x, w, b = _big((4, 3, 5, 5), 18), _big((6, 3, 5, 5), 19), _big((6,), 20)
    t = [vkgrad.tensor(a, device=device) for a in (x, w, b)]
    got = F.conv2d(*t).numpy().reshape(4, 6)
    np.testing.assert_allclose(got, x.reshape(4, -1) @ w.reshape(6, -1).T + b, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- errors


def _t(*shape):
    return vkgrad.zeros(*shape)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: F.conv2d(_t(1, 3, 8, 8), _t(4, 2, 3, 3)), r"conv2d: input \(1, 3, 8, 8\) has 3"),
        (lambda: F.conv2d(_t(1, 4, 8, 8), _t(4, 2, 3, 3), groups=3), r"groups=3 must divide"),
        (lambda: F.conv2d(_t(1, 3, 8, 8), _t(5, 1, 3, 3), groups=3), r"output channels \(5\)"),
        (
            lambda: F.conv2d(_t(1, 3, 2, 2), _t(4, 3, 3, 3)),
            r"\(2 x 2\) is smaller than .*\(3 x 3\)",
        ),
        (lambda: F.conv2d(_t(3, 8), _t(4, 3, 3, 3)), r"conv2d: expected a \(N, C, H, W\)"),
        (lambda: F.conv2d(_t(1, 3, 8, 8), _t(4, 3, 3)), r"conv2d: weight must be 4-D"),
        (lambda: F.conv2d(_t(1, 3, 8, 8), _t(4, 3, 3, 3), _t(3)), r"bias shape \(3,\)"),
        (lambda: F.conv2d(_t(1, 3, 8, 8), _t(4, 3, 3, 3), padding="full"), r"'same', 'valid'"),
        (lambda: F.conv2d(_t(1, 3, 8, 8), _t(4, 3, 3, 3), padding="same", stride=2), "strided"),
        (lambda: F.conv1d(_t(2, 3, 4), _t(4, 2, 3)), r"conv1d: input \(2, 3, 4\) has 3"),
        (lambda: F.conv1d(_t(2, 3, 2), _t(4, 3, 5), padding=1), r"conv1d: padded input"),
        (
            lambda: F.conv_transpose2d(_t(1, 3, 4, 4), _t(4, 2, 3, 3)),
            r"conv_transpose2d: input \(1, 3, 4, 4\) has 3 channels but weight",
        ),
        (
            lambda: F.conv_transpose2d(_t(1, 4, 4, 4), _t(4, 2, 3, 3), stride=2, output_padding=2),
            "output_padding",
        ),
        (lambda: F.max_pool2d(_t(1, 1, 4, 4), 2, padding=2), r"max_pool2d: padding \(2, 2\)"),
        (lambda: F.max_pool2d(_t(1, 1, 2, 2), 3), r"max_pool2d: input \(1, 1, 2, 2\) is too"),
        (lambda: F.avg_pool2d(_t(1, 1, 4, 4), 0), "kernel_size must be positive"),
        (lambda: F.avg_pool1d(_t(1, 4, 4), 2, stride=(1, 2)), "stride must be an int or"),
        (lambda: F.adaptive_avg_pool2d(_t(1, 1, 4, 4), (2, 2, 2)), "output_size must have 2"),
        (lambda: F.adaptive_avg_pool2d(_t(1, 1, 4, 4), 0), "must be positive"),
        (lambda: F.unfold(_t(1, 2, 2, 2), 3), r"unfold: input \(1, 2, 2, 2\): the kernel"),
        (lambda: F.fold(_t(1, 8, 8), (4, 4), 2), r"fold: input \(1, 8, 8\) has 8 windows"),
        (lambda: F.fold(_t(1, 7, 9), (4, 4), 2), r"dim 1 \(7\) must be a multiple"),
    ],
)
def test_errors_name_the_op_and_shapes(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---------------------------------------------------------------- against PyTorch, where installed


def _torch_configs(seed: int, n: int):
    """Random small geometries (odd sizes, strides, dilations, paddings, groups, ceil_mode)."""
    rng = np.random.default_rng(seed)

    def r(lo, hi):
        return int(rng.integers(lo, hi + 1))

    for _ in range(n):
        g = r(1, 3)
        k = (r(1, 4), r(1, 4))
        s = (r(1, 3), r(1, 3))
        d = (r(1, 2), r(1, 2))
        size = (r(3, 9), r(3, 9))
        pool_pad = (r(0, k[0] // 2), r(0, k[1] // 2))
        yield rng, r, g, k, s, d, size, pool_pad


def _vs_torch(tfn, vfn, arrays, kw):
    """Forward (and indices) and every input gradient of vfn(*arrays, **kw) on cpu/f64 vs
    PyTorch's tfn; where PyTorch rejects the arguments, vkgrad must raise too."""
    torch = pytest.importorskip("torch")
    what = f"{vfn.__name__} {kw}"
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    try:
        tout = tfn(*ts, **kw)
    except RuntimeError:
        with pytest.raises(ValueError):
            vfn(*[vkgrad.tensor(a, dtype="f64") for a in arrays], **kw)
        return
    vs = [vkgrad.tensor(a, dtype="f64", requires_grad=True) for a in arrays]
    vout = vfn(*vs, **kw)
    if isinstance(tout, tuple):
        (tout, tidx), (vout, vidx) = tout, vout
        np.testing.assert_array_equal(vidx.numpy(), tidx.numpy(), err_msg=f"{what}: indices")
    np.testing.assert_allclose(vout.numpy(), tout.detach().numpy(), 1e-10, 1e-12, err_msg=what)
    g = np.random.default_rng(0).standard_normal(tuple(tout.shape))
    tg = torch.autograd.grad(tout, ts, torch.tensor(g))
    vg = autograd.grad(vout, vs, vkgrad.tensor(g, dtype="f64"))
    for i, (a, b) in enumerate(zip(tg, vg)):
        np.testing.assert_allclose(b.numpy(), a.numpy(), 1e-10, 1e-12, err_msg=f"{what}: grad {i}")


def _one_d(kw: dict) -> dict:
    return {k: (v[1] if isinstance(v, tuple) else v) for k, v in kw.items()}


@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_convolutions_match_torch():
    tf = pytest.importorskip("torch.nn.functional")
    for rng, r, g, k, s, d, size, _ in _torch_configs(1, 40):
        cin, cout = g * r(1, 2), g * r(1, 2)
        pad = [0, 1, (r(0, 2), r(0, 2)), "same", "valid"][r(0, 4)]
        s = (1, 1) if pad == "same" else s
        x = rng.standard_normal((r(1, 2), cin) + size)
        w, b = rng.standard_normal((cout, cin // g) + k), rng.standard_normal(cout)
        kw = dict(stride=s, padding=pad, dilation=d, groups=g)
        _vs_torch(tf.conv2d, F.conv2d, [x, w, b], kw)
        _vs_torch(tf.conv1d, F.conv1d, [x[:, :, 0], w[:, :, 0]], _one_d(kw))
        outpad = tuple(r(0, si - 1) for si in s)
        kt = dict(stride=s, padding=(r(0, 2), r(0, 2)), output_padding=outpad, groups=g, dilation=d)
        wt = rng.standard_normal((cin, cout // g) + k)
        _vs_torch(tf.conv_transpose2d, F.conv_transpose2d, [x, wt, b], kt)
        ku = dict(kernel_size=k, dilation=d, padding=(r(0, 2), r(0, 2)), stride=s)
        _vs_torch(tf.unfold, F.unfold, [x], ku)


def test_pools_match_torch():
    tf = pytest.importorskip("torch.nn.functional")
    # Sizes >= 3 with dilation <= 2: every window holds an image pixel (for a window of padding
    # only, PyTorch returns an index outside the image and vkgrad -1).
    for rng, r, _, k, s, d, size, p in _torch_configs(2, 40):
        st = None if r(0, 1) else s
        cm = bool(r(0, 1))
        x = rng.permutation(2 * 3 * size[0] * size[1]).reshape((2, 3) + size) * 0.1  # distinct
        km = dict(
            kernel_size=k, stride=st, padding=p, dilation=d, ceil_mode=cm, return_indices=True
        )
        _vs_torch(tf.max_pool2d, F.max_pool2d, [x], km)
        _vs_torch(tf.max_pool1d, F.max_pool1d, [x[:, :, 0]], _one_d(km))
        ka = dict(kernel_size=k, stride=st, padding=p, ceil_mode=cm)
        ka.update(count_include_pad=bool(r(0, 1)), divisor_override=[None, 3][r(0, 1)])
        _vs_torch(tf.avg_pool2d, F.avg_pool2d, [x], ka)
        ka.pop("divisor_override")
        _vs_torch(tf.avg_pool1d, F.avg_pool1d, [x[:, :, 0]], _one_d(ka))
        out = (r(1, 10), [None, r(1, 10)][r(0, 1)])
        _vs_torch(tf.adaptive_avg_pool2d, F.adaptive_avg_pool2d, [x], dict(output_size=out))
        _vs_torch(
            tf.adaptive_avg_pool1d, F.adaptive_avg_pool1d, [x[:, :, 0]], dict(output_size=out[0])
        )


def _conv_input_grad_ref(g, w, x_shape, stride, padding, dilation, groups):
    """d/dx of sum(g * conv2d(x, w)): each tap sends g through its weights to the pixels it read."""
    n, c, h, wd = x_shape
    cout, cg, kh, kw = w.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    ho, wo = g.shape[2:]
    per = cout // groups
    canvas = np.zeros((n, c, h + 2 * ph + dh * kh + sh, wd + 2 * pw + dw * kw + sw))
    for grp in range(groups):
        outs, chans = slice(grp * per, (grp + 1) * per), slice(grp * cg, (grp + 1) * cg)
        for i in range(kh):
            for j in range(kw):
                spread = np.einsum("nohw,oc->nchw", g[:, outs], w[outs, :, i, j])
                rows = slice(i * dh, i * dh + (ho - 1) * sh + 1, sh)
                cols = slice(j * dw, j * dw + (wo - 1) * sw + 1, sw)
                canvas[:, chans, rows, cols] += spread
    return canvas[:, :, ph : ph + h, pw : pw + wd]


# Each NumPy kernel path: the flipped-kernel convolution for the input gradient (C/G >= C_out/G
# at stride 1, groups 1 and 2), the per-tap scatter one row at a time (stride 2 with dilation)
# and over widened rows (stride 1: one input channel, dilation with groups, padding past the
# kernel), odd sizes throughout. "cpu-chunks" makes every image its own chunk.
CONV_CASES = {
    "flip": ((2, 16, 9, 7), (8, 16, 3, 3), (1, 1), (1, 1), (1, 1), 1),
    "flip-g2": ((3, 8, 7, 9), (4, 4, 3, 2), (1, 1), (1, 0), (1, 1), 2),
    "scatter-s2d2g2": ((2, 4, 11, 10), (6, 2, 3, 3), (2, 2), (2, 2), (2, 2), 2),
    "scatter-c1": ((5, 1, 8, 8), (3, 1, 3, 3), (1, 1), (1, 1), (1, 1), 1),
    "scatter-rows-d2g2": ((2, 4, 9, 8), (6, 2, 3, 2), (1, 1), (1, 2), (2, 1), 2),
    "scatter-rows": ((3, 4, 7, 6), (8, 4, 3, 3), (1, 1), (1, 1), (1, 1), 1),
    "scatter-wide-pad": ((2, 4, 6, 5), (2, 4, 2, 2), (1, 1), (2, 2), (1, 1), 1),
}


@pytest.mark.parametrize("case", list(CONV_CASES))
@pytest.mark.parametrize("dev", ["cpu", "cpu-chunks", vulkan_param("vulkan", id="vulkan")])
def test_conv2d_kernel_paths(dev, case, monkeypatch):
    from vkgrad.backends.numpy_kernels import conv as numpy_conv

    if dev == "cpu-chunks":
        monkeypatch.setattr(numpy_conv, "CHUNK_BYTES", 1)
        dev = "cpu"
    x_shape, w_shape, stride, padding, dilation, groups = CONV_CASES[case]
    x, w, b = _big(x_shape, 21), _big(w_shape, 22), _big(w_shape[:1], 23)
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    ref = ref_conv2d(x.astype(np.float64), w.astype(np.float64), b, **kw)
    gout = _big(ref.shape, 24).astype(np.float64)
    out, (gx, gw, gb) = _grads(lambda *t: F.conv2d(*t, **kw), [x, w, b], gout, dev)
    _close(out, ref, ref_conv2d(np.abs(x), np.abs(w), np.abs(b), **kw), f"{case} forward")
    geo = (stride, padding, dilation, groups)
    gx_ref = _conv_input_grad_ref(gout, w.astype(np.float64), x_shape, *geo)
    gx_terms = _conv_input_grad_ref(np.abs(gout), np.abs(w), x_shape, *geo)
    _close(gx, gx_ref, gx_terms, f"{case} grad_input")
    gw_ref = _conv_weight_grad_ref(x.astype(np.float64), gout, w_shape, *geo)
    gw_terms = _conv_weight_grad_ref(np.abs(x), np.abs(gout), w_shape, *geo)
    _close(gw, gw_ref, gw_terms, f"{case} grad_weight")
    _close(gb, gout.sum((0, 2, 3)), np.abs(gout).sum((0, 2, 3)), f"{case} grad_bias")
