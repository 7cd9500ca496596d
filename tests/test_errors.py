"""Errors name the op and the shapes/dtypes involved, and leave the tensors as they were."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import vulkan_param

import vkgrad
import vkgrad.functional as VF


def test_add_shape_mismatch(device):
    a = vkgrad.ones(2, 3, device=device, requires_grad=True)
    b = vkgrad.ones(4, device=device)
    with pytest.raises(ValueError, match=r"add: shapes \(2, 3\) and \(4,\) cannot be broadcast"):
        a + b
    # State intact: the same tensors still compute and differentiate.
    (a * 2).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), np.full((2, 3), 2.0))
    np.testing.assert_array_equal(b.numpy(), np.ones(4))


def test_matmul_shape_mismatch(device):
    a = vkgrad.ones(3, 4, device=device)
    b = vkgrad.ones(5, 2, device=device)
    with pytest.raises(RuntimeError, match=r"matmul: shapes \(3, 4\) and \(5, 2\).*4 != 5"):
        a @ b
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3, 4\) and \(3, 4, 5\): batch"):
        vkgrad.ones(2, 3, 4, device=device) @ vkgrad.ones(3, 4, 5, device=device)
    np.testing.assert_array_equal(
        (a @ vkgrad.ones(4, 2, device=device)).numpy(), np.full((3, 2), 4)
    )


def test_cross_entropy_target_errors(device):
    x = vkgrad.ones(3, 5, device=device, requires_grad=True)
    with pytest.raises(ValueError, match=r"cross_entropy.*\(3,\).*\(4,\)"):
        VF.cross_entropy(x, vkgrad.tensor([0, 1, 2, 3], dtype="int32", device=device))
    with pytest.raises(ValueError, match=r"cross_entropy.*\(3, 5\).*\(3, 4\)"):
        VF.cross_entropy(x, vkgrad.ones(3, 4, device=device))
    with pytest.raises(TypeError, match=r"cross_entropy.*int32.*bool"):
        VF.cross_entropy(x, vkgrad.tensor([True, False, True], device=device))
    with pytest.raises(ValueError, match=r"cross_entropy.*\(N, C\).*\(2, 3, 5\)"):
        VF.cross_entropy(vkgrad.ones(2, 3, 5, device=device), vkgrad.tensor([0, 1], device=device))
    with pytest.raises(ValueError, match=r"cross_entropy.*reduction.*'avg'"):
        VF.cross_entropy(x, vkgrad.tensor([0, 1, 2], device=device), reduction="avg")
    loss = VF.cross_entropy(x, vkgrad.tensor([0, 1, 2], device=device))
    loss.backward()
    np.testing.assert_allclose(loss.item(), np.log(5), rtol=1e-6)
    assert x.grad.shape == (3, 5)


def test_cross_entropy_index_out_of_range_cpu():
    x = vkgrad.ones(2, 3)
    with pytest.raises(IndexError, match=r"cross_entropy.*range"):
        VF.cross_entropy(x, vkgrad.tensor([0, 3]))


def test_mse_loss_shape_mismatch(device):
    with pytest.raises(ValueError, match=r"mse_loss.*\(2, 3\).*\(3, 2\)"):
        VF.mse_loss(vkgrad.ones(2, 3, device=device), vkgrad.ones(3, 2, device=device))


def test_backward_non_scalar_names_shape(device):
    x = vkgrad.ones(2, 2, device=device, requires_grad=True)
    y = x * 3
    with pytest.raises(RuntimeError, match=r"backward.*scalar.*\(2, 2\)"):
        y.backward()
    with pytest.raises(RuntimeError, match=r"backward.*\(3,\).*\(2, 2\)"):
        y.backward(vkgrad.ones(3, device=device))
    y.sum().backward()  # the graph was not consumed by the failed calls
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 2), 3.0))


def test_backward_without_grad(device):
    x = vkgrad.ones(2, device=device)
    with pytest.raises(RuntimeError, match="does not require grad"):
        x.sum().backward()


def test_unknown_device():
    with pytest.raises(ValueError, match=r"unknown device 'tpu'"):
        vkgrad.device("tpu")
    with pytest.raises(ValueError, match=r"'tpu'"):
        vkgrad.ones(2, device="tpu")
    assert vkgrad.device() == "cpu"  # the default did not change


def test_unknown_dtype():
    with pytest.raises(ValueError, match=r"unknown dtype 'f8'.*f16"):
        vkgrad.dtype("f8")
    with pytest.raises(ValueError, match=r"'f8'"):
        vkgrad.ones(2, dtype="f8")
    with pytest.raises(ValueError, match=r"floating"):
        vkgrad.dtype("int32")
    assert vkgrad.ones(2).dtype is vkgrad.float32


def test_gpu_when_none_exists():
    import conftest

    devs = conftest._device_mod._vulkan_devices()
    if any(d["device_type"] != "cpu" for d in devs):
        pytest.skip("a real Vulkan GPU is present: device('gpu') succeeds here")
    with pytest.raises(RuntimeError, match=r"GPU"):
        vkgrad.device("gpu")
    assert vkgrad.device() == "cpu"


@pytest.mark.parametrize("device", [vulkan_param("vulkan", id="vulkan")])
def test_float64_on_vulkan(device):
    with pytest.raises(TypeError, match=r"float64.*vulkan"):
        vkgrad.tensor([1.0], dtype="f64", device="vulkan")
    with pytest.raises(TypeError, match=r"float64"):
        vkgrad.zeros(3, dtype=vkgrad.float64, device="vulkan")
    x = vkgrad.tensor([1.0, 2.0], dtype="f64")
    with pytest.raises(TypeError, match=r"float64"):
        x.to("vulkan")
    np.testing.assert_array_equal(x.numpy(), [1.0, 2.0])


@pytest.mark.parametrize("device", [vulkan_param("vulkan", id="vulkan")])
def test_mixed_devices(device):
    a = vkgrad.ones(2)
    b = vkgrad.ones(2, device=device)
    with pytest.raises(RuntimeError, match=r"add.*cpu.*vulkan"):
        a + b


def test_error_leaves_grads(device):
    w = vkgrad.tensor([1.0, 2.0], device=device, requires_grad=True)
    (w * w).sum().backward()
    before = w.grad.numpy().copy()
    with pytest.raises(ValueError):
        w + vkgrad.ones(3, device=device)
    with pytest.raises(RuntimeError):
        w @ vkgrad.ones(3, device=device)
    with pytest.raises(RuntimeError):
        w.add_(1.0)  # a leaf requiring grad, under grad mode
    np.testing.assert_array_equal(w.grad.numpy(), before)
    np.testing.assert_array_equal(w.numpy(), [1.0, 2.0])
    assert w._version[0] == 0


def test_getitem_errors(device):
    x = vkgrad.ones(3, 4, device=device)
    with pytest.raises(IndexError, match=r"index 5 is out of bounds for dimension 1 with size 4"):
        x[0, 5]
    with pytest.raises(IndexError, match=r"too many indices.*\(3, 4\)"):
        x[0, 0, 0]


def test_reshape_error(device):
    with pytest.raises(RuntimeError, match=r"reshape.*\(4, 2\).*\(3, 4\)"):
        vkgrad.ones(3, 4, device=device).reshape(4, 2)


def test_error_message_in_subprocess_is_single_line_clean():
    # A script that hits a shape error prints the op and shapes as the last traceback line.
    code = "import vkgrad; vkgrad.ones(3, 4) @ vkgrad.ones(5, 2)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("RuntimeError: matmul: shapes (3, 4) and (5, 2)"), last
