"""Padding layers, Upsample and PixelShuffle/Unshuffle: values against float64 NumPy and
gradients against finite differences of it, on cpu and Vulkan; against torch.nn's modules
where PyTorch is importable; bad input. The functions (F.pad, F.interpolate,
F.pixel_shuffle) are covered form by form by the op specs (specs_shape.py)."""

from __future__ import annotations

import numpy as np
import pytest
from specs_shape import _np_interp, _np_pad, _np_pixel_shuffle, _np_pixel_unshuffle

import vkgrad
import vkgrad.nn.functional as NF
from vkgrad import nn


def _fd_vjp(f, a, r, h=1e-6):
    """Central differences of sum(r * f(a)) in a."""
    g = np.zeros_like(a)
    for i in range(a.size):
        b = a.copy()
        b.reshape(-1)[i] += h
        up = np.sum(r * f(b))
        b.reshape(-1)[i] -= 2 * h
        g.reshape(-1)[i] = (up - np.sum(r * f(b))) / (2 * h)
    return g


def _check(module, x, ref, device, what):
    """module(x) vs ref(x), and the input gradient of <module(x), r> vs finite differences."""
    xt = vkgrad.tensor(x, device=device, requires_grad=True)
    y = module(xt)
    want = ref(x)
    assert y.shape == want.shape, f"{what}: shape {y.shape}, expected {want.shape}"
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-5, atol=1e-6, err_msg=what)
    r = np.random.default_rng(7).standard_normal(want.shape)
    (y * vkgrad.tensor(r, device=device)).sum().backward()
    np.testing.assert_allclose(
        xt.grad.numpy(), _fd_vjp(ref, x, r), rtol=1e-4, atol=1e-5, err_msg=what + " grad"
    )


# (module name, args, input shape, F.pad padding, F.pad mode, value)
PADS = [
    ("ZeroPad2d", (2,), (2, 3, 4, 5), (2, 2, 2, 2), "constant", 0.0),
    ("ZeroPad2d", ((1, 0, 2, 1),), (3, 4, 5), (1, 0, 2, 1), "constant", 0.0),
    ("ZeroPad1d", ((3, -1),), (2, 3, 5), (3, -1), "constant", 0.0),
    ("ConstantPad1d", ((1, 2), 3.5), (2, 3, 5), (1, 2), "constant", 3.5),
    ("ConstantPad2d", (1, -1.0), (1, 2, 3, 4), (1, 1, 1, 1), "constant", -1.0),
    (
        "ConstantPad3d",
        ((1, 0, 0, 2, 1, 1), 0.5),
        (1, 2, 2, 3, 2),
        (1, 0, 0, 2, 1, 1),
        "constant",
        0.5,
    ),
    ("ReflectionPad1d", (2,), (2, 3, 5), (2, 2), "reflect", 0.0),
    ("ReflectionPad1d", ((0, 3),), (3, 5), (0, 3), "reflect", 0.0),
    ("ReflectionPad2d", ((1, 2, 3, 0),), (2, 2, 4, 5), (1, 2, 3, 0), "reflect", 0.0),
    ("ReflectionPad2d", (1,), (3, 3, 3), (1, 1, 1, 1), "reflect", 0.0),
    ("ReplicationPad1d", ((3, 1),), (2, 3, 4), (3, 1), "replicate", 0.0),
    ("ReplicationPad2d", (2,), (2, 2, 3, 4), (2, 2, 2, 2), "replicate", 0.0),
    ("ReplicationPad2d", ((0, 1, 2, 3),), (2, 3, 3), (0, 1, 2, 3), "replicate", 0.0),
    ("CircularPad1d", ((2, 3),), (1, 2, 4), (2, 3), "circular", 0.0),
    ("CircularPad2d", (1,), (1, 2, 3, 4), (1, 1, 1, 1), "circular", 0.0),
]
PAD_IDS = [f"{p[0]}-{i}" for i, p in enumerate(PADS)]


@pytest.mark.parametrize("case", PADS, ids=PAD_IDS)
def test_padding_modules(case, device):
    name, args, shape, pads, mode, value = case
    m = getattr(nn, name)(*args)
    assert m.padding == pads
    assert list(m.state_dict()) == []
    x = np.random.default_rng(len(shape)).standard_normal(shape)
    _check(m, x, lambda a: _np_pad(a, pads, mode, value), device, name)


