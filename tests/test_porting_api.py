"""The small API that PyTorch scripts use everywhere: torch.utils.data, device objects, dtype
aliases (int64 stored as int32, refused when it does not fit), empty/full/*_like, is_tensor,
numel, inference_mode and autograd.detect_anomaly."""

from __future__ import annotations

import numpy as np
import pytest

import vkgrad
from vkgrad import nn


def test_utils_data_is_vkgrad_data():
    from vkgrad.utils.data import DataLoader, Dataset, TensorDataset, random_split

    assert DataLoader is vkgrad.data.DataLoader
    assert Dataset is vkgrad.data.Dataset
    assert TensorDataset is vkgrad.data.TensorDataset
    assert random_split is vkgrad.data.random_split
    assert vkgrad.utils.data.__all__ == vkgrad.data.__all__


def test_the_device_object_is_accepted_where_a_device_is(device):
    prev = vkgrad.device()
    d = vkgrad.device(device)
    try:
        assert vkgrad.device() == d  # calling it sets the default (documented in porting.md)
        assert str(d) == str(vkgrad.Device.parse(device))
        assert d == device and d == vkgrad.Device.parse(device)
        assert d.type == ("cpu" if device == "cpu" else "vulkan")
        model = nn.Linear(3, 2).to(d)
        assert model.weight.device == d
        x = vkgrad.zeros(2, 3, device=d, dtype="f32")
        assert x.device == d
        assert vkgrad.ones(2, device="cpu").to(d).device == d
        y = model(x)
        assert y.shape == (2, 2)
    finally:
        vkgrad.device(prev)


def test_the_device_object_also_restores_as_a_context_manager():
    prev = vkgrad.device()
    with vkgrad.device("cpu") as d:
        assert d.type == "cpu"
    assert vkgrad.device() == prev


def test_dtype_aliases():
    assert vkgrad.float is vkgrad.float32 and vkgrad.half is vkgrad.float16
    assert vkgrad.long is vkgrad.int32 and vkgrad.int64 is vkgrad.int32
    assert vkgrad.int is vkgrad.int32 and vkgrad.bool is vkgrad.bool_
    assert vkgrad.tensor([1.0], dtype="long").dtype is vkgrad.int32
    assert vkgrad.tensor([1.0], dtype="int64").dtype is vkgrad.int32


@pytest.mark.parametrize("dtype", [None, "long", vkgrad.int64])
def test_int64_data_is_stored_as_int32_exactly(device, dtype):
    values = np.array([-(2**31), -7, 0, 5, 2**31 - 1], dtype=np.int64)
    t = vkgrad.tensor(values, dtype=dtype, device=device)
    assert t.dtype is vkgrad.int32
    np.testing.assert_array_equal(t.numpy(), values)


@pytest.mark.parametrize("bad", [2**31, -(2**31) - 1, 3_000_000_000])
def test_int64_values_that_do_not_fit_are_refused_not_wrapped(device, bad):
    with pytest.raises(OverflowError, match=f"tensor: value {bad} does not fit int32"):
        vkgrad.tensor(np.array([1, bad], dtype=np.int64), device=device)
    with pytest.raises(OverflowError, match=str(bad)):
        vkgrad.from_numpy(np.array([bad], dtype=np.int64), device=device)
    with pytest.raises(OverflowError):
        vkgrad.tensor([bad], dtype="long", device=device)


def test_uint32_values_past_int32_are_refused():
    with pytest.raises(OverflowError, match="4294967295"):
        vkgrad.tensor(np.array([4294967295], dtype=np.uint32))


def test_creation_functions(device):
    e = vkgrad.empty(2, 3, device=device, dtype="f32")
    assert e.shape == (2, 3) and e.dtype is vkgrad.float32 and e.device == device
    like = vkgrad.empty_like(e)
    assert like.shape == (2, 3) and like.dtype is e.dtype and like.device == e.device
    f = vkgrad.full_like(e, 2.5)
    np.testing.assert_array_equal(f.numpy(), np.full((2, 3), 2.5, np.float32))
    assert vkgrad.is_tensor(e) and not vkgrad.is_tensor(np.zeros(2))
    assert vkgrad.is_floating_point(e)
    assert not vkgrad.is_floating_point(vkgrad.tensor([1, 2], device=device))
    assert vkgrad.numel(e) == 6


