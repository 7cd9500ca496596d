"""The device manager: listing, the default device and dtype, setters and context managers,
environment variables, and a clear error without a Vulkan loader."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import _device_mod, vulkan_param, vulkan_skip_reason

import vkgrad

VULKAN = [vulkan_param("vulkan", id="vulkan")]


def run_py(code: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter (device state is per process)."""
    full = dict(os.environ)
    for k in ("VKGRAD_DEVICE", "VKGRAD_DTYPE"):
        full.pop(k, None)
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=full, timeout=120
    )


def test_devices_lists_cpu_first_and_one_default():
    devs = vkgrad.devices()
    assert devs[0]["device"] == "cpu" and devs[0]["type"] == "cpu"
    assert sum(d["default"] for d in devs) == 1
    for d in devs:
        assert set(d) >= {"device", "name", "type", "default"}


@pytest.mark.parametrize("dev", VULKAN)
def test_lavapipe_listed_and_never_default(dev):
    vk = [d for d in vkgrad.devices() if d["device"].startswith("vulkan:")]
    assert vk, "a Vulkan device exists but devices() does not list it"
    gpus = [d for d in vk if d["type"] != "cpu"]
    if gpus:
        pytest.skip("a real GPU is present; this test is about a CPU-only Vulkan (lavapipe)")
    assert all(d["type"] == "cpu" for d in vk)  # lavapipe reports a CPU device type
    assert not any(d["default"] for d in vk)
    assert vkgrad.device() == "cpu"
    assert _device_mod._auto_device() == "cpu"


@pytest.mark.parametrize("dev", VULKAN)
def test_device_vulkan_selects_it(dev):
    d = vkgrad.device("vulkan")
    assert d == "vulkan:0" or str(d).startswith("vulkan:")
    x = vkgrad.ones(3)
    assert x.device.type == "vulkan"
    assert x.dtype is vkgrad.float32  # lavapipe is not a GPU: f32, not f16
    assert (x * 2).numpy().tolist() == [2.0, 2.0, 2.0]


def test_default_dtype_f32_on_cpu():
    assert vkgrad.dtype() is vkgrad.float32
    assert vkgrad.ones(1).dtype is vkgrad.float32
    assert vkgrad.tensor([1.5]).dtype is vkgrad.float32


def test_device_setter_and_context_manager():
    before = vkgrad.device()
    vkgrad.device("cpu")
    assert vkgrad.device() == "cpu"
    with vkgrad.device("cpu") as d:
        assert d == "cpu"
    assert vkgrad.device() == before


@pytest.mark.parametrize("dev", VULKAN)
def test_device_context_restores_after_exception(dev):
    with pytest.raises(KeyError):
        with vkgrad.device("vulkan"):
            assert vkgrad.ones(1).device.type == "vulkan"
            raise KeyError("boom")
    assert vkgrad.device() == "cpu"
    assert vkgrad.ones(1).device == "cpu"


def test_dtype_setter_and_context_manager():
    with vkgrad.dtype("f16"):
        assert vkgrad.dtype() is vkgrad.float16
        assert vkgrad.ones(2).dtype is vkgrad.float16
        assert vkgrad.tensor([1.0]).dtype is vkgrad.float16
    assert vkgrad.dtype() is vkgrad.float32
    with pytest.raises(RuntimeError):
        with vkgrad.dtype("f64"):
            assert vkgrad.zeros(1).dtype is vkgrad.float64
            raise RuntimeError("boom")
    assert vkgrad.dtype() is vkgrad.float32
    vkgrad.dtype("float16")  # as a setter (undone by the conftest fixture)
    assert vkgrad.rand(2).dtype is vkgrad.float16


def test_env_vars_in_subprocess():
    code = (
        "import json, vkgrad; x = vkgrad.ones(2); "
        "print(json.dumps([str(vkgrad.device()), x.dtype.short, str(x.device)]))"
    )
    r = run_py(code, {"VKGRAD_DTYPE": "f16"})
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == ["cpu", "f16", "cpu"]
    r = run_py(code, {"VKGRAD_DEVICE": "tpu"})
    assert r.returncode != 0 and "tpu" in r.stderr
    r = run_py(code, {"VKGRAD_DTYPE": "f8"})
    assert r.returncode != 0 and "f8" in r.stderr


@pytest.mark.parametrize("dev", VULKAN)
def test_env_device_vulkan_in_subprocess(dev):
    code = (
        "import json, vkgrad; x = vkgrad.ones(2); "
        "print(json.dumps([str(vkgrad.device()), x.dtype.short, str(x.device)]))"
    )
    r = run_py(code, {"VKGRAD_DEVICE": "vulkan"})
    assert r.returncode == 0, r.stderr
    dev_name, dt, xdev = json.loads(r.stdout)
    # The default dtype is f16 on a GPU, f32 on a CPU Vulkan device (lavapipe).
    gpu = _device_mod.Device.parse("vulkan").is_gpu
    assert dev_name.startswith("vulkan:") and xdev == dev_name and dt == ("f16" if gpu else "f32")


def test_missing_kp_gives_clear_message():
    code = (
        "import sys; sys.modules['kp'] = None\n"  # makes `import kp` raise ImportError
        "import json, vkgrad\n"
        "devs = [d['device'] for d in vkgrad.devices()]\n"
        "x = (vkgrad.ones(2) + 1).tolist()\n"
        "try:\n"
        "    vkgrad.device('vulkan'); err = None\n"
        "except RuntimeError as e:\n"
        "    err = str(e)\n"
        "try:\n"
        "    vkgrad.device('gpu'); gerr = None\n"
        "except RuntimeError as e:\n"
        "    gerr = str(e)\n"
        "print(json.dumps([devs, x, err, gerr, str(vkgrad.device())]))\n"
    )
    r = run_py(code)
    assert r.returncode == 0, r.stderr
    devs, x, err, gerr, default = json.loads(r.stdout)
    assert devs == ["cpu"] and x == [2.0, 2.0] and default == "cpu"
    assert err is not None and "Vulkan" in err and "kp" in err, err
    assert gerr is not None and "GPU" in gerr, gerr


@pytest.mark.parametrize("dev", VULKAN)
def test_loader_without_a_driver_falls_back_to_the_cpu(dev, tmp_path):
    # A Vulkan loader pointed at no usable driver (a container without the GPU's driver
    # files): kp raises instead of aborting the process, and vkgrad runs on the cpu.
    env = {"VK_DRIVER_FILES": str(tmp_path / "none.json")}
    env["VK_ICD_FILENAMES"] = env["VK_DRIVER_FILES"]
    code = (
        "import json, vkgrad\n"
        "from vkgrad.device import vulkan_unavailable_reason\n"
        "devs = [d['device'] for d in vkgrad.devices()]\n"
        "print(json.dumps([devs, (vkgrad.ones(2) + 1).tolist(), vulkan_unavailable_reason()]))\n"
    )
    r = run_py(code, env)
    assert r.returncode == 0, r.stderr
    devs, x, why = json.loads(r.stdout)
    assert devs == ["cpu"] and x == [2.0, 2.0]
    assert "vkCreateInstance failed" in why, why


def test_vulkan_skip_reason_matches_device_manager():
    # The conftest skips Vulkan tests only when the device manager finds no Vulkan device.
    has = bool(_device_mod._vulkan_devices())
    assert (vulkan_skip_reason() is None) == has
