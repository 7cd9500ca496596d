"""The GPU kit's driver (scripts/gpu_kit/, docs/gpu.md): device choice, the race check's
bit comparison, peaks, the report, on the cpu backend; the whole kit runs in CI with
``.gpu/run.sh --local``."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

KIT = Path(__file__).resolve().parents[1] / "scripts" / "gpu_kit"
sys.path.insert(0, str(KIT))

import bench  # noqa: E402
import kit  # noqa: E402
import peaks  # noqa: E402
import probe  # noqa: E402
import race  # noqa: E402
import report  # noqa: E402

LAVAPIPE = {"index": 0, "name": "llvmpipe (LLVM 15.0.6, 256 bits)", "device_type": "cpu"}
H100 = {"index": 1, "name": "NVIDIA H100 80GB HBM3", "device_type": "discrete"}


def test_probe_prefers_a_gpu_and_refuses_a_cpu_when_one_is_expected():
    assert probe.choose([LAVAPIPE, H100], expect_gpu=True) == (H100, None)
    assert probe.choose([LAVAPIPE], expect_gpu=False) == (LAVAPIPE, None)
    chosen, why = probe.choose([LAVAPIPE], expect_gpu=True)
    assert chosen is None and why.startswith("expected a GPU") and "llvmpipe" in why
    chosen, why = probe.choose([], expect_gpu=False, why_none="no Vulkan loader")
    assert chosen is None and why == "no Vulkan device found: no Vulkan loader"


def test_driver_versions_as_the_vendor_writes_them():
    nvidia = (550 << 22) | (54 << 14) | (15 << 6) | 3
    assert probe.driver_version(0x10DE, nvidia) == "550.54.15.3"
    assert probe.driver_version(0x1002, (2 << 22) | (0 << 12) | 279) == "2.0.279"


def test_peaks_by_device_name():
    assert peaks.card("NVIDIA H100 80GB HBM3") == "H100 SXM"
    assert peaks.card("NVIDIA H100 PCIe") == "H100 PCIe"
    assert peaks.card("NVIDIA H100 NVL") == "H100 NVL"
    assert peaks.card("NVIDIA H200") == "H200 SXM"
    assert peaks.card("NVIDIA H200 NVL") == "H200 NVL"
    assert peaks.card("llvmpipe (LLVM 15.0.6, 256 bits)") is None
    assert peaks.card("NVIDIA A100-SXM4-80GB") is None


def test_differences_compare_bits_not_values():
    a = {"w": np.array([0.0, 1.0, np.nan], np.float32)}
    assert race.differences(a, {"w": a["w"].copy()}) == []  # the same NaN is the same bits
    flipped = a["w"].copy()
    flipped[0] = -0.0  # equal as a value, one bit apart
    assert race.differences(a, {"w": flipped}) == ["w: 1 of 3 elements differ (max |diff| 0)"]
    half = {"g": np.array([1.0, 2.0], np.float16)}
    assert race.differences(half, {"g": np.array([1.0, 2.001], np.float16)})[0].startswith(
        "g: 1 of 2"
    )


@pytest.mark.parametrize("kind", ["mlp", "cnn", "transformer"])
def test_race_check_finds_identical_runs_on_the_cpu(kind):
    r = race.check(kind, race.RACE_SIZES["local"][kind], "f32", "cpu", eager=2, replays=3)
    assert r["differing_runs"] == 0 and r["replays"] == 3, r


def test_race_check_sees_runs_that_differ(monkeypatch):
    # Without the restore every run starts from the previous one's weights: it must notice.
    monkeypatch.setattr(race.Snapshot, "restore", lambda self: None)
    r = race.check("mlp", race.RACE_SIZES["local"]["mlp"], "f32", "cpu", eager=2, replays=2)
    assert r["differing_runs"] == 6 and "run 1 (eager)" in r["first_difference"], r


def test_vkgrad_step_trains_on_the_cpu():
    preset = bench.SIZES["local"]["mlp_digits"]
    with bench.vkgrad.device("cpu"), bench.vkgrad.dtype("f32"):
        step = bench.vkgrad_step("mlp_digits", preset, captured=True)
        losses = [float(step().item()) for _ in range(6)]
    assert losses[-1] < losses[0]


def test_torch_step_trains_on_the_cpu():
    torch = pytest.importorskip("torch")
    preset = bench.SIZES["local"]["cnn"]
    step = bench.torch_step(torch, "cnn", preset, False, "cpu", graphs=False)
    losses = [float(step().item()) for _ in range(6)]
    assert losses[-1] < losses[0]


def test_pytest_summary_line():
    out = "....\nFAILED tests/x.py::t - boom\n3 failed, 120 passed, 9 deselected in 12.50s\n"
    assert kit.pytest_summary(out) == "3 failed, 120 passed, 9 deselected in 12.50s"
    assert kit.pytest_summary("== 4 passed in 1.00s ==") == "4 passed in 1.00s"
    assert kit.pytest_summary("collected nothing") is None


def test_report_ratios_and_fractions_of_peak():
    res = {
        "command": "run.sh",
        "mode": "gpu",
        "started": "now",
        "steps": {"probe": {"ok": True, "summary": "vulkan:0", "seconds": 1.0}},
        "probe": {
            "chosen": "vulkan:0",
            "devices": [{"index": 0, "name": "NVIDIA H100 PCIe", "device_type": "discrete"}],
        },
        "bench": {
            "train": [
                {"model": "mlp", "dtype": "f32", "impl": "vkgrad eager", "ms": 3.0},
                {"model": "mlp", "dtype": "f32", "impl": "vkgrad captured", "ms": 1.0},
                {"model": "mlp", "dtype": "f32", "impl": "torch cuda eager", "ms": 2.0},
                {"model": "mlp", "dtype": "f32", "impl": "torch cuda graphs", "ms": 0.5},
            ],
            "kernels": [
                {"kernel": "gemm", "impl": "vkgrad", "dtype": "f32", "n": 8, "tflops": 25.5},
                {"kernel": "add", "impl": "vkgrad", "dtype": "f16", "n": 8, "gbs": 1000.0},
            ],
        },
    }
    md = report.markdown(res)
    assert "| mlp | f32 | 3 | 1 | 2 | 0.5 | 1.50 | 2.00 |" in md
    assert "| gemm | f32 | 8 | vkgrad | 25.5 TFLOP/s | 50.0% | FP32 |" in md  # 51 TFLOP/s
    assert "| add | f16 | 8 | vkgrad | 1000 GB/s | 50.0% | memory bandwidth |" in md
