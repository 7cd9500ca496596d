"""The demo (``make demo``) trains to >= 0.95 test accuracy, briefly, on each device."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import vkgrad

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "examples" / "train_digits.py"
# The demo runs the vkgrad these tests imported (src/, or an installed copy).
PACKAGE_ROOT = str(Path(vkgrad.__file__).resolve().parents[1])

pytestmark = pytest.mark.extras  # the digits data comes with scikit-learn


def _run_demo(*args: str) -> str:
    env = dict(os.environ)
    env["PYTHONPATH"] = PACKAGE_ROOT + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr  # tqdm draws its bar on stderr


def _check(out: str, device: str, dtype: str) -> None:
    assert re.search(rf"^device: {device}\b.*dtype: {dtype}$", out, re.M), out
    losses = re.search(r"^train loss: ([\d.]+) -> ([\d.]+)$", out, re.M)
    assert losses, out
    first, last = float(losses.group(1)), float(losses.group(2))
    assert last < 0.5 * first, out
    # the tqdm bar: drawn at every epoch, ending at the last loss (closing redraws the end)
    bar = re.findall(r"(\d+)/(\d+) \[[^\]]*loss=([\d.]+)\]", out)
    bar = [b for i, b in enumerate(bar) if i == 0 or b != bar[i - 1]]
    assert [int(e) for e, _, _ in bar] == list(range(1, int(bar[-1][1]) + 1)), out
    assert float(bar[0][2]) == first and float(bar[-1][2]) == last, out
    acc = re.search(r"^test accuracy: ([\d.]+)$", out, re.M)
    assert acc and float(acc.group(1)) >= 0.95, out


def test_demo_cpu():
    _check(_run_demo("--device", "cpu", "--epochs", "4"), "cpu", "float32")


@pytest.mark.vulkan
def test_demo_vulkan():
    if not any(d["device"].startswith("vulkan") for d in vkgrad.devices()):
        pytest.skip("no Vulkan device")
    _check(_run_demo("--device", "vulkan", "--epochs", "4"), "vulkan:0", "float32")


def test_demo_fails_below_target():
    # One tiny epoch cannot reach the bar: the script must say so and exit non-zero.
    env = dict(os.environ)
    env["PYTHONPATH"] = PACKAGE_ROOT + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--device", "cpu", "--epochs", "1", "--lr", "1e-5"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=ROOT,
    )
    assert proc.returncode != 0
    assert "below 0.95" in proc.stderr