@pytest.mark.parametrize("case", PADS, ids=PAD_IDS)
def test_padding_modules_vs_torch(case, device):
    torch = pytest.importorskip("torch")
    name, args, shape, *_ = case
    ours, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(ours) == repr(theirs)
    assert isinstance(ours, nn.ConstantPad1d) == isinstance(theirs, torch.nn.ConstantPad1d)
    x = np.random.default_rng(1).standard_normal(shape)
    xt = vkgrad.tensor(x, device=device, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    y, ty = ours(xt), theirs(tx)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-6, atol=1e-6)
    r = np.random.default_rng(2).standard_normal(tuple(ty.shape))
    (y * vkgrad.tensor(r, device=device)).sum().backward()
    (ty * torch.tensor(r)).sum().backward()
    np.testing.assert_allclose(xt.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6)


# (Upsample kwargs, input shape, output size, the scale given to the kernel)
UPSAMPLES = [
    (dict(scale_factor=2), (2, 3, 4), (8,), (2.0,)),
    (dict(scale_factor=1.5), (1, 2, 3, 5), (4, 7), (1.5, 1.5)),
    (dict(size=(5, 3)), (1, 2, 3, 4), (5, 3), None),
    (dict(size=7, mode="nearest-exact"), (2, 2, 5), (7,), None),
    (dict(scale_factor=2, mode="bilinear"), (1, 2, 3, 4), (6, 8), (2.0, 2.0)),
    (dict(size=(5, 6), mode="bilinear", align_corners=True), (2, 1, 3, 4), (5, 6), None),
    (dict(scale_factor=(0.5, 1.7), mode="bilinear"), (1, 2, 6, 4), (3, 6), (0.5, 1.7)),
    (dict(size=9, mode="linear", align_corners=True), (2, 2, 4), (9,), None),
]


@pytest.mark.parametrize("case", UPSAMPLES, ids=[str(i) for i in range(len(UPSAMPLES))])
def test_upsample(case, device):
    kw, shape, out, scales = case
    m = nn.Upsample(**kw)
    mode = kw.get("mode", "nearest")
    x = np.random.default_rng(3).standard_normal(shape)

    def ref(a):
        return _np_interp(a, out, mode, scales, bool(kw.get("align_corners")))

    _check(m, x, ref, device, f"Upsample({kw})")


