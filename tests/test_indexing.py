"""Indexing family beyond the op specs: large inputs (many workgroups), atomic contention,
padding_idx, setitem semantics, out-of-range indices and bad-input errors."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import vulkan_param

import vkgrad
import vkgrad.nn.functional as NF

LARGE = ["cpu", vulkan_param("vulkan", id="vulkan")]


def _rng(seed):
    return np.random.default_rng(seed)


def _t(a, dev, dt="f32", **kw):
    return vkgrad.tensor(a, dtype=dt, device=dev, **kw)


def _ix(a, dev):
    return vkgrad.tensor(np.asarray(a, np.int32), device=dev)


# ---------------------------------------------------------------- large (>= 1e5 elements)


@pytest.mark.parametrize("dev", LARGE)
def test_large_gather_and_backward(dev):
    rng = _rng(1)
    a = rng.uniform(-1, 1, (331, 317))
    i = rng.integers(0, 317, (331, 401)).astype(np.int32)  # 132731 outputs, many repeats
    x = _t(a, dev, requires_grad=True)
    y = vkgrad.gather(x, 1, _ix(i, dev))
    a32 = a.astype(np.float32).astype(np.float64)
    np.testing.assert_array_equal(y.numpy(), np.take_along_axis(a32, i, 1).astype(np.float32))
    g = rng.uniform(-1, 1, i.shape)
    y.backward(_t(g, dev))
    ref = np.zeros(a.shape)
    np.add.at(ref, (np.arange(331)[:, None], i), g.astype(np.float32))
    # f32 atomics add in an arbitrary order: error bounded by the terms' magnitudes.
    bound = 1e-6 * (np.abs(ref) + 2 * 401 / 317) + 1e-6
    assert np.all(np.abs(x.grad.numpy() - ref) <= bound)


@pytest.mark.parametrize("dev", LARGE)
def test_large_index_select_and_index_add(dev):
    rng = _rng(2)
    a = rng.uniform(-1, 1, (1001, 129)).astype(np.float32)
    i = rng.integers(0, 1001, 997).astype(np.int32)  # 128613 outputs
    x = _t(a, dev, requires_grad=True)
    y = x.index_select(0, _ix(i, dev))
    np.testing.assert_array_equal(y.numpy(), a[i])
    s = rng.uniform(-1, 1, (997, 129)).astype(np.float32)
    out = vkgrad.index_add(_t(a, dev), 0, _ix(i, dev), _t(s, dev), alpha=0.5)
    ref = a.astype(np.float64).copy()
    np.add.at(ref, i, 0.5 * s.astype(np.float64))
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dev", LARGE)
@pytest.mark.parametrize("dt", ["f32", "f16"])
def test_large_scatter_add_contention(dev, dt):
    # 100003 values into 7 slots: thousands of threads race on each word (f16: two halves
    # share a word, so neighbours race too); every add must land.
    rng = _rng(3)
    n = 100_003
    i = rng.integers(0, 7, n).astype(np.int32)
    ones = vkgrad.ones(n, dtype=dt, device=dev)
    out = vkgrad.scatter_add(vkgrad.zeros(7, dtype=dt, device=dev), 0, _ix(i, dev), ones)
    counts = np.bincount(i, minlength=7)
    if dt == "f32":
        np.testing.assert_array_equal(out.numpy(), counts)
    elif dev == "cpu":
        # The NumPy backend adds in f32 and rounds once.
        np.testing.assert_array_equal(out.numpy(), counts.astype(np.float16))
    else:
        # Device atomics add in f16, which stops counting at 2048 (2048 + 1 rounds to 2048),
        # as half-precision atomics do elsewhere: the sum saturates there.
        assert np.all(out.numpy() == 2048.0)
        small = vkgrad.scatter_add(
            vkgrad.zeros(8, dtype=dt, device=dev),
            0,
            _ix(i[:1000] + 1, dev),
            vkgrad.ones(1000, dtype=dt, device=dev),
        )
        np.testing.assert_array_equal(small.numpy(), np.bincount(i[:1000] + 1, minlength=8))


@pytest.mark.parametrize("dev", LARGE)
def test_large_scatter_and_masked(dev):
    rng = _rng(4)
    a = rng.uniform(-1, 1, 200_003).astype(np.float32)
    perm = rng.permutation(200_003)[:100_001].astype(np.int32)
    s = rng.uniform(-1, 1, 100_001).astype(np.float32)
    out = vkgrad.scatter(_t(a, dev), 0, _ix(perm, dev), _t(s, dev))
    ref = a.copy()
    ref[perm] = s
    np.testing.assert_array_equal(out.numpy(), ref)
    m = a > 0
    x = _t(a, dev)
    np.testing.assert_array_equal(vkgrad.masked_select(x, _t(m, dev, "bool")).numpy(), a[m])
    np.testing.assert_array_equal(x[_t(m, dev, "bool")].numpy(), a[m])
    np.testing.assert_array_equal(
        vkgrad.masked_fill(x, _t(m, dev, "bool"), 3.0).numpy(), np.where(m, 3.0, a)
    )


@pytest.mark.parametrize("dev", LARGE)
def test_large_embedding_one_hot(dev):
    rng = _rng(5)
    w = rng.uniform(-1, 1, (513, 64)).astype(np.float32)
    i = rng.integers(0, 513, (40, 50)).astype(np.int32)  # 128000 outputs
    x = _t(w, dev, requires_grad=True)
    y = NF.embedding(_ix(i, dev), x)
    np.testing.assert_array_equal(y.numpy(), w[i])
    y.sum().backward()
    counts = np.bincount(i.ravel(), minlength=513).astype(np.float32)
    np.testing.assert_array_equal(x.grad.numpy(), np.repeat(counts[:, None], 64, 1))
    t = rng.integers(0, 10, 20_011).astype(np.int32)
    oh = NF.one_hot(_ix(t, dev), 10)
    assert oh.dtype is vkgrad.int32
    np.testing.assert_array_equal(oh.numpy(), np.eye(10, dtype=np.int32)[t])


@pytest.mark.parametrize("dev", LARGE)
def test_large_getitem_setitem(dev):
    rng = _rng(6)
    a = rng.uniform(-1, 1, (317, 331)).astype(np.float32)
    i = rng.integers(-317, 317, (500,)).astype(np.int32)
    j = rng.integers(0, 331, (500,)).astype(np.int32)
    x = _t(a, dev, requires_grad=True)
    y = x[_ix(i, dev), _ix(j, dev)]
    np.testing.assert_array_equal(y.numpy(), a[i, j])
    y.sum().backward()
    ref = np.zeros(a.shape)
    np.add.at(ref, (i, j), 1.0)
    np.testing.assert_array_equal(x.grad.numpy(), ref)
    b = a.copy()
    z = _t(a, dev)
    z[:, _ix(j[:7], dev)] = 0.5
    b[:, j[:7]] = 0.5
    np.testing.assert_array_equal(z.numpy(), b)


# ---------------------------------------------------------------- semantics


def test_embedding_padding_idx_gets_no_gradient(device):
    w = _t(np.arange(12.0).reshape(4, 3), device, requires_grad=True)
    i = _ix([[1, 2], [2, 3]], device)
    y = NF.embedding(i, w, padding_idx=-2)  # row 2
    np.testing.assert_array_equal(y.numpy()[0, 1], [6.0, 7.0, 8.0])  # forward reads it
    (y * y).sum().backward()
    g = w.grad.numpy()
    np.testing.assert_array_equal(g[2], 0.0)
    np.testing.assert_array_equal(g[1], 2 * np.array([3.0, 4.0, 5.0]))
    np.testing.assert_array_equal(g[0], 0.0)


def test_getitem_backward_accumulates_repeats(device):
    x = _t(np.arange(5.0), device, requires_grad=True)
    x[[1, 1, -1, 1]].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 3, 0, 0, 1])


def test_setitem_in_place_and_version(device):
    x = _t(np.zeros((3, 4)), device)
    v0 = x._version[0]
    x[_ix([0, 2], device), 1:3] = _t([[1.0, 2.0]], device)
    x[x > 1.5] = -1.0
    x[1] = 5.0
    assert x._version[0] == v0 + 3
    np.testing.assert_array_equal(x.numpy(), [[0, 1, -1, 0], [5, 5, 5, 5], [0, 1, -1, 0]])


def test_setitem_shares_reshape_views(device):
    x = _t(np.zeros(6), device)
    v = x.view(2, 3)
    v[:, [0]] = 1.0
    np.testing.assert_array_equal(x.numpy(), [1, 0, 0, 1, 0, 0])


def test_setitem_no_grad_on_leaf(device):
    w = _t(np.zeros(4), device, requires_grad=True)
    with vkgrad.no_grad():
        w[[0, 3]] = 2.0
    np.testing.assert_array_equal(w.numpy(), [2, 0, 0, 2])


def test_setitem_under_grad_is_an_error(device):
    w = _t(np.zeros(4), device, requires_grad=True)
    with pytest.raises(RuntimeError, match="setitem: .*requires grad"):
        w[[0]] = 1.0
    x = _t(np.zeros(4), device)
    with pytest.raises(RuntimeError, match="setitem"):
        x[1:] = w[1:]
    with pytest.raises(RuntimeError, match="setitem: shape mismatch"):
        x[[0, 1]] = _t([1.0, 2.0, 3.0], device)


def test_int32_values_stay_exact(device):
    big = np.array([2**24 + 1, 2**30 + 3, -(2**29) - 5, 7], np.int32)
    x = _ix(big, device)
    np.testing.assert_array_equal(
        vkgrad.index_select(x, 0, _ix([3, 1, 2], device)).numpy(), big[[3, 1, 2]]
    )
    np.testing.assert_array_equal(x[[1, 0]].numpy(), big[[1, 0]])
    x[[2]] = _ix([2**30 + 9], device)
    assert x.numpy()[2] == 2**30 + 9


def _bad_index_calls(dev):
    """(call, expected message) for each index row given one out-of-range value."""
    x = _t(np.zeros((3, 4)), dev)
    logits = _t(np.zeros((2, 4)), dev)
    return [
        (lambda: vkgrad.index_select(x, 1, _ix([4], dev)), "index_select: index 4 is out of "
         "bounds for dimension 1 with size 4"),
        (lambda: vkgrad.gather(x, 0, _ix([[3]], dev)), "gather: index 3 is out of bounds for "
         "dimension 0 with size 3"),
        (lambda: vkgrad.scatter_add(x, 0, _ix([[-1]], dev), x), "scatter_add: index -1 is out "
         "of bounds for dimension 0 with size 3"),
        (lambda: vkgrad.index_add(x, 0, _ix([5], dev), x[:1]), "index_add: index 5 is out of "
         "bounds for dimension 0 with size 3"),
        (lambda: x.scatter_(1, _ix([[0, 9]], dev), 1.0), "scatter: index 9 is out of bounds "
         "for dimension 1 with size 4"),
        (lambda: NF.embedding(_ix([0, 3], dev), x), "embedding: index 3 is out of bounds for "
         "dimension 0 with size 3"),
        (lambda: NF.one_hot(_ix([0, 3], dev), 3), "one_hot: class value 3 is out of range "
         r"\[0, 3\)"),
        (lambda: x[[0, 3]], "indexing: index 3 is out of bounds for dimension 0 with size 3"),
        (lambda: x[:, [-5]], "indexing: index -5 is out of bounds for dimension 1 with size 4"),
        (lambda: NF.cross_entropy(logits, _ix([0, 4], dev)), "cross_entropy: target class "
         r"index 4 out of range \[0, 4\)"),
        (lambda: NF.nll_loss(logits, _ix([-100, 7], dev)), "nll_loss: target class index 7 "
         r"out of range \[0, 4\)"),
    ]  # fmt: skip


def test_out_of_range_indices_raise_named(device):
    # Indices made from host data are checked on both backends, before anything runs: on
    # Vulkan against their uploaded value range, so no sync is needed.
    for call, message in _bad_index_calls(device):
        with pytest.raises(IndexError, match=message):
            call()
    # Nothing was written: the in-place scatter_ left its target as it was.
    x = _t(np.arange(4.0), device)
    with pytest.raises(IndexError, match="scatter: index 4"):
        x.scatter_(0, _ix([1, 4], device), 7.0)
    np.testing.assert_array_equal(x.numpy(), np.arange(4.0))
    # ignore_index is not out of range.
    logits = _t(np.zeros((2, 4)), device)
    loss = NF.nll_loss(logits, _ix([-100, 1], device), reduction="sum")
    assert loss.item() == 0.0


@pytest.mark.parametrize("dev", [vulkan_param("vulkan", id="vulkan")])
def test_out_of_range_device_made_indices_are_skipped_on_vulkan(dev):
    # Indices computed on the device have no known range and reading them would cost a
    # sync: the kernels skip bad ones (reads give 0, writes are dropped).
    x = _t(np.arange(4.0) + 1, dev)
    made = _ix([1, 9, -1], dev) * 1
    np.testing.assert_array_equal(vkgrad.index_select(x, 0, made).numpy(), [2, 0, 0])
    out = vkgrad.scatter_add(x, 0, _ix([0, 7], dev) + 0, _t([10.0, 10.0], dev))
    np.testing.assert_array_equal(out.numpy(), [11, 2, 3, 4])
    hot = NF.one_hot(_ix([1, 5], dev) * 1, 3)
    np.testing.assert_array_equal(hot.numpy(), [[0, 1, 0], [0, 0, 0]])
    # A kernel that writes an uploaded index tensor makes its range unknown: the stale
    # range [9, 9] must not raise once the values are fixed in place.
    idx = _ix([9], dev)
    idx.fill_(2)
    assert vkgrad.index_select(x, 0, idx).numpy().tolist() == [3.0]


# ---------------------------------------------------------------- bad input


def test_errors_name_the_op(device):
    x = _t(np.zeros((3, 4)), device)
    fi = _t([0.0, 1.0], device)
    with pytest.raises(TypeError, match="index_select: index must be an int32 tensor, got dtype"):
        vkgrad.index_select(x, 0, fi)
    with pytest.raises(TypeError, match="gather: index must be an int32 tensor"):
        vkgrad.gather(x, 0, [[0]])
    with pytest.raises(IndexError, match="getitem: tensors used as indices must be int32 or bool"):
        x[fi]
    with pytest.raises(ValueError, match=r"gather: index must have as many dims as input"):
        vkgrad.gather(x, 0, _ix([0], device))
    with pytest.raises(ValueError, match=r"gather: index size 5 exceeds input size 4 at dim 1"):
        vkgrad.gather(x, 0, _ix(np.zeros((1, 5)), device))
    with pytest.raises(ValueError, match=r"index_add: source shape \(2, 4\) does not match"):
        vkgrad.index_add(x, 0, _ix([0], device), _t(np.zeros((2, 4)), device))
    with pytest.raises(TypeError, match="scatter_add: src dtype .*float16 must match"):
        vkgrad.scatter_add(x, 0, _ix([[0]], device), _t([[1.0]], device, "f16"))
    with pytest.raises(TypeError, match="masked_fill: mask must be a bool tensor"):
        vkgrad.masked_fill(x, _ix([1, 0, 1, 0], device), 0.0)
    with pytest.raises(ValueError, match=r"masked_fill: shapes \(3, 4\) and \(2, 4\) cannot"):
        vkgrad.masked_fill(x, _t(np.zeros((2, 4), bool), device, "bool"), 0.0)
    with pytest.raises(ValueError, match=r"masked_fill: mask of shape \(2, 3, 4\) does not"):
        vkgrad.masked_fill(x, _t(np.zeros((2, 3, 4), bool), device, "bool"), 0.0)
    with pytest.raises(IndexError, match=r"getitem: the shape of the mask \(4,\) does not match"):
        x[_t(np.zeros(4, bool), device, "bool")]
    with pytest.raises(IndexError, match="getitem: too many indices"):
        x[[0], [0], [0]]
    with pytest.raises(IndexError, match="index_select: dimension out of range"):
        vkgrad.index_select(x, 2, _ix([0], device))
    with pytest.raises(ValueError, match="embedding: padding_idx 7 must be within"):
        NF.embedding(_ix([0], device), x, padding_idx=7)


def test_inplace_methods(device):
    x = _t(np.zeros((2, 3)), device)
    v0 = x._version[0]
    x.scatter_(1, _ix([[2], [0]], device), 1.5)
    x.scatter_add_(0, _ix([[1, 1, 1]], device), _t([[1.0, 2.0, 3.0]], device))
    x.index_add_(1, _ix([0, 0], device), _t(np.ones((2, 2)), device), alpha=-1)
    x.masked_fill_(_t([True, False, False], device, "bool"), 9.0)
    assert x._version[0] == v0 + 4
    np.testing.assert_array_equal(x.numpy(), [[9, 0, 1.5], [9, 2, 3]])


def test_inplace_methods_under_autograd(device):
    # On a non-leaf, in-place ops record their backward like their out-of-place forms.
    w = _t(np.arange(6.0).reshape(2, 3), device, requires_grad=True)
    s = _t(np.ones((1, 3)), device, requires_grad=True)
    y = w * 2.0
    y.scatter_add_(0, _ix([[1, 0, 1]], device), s)
    y.masked_fill_(_t([False, True, False], device, "bool"), 0.0)
    y.scatter_(0, _ix([[0, 0, 0]], device), 5.0)
    (y * y).sum().backward()
    yv = y.numpy()
    np.testing.assert_array_equal(yv, [[5, 5, 5], [7, 0, 11]])
    np.testing.assert_array_equal(w.grad.numpy(), [[0, 0, 0], [4 * 7, 0, 4 * 11]])
    np.testing.assert_array_equal(s.grad.numpy(), [[2 * 7, 0, 2 * 11]])


def test_setitem_list_value_and_int_tensor(device):
    x = _ix(np.zeros((2, 3)), device)
    x[1] = [4, 5, 6]
    x[0, [True, False, True]] = 7
    np.testing.assert_array_equal(x.numpy(), [[7, 0, 7], [4, 5, 6]])
    assert x.dtype is vkgrad.int32
