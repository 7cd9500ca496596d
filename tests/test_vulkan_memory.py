"""Vulkan memory: arrays in device-only buffers, transfers through a small reused staging
pool, ``vkgrad.memory_stats`` / ``vkgrad.empty_cache``, and a clear out-of-memory error."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import vulkan_skip_reason

import vkgrad
from vkgrad.backends.vulkan.pool import OutOfMemoryError

pytestmark = [
    pytest.mark.vulkan,
    pytest.mark.skipif(vulkan_skip_reason() is not None, reason=str(vulkan_skip_reason())),
]

MB = 1 << 20


def _backend():
    return vkgrad.Device.parse("vulkan").backend


def test_eight_64mb_tensors_cost_their_own_bytes_once():
    # A fresh process: RSS is the measure of host memory, and lavapipe's device memory is
    # host memory too. Each array used to have a host-visible twin of its size (2x).
    script = textwrap.dedent(
        """
        import numpy as np, vkgrad
        def rss():
            return int(open("/proc/self/statm").read().split()[1]) * 4096
        vkgrad.ones(4, device="vulkan").numpy()
        base = rss()
        kept = []
        for i in range(8):
            a = np.random.default_rng(i).standard_normal(16 << 20).astype(np.float32)
            kept.append(vkgrad.tensor(a, device="vulkan"))
            del a
        vkgrad.synchronize()
        want = np.random.default_rng(3).standard_normal(16 << 20).astype(np.float32)[5]
        assert float(kept[3][5].item()) == float(want)
        print(rss() - base)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    grew = int(out.stdout.split()[-1])
    assert grew <= 1.15 * 512 * MB, f"RSS grew by {grew / MB:.0f} MB for 512 MB of tensors"


def test_memory_stats_and_empty_cache():
    be = _backend()
    vkgrad.empty_cache()
    before = vkgrad.memory_stats("vulkan")
    a = vkgrad.tensor(np.ones(1 << 20, np.float32), device="vulkan")  # 4 MB, uploaded
    z = vkgrad.zeros(1 << 20, device="vulkan")  # filled on the device: no staging
    vkgrad.synchronize()
    stats = vkgrad.memory_stats("vulkan")
    assert stats["live_bytes"] - before["live_bytes"] == 8 * MB
    assert stats["staging_bytes"] - before["staging_bytes"] <= 4 * MB + 4 * 1024
    assert vkgrad.memory_stats()["vulkan:0"] == stats
    assert vkgrad.memory_stats("cpu") == {}
    assert float(a.sum().item()) == float(1 << 20) and float(z.sum().item()) == 0.0
    del a, z
    vkgrad.empty_cache()
    after = vkgrad.memory_stats("vulkan")
    assert after["live_bytes"] == before["live_bytes"]
    assert after["pooled_bytes"] <= before["pooled_bytes"]
    assert after["staging_bytes"] == 0
    assert be.pool.free == {} and be.staging.free == {}


def test_zeros_and_ones_fill_on_the_device():
    be = _backend()
    vkgrad.empty_cache()
    t = vkgrad.ones(3 << 20, device="vulkan")
    vkgrad.synchronize()
    assert be.staging.total_words == 0, "ones() uploaded a host array"
    assert float(t[-1].item()) == 1.0


def test_out_of_memory_names_the_bytes_and_the_device_and_leaves_the_pool_usable(monkeypatch):
    be = _backend()
    real = be.pool._create

    def refuse(words):
        if words >= 1 << 24:
            raise RuntimeError("vk::Device::allocateMemory: ErrorOutOfDeviceMemory")
        return real(words)

    monkeypatch.setattr(be.pool, "_create", refuse)
    live = be.pool.live
    with pytest.raises(
        OutOfMemoryError, match=r"vulkan:0: out of memory allocating 67108864 bytes"
    ):
        vkgrad.zeros(16 << 20, device="vulkan")
    assert be.pool.live == live  # the failed request left no count behind
    x = vkgrad.tensor([1.0, 2.0], device="vulkan")
    assert (x * 2).tolist() == [2.0, 4.0]


def test_a_captured_replay_rewrites_the_optimizer_attrs_through_staging():
    # Replays write new learning rates into the staging array their recorded upload reads.
    w = vkgrad.tensor([1.0, 1.0], device="vulkan", requires_grad=True)
    opt = vkgrad.optim.SGD([w], lr=0.5)

    def step():
        opt.zero_grad()
        (w * w).sum().backward()
        opt.step()

    captured = vkgrad.capture(step)  # no tensor argument: the warm-up call shows the device
    for lr in (0.5, 0.5, 0.25, 0.1):
        for g in opt.param_groups:
            g["lr"] = lr
        before = w.numpy().copy()
        captured()
        np.testing.assert_allclose(w.numpy(), before - lr * 2 * before, rtol=1e-6)