def test_inference_mode():
    x = vkgrad.ones(2, requires_grad=True)
    with vkgrad.inference_mode():
        assert not vkgrad.is_grad_enabled()
        assert not (x * 2).requires_grad
    assert vkgrad.is_grad_enabled()
    with vkgrad.inference_mode(False):
        assert vkgrad.is_grad_enabled()

    @vkgrad.inference_mode()
    def predict(t):
        return t * 3

    assert not predict(x).requires_grad
    assert vkgrad.is_grad_enabled()


# The cpu kernel of sqrt's backward divides by sqrt(0) on purpose: NumPy warns.
_DIV_BY_ZERO = pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")


def _nan_in_backward(device):
    x = vkgrad.tensor([4.0, 0.0], device=device, dtype="f32", requires_grad=True)
    y = x.sqrt()  # finite forward; its backward divides by sqrt(0)
    return x, (y * 2).sum()


@_DIV_BY_ZERO
def test_detect_anomaly_names_the_op_and_its_forward_line(device):
    with vkgrad.autograd.detect_anomaly():
        x, loss = _nan_in_backward(device)
        with pytest.raises(RuntimeError) as err:
            loss.backward()
    msg = str(err.value)
    assert "Sqrt" in msg and "nan or inf" in msg
    assert "test_porting_api.py" in msg and "y = x.sqrt()" in msg
    assert not vkgrad.autograd.is_anomaly_enabled()


@_DIV_BY_ZERO
def test_without_detect_anomaly_the_inf_flows_through(device):
    x, loss = _nan_in_backward(device)
    loss.backward()
    g = x.grad.numpy()
    assert g[0] == pytest.approx(0.5) and np.isinf(g[1])


def test_detect_anomaly_passes_finite_gradients_and_works_as_decorator():
    @vkgrad.autograd.detect_anomaly()
    def step():
        x = vkgrad.tensor([1.0, 4.0], requires_grad=True)
        (x.sqrt() * x).sum().backward()
        return x.grad.numpy()

    np.testing.assert_allclose(step(), [1.5, 3.0], rtol=1e-6)
    vkgrad.autograd.set_detect_anomaly(True)
    try:
        assert vkgrad.autograd.is_anomaly_enabled()
    finally:
        vkgrad.autograd.set_detect_anomaly(False)


# ---------------------------------------------------------------- idioms of training scripts


@pytest.mark.parametrize("dtype", ["f32", "f16"])
def test_new_creation_methods_take_this_tensors_dtype_and_device(device, dtype):
    base = vkgrad.ones(2, device=device, dtype=dtype)
    for made, value in (
        (base.new_zeros(2, 3), 0.0),
        (base.new_zeros((2, 3)), 0.0),
        (base.new_ones([2, 3]), 1.0),
        (base.new_full((2, 3), 2.5), 2.5),
        (base.new_empty(2, 3), 0.0),
    ):
        assert (made.shape, made.dtype, made.device) == ((2, 3), base.dtype, base.device)
        np.testing.assert_array_equal(made.numpy(), np.full((2, 3), value, np.float64))
        assert not made.requires_grad
    # Integer data follows the tensor's float dtype, as PyTorch's new_tensor does.
    t = base.new_tensor([[1, 2], [3, 4]])
    assert (t.dtype, t.device) == (base.dtype, base.device)
    np.testing.assert_array_equal(t.numpy(), [[1, 2], [3, 4]])
    # Arguments win over the tensor's own.
    i = base.new_zeros(3, dtype=vkgrad.int32, device="cpu", requires_grad=False)
    assert (i.dtype, str(i.device)) == (vkgrad.int32, "cpu")
    g = base.new_ones(2, dtype="f32", requires_grad=True)
    assert g.requires_grad and g.is_leaf


