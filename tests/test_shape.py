"""Shape ops beyond the specs: large inputs (many workgroups) per kernel, cpu vs Vulkan vs a
float64 NumPy reference, f16 packing at odd offsets, grid-stride loops, graph structure and the
errors."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import vulkan_param

import vkgrad
from vkgrad import autograd

LARGE = ["cpu", vulkan_param("vulkan", id="vulkan")]


def _big(shape, seed):
    return np.random.default_rng(seed).uniform(-1, 1, shape)


def _t(a, dev, dt="f32", grad=False):
    return vkgrad.tensor(a, dtype=dt, device=dev, requires_grad=grad)


def _check(fn, ref_fn, arrays, dev, dt="f32"):
    """fn on vkgrad tensors vs ref_fn on the inputs rounded to dt: exact, since these ops only
    move data. Returns the leaves and the output for backward checks."""
    xs = [_t(a, dev, dt, grad=True) for a in arrays]
    out = fn(*xs)
    ref = ref_fn(*[a.astype(dtype_np(dt)).astype(np.float64) for a in arrays])
    np.testing.assert_array_equal(out.numpy().astype(np.float64), ref.astype(dtype_np(dt)))
    return xs, out


def dtype_np(dt):
    return {"f32": np.float32, "f16": np.float16}[dt]


# ---------------------------------------------------------------- large inputs, per kernel


@pytest.mark.parametrize("dev", LARGE)
@pytest.mark.parametrize("dt", ["f32", "f16"])
def test_large_cat_and_split(dev, dt):
    # Odd sizes: in f16 the inputs' slots start in the middle of a packed word.
    arrays = [_big((n, 333), i) for i, n in enumerate((101, 1, 207))]
    xs, out = _check(lambda *t: vkgrad.cat(t, 0), lambda *a: np.concatenate(a, 0), arrays, dev, dt)
    ys, out1 = _check(
        lambda *t: vkgrad.cat(t, 1),
        lambda *a: np.concatenate(a, 1),
        [a.T.copy() for a in arrays],
        dev,
        dt,
    )
    g = _big(out.shape, 9)
    out.backward(_t(g, dev, dt))
    gr = g.astype(dtype_np(dt))
    np.testing.assert_array_equal(xs[0].grad.numpy(), gr[:101])
    np.testing.assert_array_equal(xs[1].grad.numpy(), gr[101:102])
    np.testing.assert_array_equal(xs[2].grad.numpy(), gr[102:])
    # split of the large output: one node whose backward is one cat
    pieces = vkgrad.split(out1, [50, 1, 258], dim=1)
    np.testing.assert_array_equal(pieces[2].numpy(), out1.numpy()[:, 51:])
    (pieces[0].sum() + (pieces[2] * 2.0).sum()).backward()
    want = np.zeros((333, 309), np.float32)
    want[:, :50], want[:, 51:] = 1.0, 2.0
    np.testing.assert_array_equal(ys[0].grad.numpy(), want[:, :101])
    np.testing.assert_array_equal(ys[1].grad.numpy(), want[:, 101:102])
    np.testing.assert_array_equal(ys[2].grad.numpy(), want[:, 102:])


@pytest.mark.parametrize("dev", LARGE)
@pytest.mark.parametrize("dt", ["f32", "f16"])
def test_large_flip_roll(dev, dt):
    a = _big((317, 331), 1)
    xs, out = _check(lambda t: t.flip(0, 1), lambda a: a[::-1, ::-1], [a], dev, dt)
    _check(lambda t: t.roll((5, -77), (0, 1)), lambda a: np.roll(a, (5, -77), (0, 1)), [a], dev, dt)
    _check(lambda t: t.roll(12345), lambda a: np.roll(a, 12345), [a], dev, dt)


@pytest.mark.parametrize("dev", LARGE)
def test_large_tril_triu_diag(dev):
    a = _big((3, 211, 173), 2)
    _check(lambda t: t.tril(-3), lambda a: np.tril(a, -3), [a], dev)
    _check(lambda t: t.triu(7), lambda a: np.triu(a, 7), [a], dev)
    _check(lambda t: t.diagonal(1, 1, 2), lambda a: np.diagonal(a, 1, 1, 2), [a], dev)
    v = _big((401,), 3)
    xs, out = _check(lambda t: vkgrad.diag(t, -2), lambda v: np.diag(v, -2), [v], dev)
    g = _big(out.shape, 4)
    out.backward(_t(g, dev))
    np.testing.assert_array_equal(xs[0].grad.numpy(), np.diag(g, -2).astype(np.float32))


@pytest.mark.parametrize("dev", LARGE)
def test_large_repeat_interleave(dev):
    a = _big((3001, 37), 5)
    reps = np.random.default_rng(6).integers(0, 5, 3001).astype(np.int32)
    x = _t(a, dev, grad=True)
    out = vkgrad.repeat_interleave(x, vkgrad.tensor(reps, device=dev), dim=0)
    ref = np.repeat(a.astype(np.float32), reps, axis=0)
    assert out.shape[0] * 37 >= 100_000
    np.testing.assert_array_equal(out.numpy(), ref)
    g = _big(out.shape, 7)
    out.backward(_t(g, dev))
    want = np.zeros((3001, 37))
    np.add.at(want, np.repeat(np.arange(3001), reps), g.astype(np.float32).astype(np.float64))
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dev", LARGE)
def test_large_repeat_tile(dev):
    a = _big((129, 257), 8)
    x = _t(a, dev, grad=True)
    out = x.repeat(2, 1, 3)
    np.testing.assert_array_equal(out.numpy(), np.tile(a.astype(np.float32), (2, 1, 3)))
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(a.shape, 6.0, np.float32))
    np.testing.assert_array_equal(
        vkgrad.tile(x, (3,)).detach().numpy(), np.tile(a.astype(np.float32), 3)
    )


@pytest.mark.vulkan
def test_grid_stride_loops():
    """Few workgroups: every element is still written (the kernels loop)."""
    from conftest import vulkan_skip_reason

    if vulkan_skip_reason():
        pytest.skip(vulkan_skip_reason())
    a = _big((67, 45), 10)
    x = _t(a, "vulkan", "f16")
    be = x._device.backend
    old = be.max_groups
    try:
        be.max_groups = 2
        ar = a.astype(np.float16)
        np.testing.assert_array_equal(vkgrad.cat([x, x], 1).numpy(), np.concatenate([ar, ar], 1))
        np.testing.assert_array_equal(x.roll(3, 1).numpy(), np.roll(ar, 3, 1))
        np.testing.assert_array_equal(x.tril().numpy(), np.tril(ar))
        np.testing.assert_array_equal(x.flip(1).numpy(), ar[:, ::-1])
    finally:
        be.max_groups = old


# ---------------------------------------------------------------- dtypes, graph, PyTorch details


def test_cat_dtypes(device):
    a = vkgrad.tensor([1.0, 2.0], dtype="f16", device=device)
    b = vkgrad.tensor([3.0], dtype="f32", device=device)
    out = vkgrad.cat([a, b])
    assert out.dtype is vkgrad.float32
    np.testing.assert_array_equal(out.numpy(), [1, 2, 3])
    i = vkgrad.tensor(np.array([4, -5], np.int32), device=device)
    out = vkgrad.cat([i, i])
    assert out.dtype is vkgrad.int32
    np.testing.assert_array_equal(out.numpy(), [4, -5, 4, -5])
    np.testing.assert_array_equal(i.flip(0).numpy(), [-5, 4])


def test_split_is_one_node(device):
    x = vkgrad.ones(6, 2, device=device, requires_grad=True)
    a, b, c = x.chunk(3)
    assert a.grad_fn is b.grad_fn is c.grad_fn
    assert a.grad_fn.name() == "SplitBackward0"
    assert x.unbind(1)[0].grad_fn.name() == "UnbindBackward0"
    assert [p.shape for p in vkgrad.chunk(vkgrad.ones(6), 4)] == [(2,), (2,), (2,)]
    assert [p.shape for p in vkgrad.split(vkgrad.ones(5), 2)] == [(2,), (2,), (1,)]
    # Double backward through split: the backward is a recorded cat.
    (gx,) = autograd.grad((b * b).sum(), x, create_graph=True)
    (ggx,) = autograd.grad(gx.sum(), x)
    want = np.zeros((6, 2))
    want[2:4] = 2.0
    np.testing.assert_array_equal(ggx.numpy(), want)


def test_unchanged_results_are_the_input(device):
    x = vkgrad.ones(3, 1, device=device)
    assert vkgrad.split(x, 5)[0] is x
    assert x.flip(1) is x
    assert x.roll(3, 0) is x
    assert x.narrow(0, 0, 3) is x


# ---------------------------------------------------------------- errors name the op and shapes


def test_cat_errors(device):
    a, b = vkgrad.ones(2, 3, device=device), vkgrad.ones(2, 4, device=device)
    with pytest.raises(
        ValueError, match=r"cat: sizes .* except in dimension 0.*\(2, 3\).*\(2, 4\)"
    ):
        vkgrad.cat([a, b])
    with pytest.raises(ValueError, match=r"cat: .*same number of dimensions.*\(2, 3\).*\(3,\)"):
        vkgrad.cat([a, vkgrad.ones(3, device=device)])
    with pytest.raises(IndexError, match=r"cat: dimension out of range.*\[-2, 1\], got 2"):
        vkgrad.cat([a, a], 2)
    with pytest.raises(ValueError, match="cat: expected a non-empty list"):
        vkgrad.cat([])
    with pytest.raises(TypeError, match="cat: expected a sequence of tensors"):
        vkgrad.cat(a)
    with pytest.raises(ValueError, match="zero-dimensional"):
        vkgrad.cat([vkgrad.tensor(1.0, device=device)] * 2)
    with pytest.raises(ValueError, match=r"stack: .*\(2, 3\) at entry 0 and \(2, 4\) at entry 1"):
        vkgrad.stack([a, b])


def test_split_errors(device):
    x = vkgrad.ones(6, 2, device=device)
    with pytest.raises(
        ValueError, match=r"split: split_sizes \[2, 3\] .* sum exactly to 6.*\(6, 2\)"
    ):
        x.split([2, 3])
    with pytest.raises(ValueError, match=r"split: split_size must be positive, got 0"):
        x.split(0)
    with pytest.raises(IndexError, match=r"split: dimension out of range"):
        x.split(2, dim=2)
    with pytest.raises(ValueError, match=r"chunk: chunks must be greater than 0"):
        x.chunk(0)


def test_view_op_errors(device):
    x = vkgrad.ones(3, 4, device=device)
    with pytest.raises(ValueError, match=r"narrow: start \(2\) \+ length \(3\) exceeds .*\(3, 4\)"):
        x.narrow(0, 2, 3)
    with pytest.raises(IndexError, match=r"narrow: start \(-5\) out of range"):
        x.narrow(1, -5, 1)
    with pytest.raises(IndexError, match=r"select: index 3 out of range .*\(3, 4\) at dimension 0"):
        x.select(0, 3)
    with pytest.raises(ValueError, match=r"unflatten: .*\(2, 3\).*dim 1 \(4\)"):
        x.unflatten(1, (2, 3))
    with pytest.raises(ValueError, match=r"repeat: number of repeat dims \(1\).*\(3, 4\)"):
        x.repeat(2)
    with pytest.raises(ValueError, match=r"roll: shifts and dimensions must align"):
        x.roll((1, 2), 0)
    with pytest.raises(RuntimeError, match=r"flip: dims .* multiple times"):
        x.flip(0, -2)
    with pytest.raises(
        ValueError, match=r"diag: expected a 1-D or 2-D input, got shape \(1, 3, 4\)"
    ):
        vkgrad.diag(x.unsqueeze(0))
    with pytest.raises(ValueError, match=r"tril: input must be at least 2-d, got shape \(4,\)"):
        x[0].tril()
    with pytest.raises(ValueError, match=r"diagonal: dim1 and dim2 cannot be the same"):
        x.diagonal(0, 1, -1)
    r = vkgrad.tensor(np.array([1, 2], np.int32), device=device)
    with pytest.raises(ValueError, match=r"repeat_interleave: repeats must have 3 elements.*got 2"):
        x.repeat_interleave(r, dim=0)


def test_getitem_rejects_like_pytorch(device):
    x = vkgrad.ones(5, 4, device=device)
    with pytest.raises(ValueError, match=r"step must be greater than zero"):
        x[::-1]
    with pytest.raises(ValueError, match=r"step must be greater than zero"):
        x[:, 3:0:-1]
    with pytest.raises(IndexError, match=r"single ellipsis"):
        x[..., 0, ...]
    with pytest.raises(IndexError, match=r"index -6 is out of bounds for dimension 0 with size 5"):
        x[-6]
    with pytest.raises(IndexError, match=r"too many indices"):
        x[None, 0, 0, 0]
    with pytest.raises(TypeError, match=r"getitem: a False index"):
        x[False]