@pytest.mark.parametrize("case", UPSAMPLES, ids=[str(i) for i in range(len(UPSAMPLES))])
def test_upsample_vs_torch(case, device):
    torch = pytest.importorskip("torch")
    kw, shape, *_ = case
    ours, theirs = nn.Upsample(**kw), torch.nn.Upsample(**kw)
    assert repr(ours) == repr(theirs)
    x = np.random.default_rng(4).standard_normal(shape)
    xt = vkgrad.tensor(x, device=device, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    y, ty = ours(xt), theirs(tx)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    r = np.random.default_rng(5).standard_normal(tuple(ty.shape))
    (y * vkgrad.tensor(r, device=device)).sum().backward()
    (ty * torch.tensor(r)).sum().backward()
    np.testing.assert_allclose(xt.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_upsampling_fixed_modes(device):
    x = np.random.default_rng(6).standard_normal((1, 2, 3, 4))
    near = nn.UpsamplingNearest2d(scale_factor=2)
    bil = nn.UpsamplingBilinear2d(size=(5, 7))
    assert (near.mode, bil.mode, bil.align_corners) == ("nearest", "bilinear", True)
    _check(near, x, lambda a: _np_interp(a, (6, 8), "nearest", (2.0, 2.0)), device, "nearest2d")
    _check(bil, x, lambda a: _np_interp(a, (5, 7), "bilinear", None, True), device, "bilinear2d")


def test_upsample_nearest_integer_factor_repeats_each_pixel(device):
    x = vkgrad.arange(6.0, device=device).reshape(1, 1, 2, 3)
    y = nn.Upsample(scale_factor=2)(x).numpy()
    assert y[0, 0].tolist() == [
        [0, 0, 1, 1, 2, 2],
        [0, 0, 1, 1, 2, 2],
        [3, 3, 4, 4, 5, 5],
        [3, 3, 4, 4, 5, 5],
    ]
    # align_corners=True keeps the corner values exactly.
    z = NF.interpolate(x, size=(4, 7), mode="bilinear", align_corners=True).numpy()[0, 0]
    assert [z[0, 0], z[0, -1], z[-1, 0], z[-1, -1]] == [0.0, 2.0, 3.0, 5.0]


def test_pixel_shuffle_modules(device):
    x = np.random.default_rng(8).standard_normal((2, 18, 2, 3))
    ps, pu = nn.PixelShuffle(3), nn.PixelUnshuffle(3)
    assert repr(ps) == "PixelShuffle(upscale_factor=3)"
    assert repr(pu) == "PixelUnshuffle(downscale_factor=3)"
    _check(ps, x, lambda a: _np_pixel_shuffle(a, 3), device, "PixelShuffle")
    y = np.random.default_rng(9).standard_normal((2, 2, 6, 9))
    _check(pu, y, lambda a: _np_pixel_unshuffle(a, 3), device, "PixelUnshuffle")
    xt = vkgrad.tensor(x, device=device)
    np.testing.assert_array_equal(pu(ps(xt)).numpy(), xt.numpy())  # a permutation: exact


def test_pixel_shuffle_vs_torch(device):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(10).standard_normal((2, 3, 8, 4, 6))
    got = NF.pixel_shuffle(vkgrad.tensor(x, device=device), 2).numpy()
    want = torch.nn.functional.pixel_shuffle(torch.tensor(x), 2).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-6)
    got = NF.pixel_unshuffle(vkgrad.tensor(x, device=device), 2).numpy()
    want = torch.nn.functional.pixel_unshuffle(torch.tensor(x), 2).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_pad_interpolate_shuffle_errors():
    x = vkgrad.zeros(1, 2, 3, 4)
    with pytest.raises(ValueError, match=r"pad: the padding length must be divisible by 2, got 3"):
        NF.pad(x, (1, 1, 1))
    with pytest.raises(ValueError, match=r"pad: padding \(1, 1\) pads 1 dims"):
        NF.pad(vkgrad.zeros(()), (1, 1))
    with pytest.raises(ValueError, match=r"pad: reflect padding \(4, 0\) must be smaller than the "
                       r"size 4 of dim 2 \(input shape \(2, 3, 4\)"):  # fmt: skip
        NF.pad(x[0], (4, 0), mode="reflect")
    with pytest.raises(ValueError, match="pad: circular padding .* wrap around more than once"):
        NF.pad(x, (0, 5, 0, 0), mode="circular")
    with pytest.raises(ValueError, match=r"pad: reflect padding of 1 dims .* needs a 2-D or 3-D "
                       r"input, got shape \(1, 2, 3, 4\)"):  # fmt: skip
        NF.pad(x, (1, 1), mode="reflect")
    with pytest.raises(ValueError, match="pad: mode must be one of"):
        NF.pad(x, (1, 1), mode="wrap")
    with pytest.raises(ValueError, match='pad: padding mode "replicate" does not take a value'):
        NF.pad(x, (1, 1, 1, 1), mode="replicate", value=1.0)
    with pytest.raises(ValueError, match=r"pad: padding \(-3, -2\) of dim 3 \(size 4\) crops"):
        NF.pad(x, (-3, -2))
    with pytest.raises(ValueError, match=r"ReflectionPad2d: expected 3D or 4D input \(got 2D"):
        nn.ReflectionPad2d(1)(vkgrad.zeros(3, 4))
    with pytest.raises(ValueError, match="ConstantPad2d: padding must be an int or a 4-tuple"):
        nn.ConstantPad2d((1, 2), 0.0)
    with pytest.raises(ValueError, match="interpolate: either size or scale_factor"):
        NF.interpolate(x)
    with pytest.raises(ValueError, match="interpolate: only one of size or scale_factor"):
        NF.interpolate(x, size=3, scale_factor=2)
    with pytest.raises(ValueError, match=r"interpolate: size \(3,\) must have one entry per "
                       r"spatial dim of the input \(spatial size \(3, 4\)\)"):  # fmt: skip
        NF.interpolate(x, size=(3,))
    with pytest.raises(ValueError, match="interpolate: align_corners can only be set"):
        NF.interpolate(x, size=3, align_corners=True)
    with pytest.raises(ValueError, match=r"interpolate: mode 'bilinear' needs a 4-D .* got "
                       r"shape \(1, 2, 3\)"):  # fmt: skip
        NF.interpolate(vkgrad.zeros(1, 2, 3), size=5, mode="bilinear")
    with pytest.raises(NotImplementedError, match="interpolate: mode 'bicubic' is not supported"):
        NF.interpolate(x, size=5, mode="bicubic")
    with pytest.raises(ValueError, match="interpolate: input and output sizes must be greater"):
        NF.interpolate(x, scale_factor=0.2)
    with pytest.raises(ValueError, match=r"pixel_shuffle: the channel dim \(size 2\) of input "
                       r"\(1, 2, 3, 4\) must be divisible by upscale_factor\^2 = 4"):  # fmt: skip
        nn.PixelShuffle(2)(x)
    with pytest.raises(ValueError, match=r"pixel_unshuffle: the height 3 and width 4 of input"):
        NF.pixel_unshuffle(x, 2)
    with pytest.raises(ValueError, match=r"pixel_shuffle: expected an input of at least 3 dims"):
        NF.pixel_shuffle(vkgrad.zeros(4, 4), 2)