def test_one_element_integer_tensors_index_python_sequences(device):
    words = ["a", "b", "c", "d"]
    assert words[vkgrad.tensor(2, device=device)] == "c"
    assert words[vkgrad.tensor([3], device=device)] == "d"
    assert [10, 20, 30][vkgrad.multinomial(vkgrad.tensor([0.0, 0.0, 1.0]), 1)[0]] == 30
    with pytest.raises(TypeError, match=r"__index__: only integer tensors .* float32"):
        words[vkgrad.tensor(1.0, device=device, dtype="f32")]
    with pytest.raises(TypeError, match=r"single element.*\(2,\)"):
        words[vkgrad.tensor([1, 2], device=device)]


def test_type_and_nelement(device):
    x = vkgrad.ones(2, 3, device=device, dtype="f32")
    assert x.type() == "float32"
    assert x.type(vkgrad.float16).dtype is vkgrad.float16
    assert x.type("f32") is x  # no conversion needed: the tensor itself, as .to() returns
    assert x.nelement() == 6 == x.numel()


def test_randint_takes_high_and_size_by_position(device):
    vkgrad.manual_seed(3)
    a = vkgrad.randint(10, (4, 5), device=device)
    vkgrad.manual_seed(3)
    b = vkgrad.randint(0, 10, (4, 5), device=device)
    assert a.shape == (4, 5) and a.dtype is vkgrad.int32
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert vkgrad.randint(7, [3], dtype=vkgrad.long, device=device).shape == (3,)
    assert 0 <= a.numpy().min() and a.numpy().max() < 10


def test_cuda_names_mean_vulkan_gpus(monkeypatch):
    import sys

    device_mod = sys.modules["vkgrad.device"]
    # A CPU Vulkan device (lavapipe) at index 0 and two GPUs after it.
    fake = [
        {"index": 0, "device_type": "cpu", "name": "llvmpipe"},
        {"index": 1, "device_type": "integrated", "name": "igpu"},
        {"index": 2, "device_type": "discrete", "name": "dgpu"},
    ]
    for module in (device_mod, vkgrad.cuda):
        monkeypatch.setattr(module, "_vulkan_devices", lambda: fake)
    assert vkgrad.cuda.is_available() and vkgrad.cuda.device_count() == 2
    # "cuda" is the best GPU (as "gpu"); "cuda:N" counts GPUs only, in device order.
    assert vkgrad.Device.parse("cuda") == vkgrad.Device("vulkan", 2)
    assert vkgrad.Device.parse("cuda:0") == vkgrad.Device("vulkan", 1)
    assert vkgrad.Device.parse("CUDA:1") == vkgrad.Device("vulkan", 2)
    with pytest.raises(RuntimeError, match=r"'cuda:2' does not exist \(2 Vulkan GPU"):
        vkgrad.Device.parse("cuda:2")
    with pytest.raises(ValueError, match="unknown device 'cuda:x'"):
        vkgrad.Device.parse("cuda:x")

    monkeypatch.setattr(device_mod, "_vulkan_devices", lambda: fake[:1])
    monkeypatch.setattr(vkgrad.cuda, "_vulkan_devices", lambda: fake[:1])
    assert not vkgrad.cuda.is_available() and vkgrad.cuda.device_count() == 0
    with pytest.raises(RuntimeError, match="no Vulkan GPU was found"):
        vkgrad.Device.parse("cuda")
    vkgrad.cuda.manual_seed(1)  # nothing to seed without a GPU, as in PyTorch without CUDA
    vkgrad.cuda.manual_seed_all(1)
    vkgrad.cuda.synchronize()


def test_cuda_is_available_matches_the_devices_here():
    gpus = [d for d in vkgrad.devices() if d["type"] not in ("cpu",)]
    assert vkgrad.cuda.is_available() == bool(gpus)
    assert vkgrad.cuda.device_count() == len(gpus)
