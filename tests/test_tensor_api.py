"""Tensor creation, attributes, repr, conversions across devices and dtypes, comparisons."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import vulkan_param

import vkgrad


def test_tensor_from_data(device):
    t = vkgrad.tensor([[1.0, 2.0], [3.0, 4.0]], device=device)
    assert t.shape == (2, 2) and t.dtype is vkgrad.float32 and t.device == device
    np.testing.assert_array_equal(t.numpy(), [[1, 2], [3, 4]])
    assert vkgrad.tensor([1, 2]).dtype is vkgrad.int32
    assert vkgrad.tensor([True, False]).dtype is vkgrad.bool_
    assert vkgrad.tensor(2.5, device=device).shape == ()
    assert vkgrad.tensor(np.arange(3.0), dtype="f16", device=device).dtype is vkgrad.float16


def test_creation_functions(device):
    np.testing.assert_array_equal(vkgrad.zeros(2, 3, device=device).numpy(), np.zeros((2, 3)))
    np.testing.assert_array_equal(vkgrad.ones((3,), device=device).numpy(), np.ones(3))
    np.testing.assert_array_equal(vkgrad.full((2,), 7.5, device=device).numpy(), [7.5, 7.5])
    np.testing.assert_array_equal(vkgrad.arange(5, device=device).numpy(), np.arange(5))
    np.testing.assert_allclose(
        vkgrad.arange(0.0, 1.0, 0.25, device=device).numpy(), [0, 0.25, 0.5, 0.75]
    )
    np.testing.assert_array_equal(vkgrad.eye(3, device=device).numpy(), np.eye(3))
    np.testing.assert_array_equal(vkgrad.eye(2, 3, device=device).numpy(), np.eye(2, 3))
    x = vkgrad.tensor([[1.0, 2.0]], dtype="f16", device=device)
    z, o = vkgrad.zeros_like(x), vkgrad.ones_like(x)
    assert z.shape == o.shape == (1, 2) and z.dtype is o.dtype is vkgrad.float16
    assert z.device == o.device == x.device
    np.testing.assert_array_equal(z.numpy(), [[0, 0]])
    np.testing.assert_array_equal(o.numpy(), [[1, 1]])
    vkgrad.manual_seed(0)  # statistical bounds below: keep them deterministic
    r = vkgrad.rand(1000, device=device).numpy()
    assert r.shape == (1000,) and r.min() >= 0 and r.max() < 1 and 0.4 < r.mean() < 0.6
    n = vkgrad.randn(2000, device=device).numpy()
    assert abs(n.mean()) < 0.1 and 0.9 < n.std() < 1.1
    w = vkgrad.zeros(2, requires_grad=True, device=device)
    assert w.requires_grad and w.is_leaf


def test_from_numpy_copies_and_keeps_dtype():
    a = np.array([1.0, 2.0], dtype=np.float64)
    t = vkgrad.from_numpy(a)
    assert t.dtype is vkgrad.float64
    a[0] = 99
    assert t.tolist() == [1.0, 2.0]
    assert vkgrad.from_numpy(np.zeros(2, np.float16)).dtype is vkgrad.float16
    assert vkgrad.from_numpy(np.zeros(2, np.int64)).dtype is vkgrad.int32


def test_manual_seed_reproducible():
    vkgrad.manual_seed(123)
    a, b = vkgrad.rand(5).numpy(), vkgrad.randn(3).numpy()
    vkgrad.manual_seed(123)
    np.testing.assert_array_equal(vkgrad.rand(5).numpy(), a)
    np.testing.assert_array_equal(vkgrad.randn(3).numpy(), b)
    vkgrad.manual_seed(124)
    assert not np.array_equal(vkgrad.rand(5).numpy(), a)


def test_attributes(device):
    t = vkgrad.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], device=device)
    assert t.shape == (2, 3) and t.ndim == 2 and t.numel() == 6 and len(t) == 2
    assert t.size() == (2, 3) and t.size(1) == 3
    assert t.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    n = t.numpy()
    assert isinstance(n, np.ndarray) and n.dtype == np.float32
    n[0, 0] = 42  # a copy: the tensor does not change
    assert t.tolist()[0][0] == 1.0
    s = t.sum()
    assert s.item() == 21.0 and isinstance(s.item(), float)
    with pytest.raises(RuntimeError, match="6 elements"):
        t.item()
    assert vkgrad.tensor([3], device=device).item() == 3


def test_repr(device):
    r = repr(vkgrad.tensor([1.5, -2.25], device=device))
    assert "1.5" in r and "-2.25" in r and r.startswith("tensor(")
    assert ("device=" in r) == (device != "cpu")
    assert "dtype" not in r  # f32 is the default: not shown
    r16 = repr(vkgrad.tensor([1.0], dtype="f16", device=device))
    assert "dtype=vkgrad.float16" in r16
    x = vkgrad.tensor([1.0], requires_grad=True, device=device)
    assert "requires_grad=True" in repr(x)
    assert "grad_fn=<MulBackward0>" in repr(x * 2)


@pytest.mark.parametrize("dev", [vulkan_param("vulkan", id="vulkan")])
def test_to_device_round_trip_with_gradient(dev):
    x = vkgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    xv = x.to("vulkan")
    assert xv.device == "vulkan" and xv.device.type == "vulkan" and xv.requires_grad
    y = (xv * xv).to("cpu")
    assert y.device == "cpu"
    np.testing.assert_array_equal(y.numpy(), [1.0, 4.0, 9.0])
    (y * vkgrad.tensor([1.0, 10.0, 100.0])).sum().backward()
    assert x.grad.device == "cpu"
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 40.0, 600.0])
    # And the other way: a Vulkan leaf, computed on the CPU.
    w = vkgrad.tensor([0.5, -1.0], requires_grad=True, device="vulkan")
    (w.cpu() * 3).sum().backward()
    assert w.grad.device == "vulkan"
    np.testing.assert_allclose(w.grad.numpy(), [3.0, 3.0])


def test_to_dtype_with_backward(device):
    x = vkgrad.tensor([1.0, 2.0], requires_grad=True, device=device)
    h = x.to(vkgrad.float16)
    assert h.dtype is vkgrad.float16 and h.requires_grad
    (h * h).sum().backward()
    assert x.grad.dtype is vkgrad.float32
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])
    assert x.to("f32") is x  # no-op conversion returns self
    assert x.half().dtype is vkgrad.float16 and x.float().dtype is vkgrad.float32
    i = vkgrad.tensor([1.7, -2.2], device=device).int()
    assert i.dtype is vkgrad.int32 and i.tolist() == [1, -2]
    f = vkgrad.tensor([1.0, 2.0, 3.0], dtype="f16", device=device) + 0.5  # f16 + scalar stays f16
    assert f.dtype is vkgrad.float16


def test_dtype_promotion(device):
    a = vkgrad.tensor([1.0], dtype="f16", device=device)
    b = vkgrad.tensor([2.0], dtype="f32", device=device)
    assert (a + b).dtype is vkgrad.float32
    assert (vkgrad.tensor([1, 2], device=device) * 1.5).dtype is vkgrad.float32


def test_comparisons_are_bool_without_grad(device):
    x = vkgrad.tensor([1.0, 2.0, 3.0], requires_grad=True, device=device)
    y = vkgrad.tensor([3.0, 2.0, 1.0], device=device)
    for op, expected in [
        (x == y, [False, True, False]),
        (x != y, [True, False, True]),
        (x < y, [True, False, False]),
        (x <= y, [True, True, False]),
        (x > 1.5, [False, True, True]),
        (x >= 2.0, [False, True, True]),
    ]:
        assert op.dtype is vkgrad.bool_
        assert not op.requires_grad and op.grad_fn is None
        assert op.tolist() == expected


def test_max_dim_indices(device):
    a = np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 7.0]])
    r = vkgrad.tensor(a, device=device).max(1)
    assert r.values.tolist() == [5.0, 7.0]
    assert r.indices.dtype is vkgrad.int32 and r.indices.tolist() == [1, 0]  # first maximum
    assert not r.indices.requires_grad


def test_max_all_ties_split_gradient(device):
    x = vkgrad.tensor([1.0, 3.0, 3.0], requires_grad=True, device=device)
    x.max().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 0.5, 0.5])


def test_iteration_and_len(device):
    t = vkgrad.tensor([[1.0, 2.0], [3.0, 4.0]], device=device)
    assert [row.tolist() for row in t] == [[1.0, 2.0], [3.0, 4.0]]
    with pytest.raises(TypeError):
        len(vkgrad.tensor(1.0, device=device))


def test_views_of_int_and_bool_tensors_keep_their_dtype(device):
    x = vkgrad.tensor([[1, 2, 3], [4, 5, 6]], device=device)
    for name, y in {
        "slice": x[1:],
        "column": x[:, 1],
        "T": x.T,
        "expand": x.expand(2, 2, 3),
        "flip": x.flip(0),
    }.items():
        assert y.dtype is vkgrad.int32, f"{name}: {y.dtype}"
    assert x.T.tolist() == [[1, 4], [2, 5], [3, 6]]
    assert x[:, 1].tolist() == [2, 5]
    mask = x > 2
    assert mask.T.dtype is vkgrad.bool and mask.T.tolist() == [
        [False, True],
        [False, True],
        [True, True],
    ]
