"""Every example runs briefly (a few steps), exits 0, lowers its loss and saves its plot.

The examples print ``train loss: <first> -> <last>`` and exit non-zero when their own check
fails (accuracy target, gradcheck, loss not falling), so a pass here means the example did
what it claims on these few steps.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import vulkan_param

import vkgrad

ROOT = Path(__file__).resolve().parents[1]
# The examples run the vkgrad these tests imported (src/, or an installed copy).
PACKAGE_ROOT = str(Path(vkgrad.__file__).resolve().parents[1])

# Plots need matplotlib, and the digits and iris data come with scikit-learn.
pytestmark = pytest.mark.extras

# (script, flags for a short run)
SHORT_RUNS = {
    "autograd_basics": ["--steps", "20"],
    "char_transformer": ["--steps", "12", "--batch-size", "4", "--sample-chars", "10"],
    "custom_function": ["--steps", "20"],
    "digits_cnn": ["--max-steps", "20"],
    "iris_ag": ["--epochs", "5"],
    "nanograd_tour": ["--steps", "20"],
}


def run_example(name: str, *flags: str, timeout: int = 600) -> str:
    env = dict(os.environ)
    env["PYTHONPATH"] = PACKAGE_ROOT + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / f"{name}.py"), *flags],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
    )
    assert proc.returncode == 0, f"{name} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr  # tqdm draws its bar on stderr


def check_loss_fell(out: str) -> tuple:
    m = re.search(r"^train loss: ([\d.e+-]+) -> ([\d.e+-]+)$", out, re.M)
    assert m, f"no 'train loss: a -> b' line in:\n{out}"
    first, last = float(m.group(1)), float(m.group(2))
    assert last < first, f"loss did not fall: {first} -> {last}"
    return first, last


@pytest.mark.parametrize("device", ["cpu", vulkan_param("vulkan", id="vulkan")])
@pytest.mark.parametrize("name", sorted(SHORT_RUNS))
def test_example_short_run(name, device, tmp_path):
    plot = tmp_path / f"{name}.png"
    out = run_example(name, *SHORT_RUNS[name], "--device", device, "--plot", str(plot))
    assert re.search(rf"^device: {device}\b", out, re.M), out
    check_loss_fell(out)
    # the tqdm bar reached its end and showed the loss
    assert re.search(r"100%\|[^|]*\| (\d+)/\1 \[.*loss=[\d.]+\]", out), out
    assert plot.is_file() and plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", "no PNG written"


def test_iris_ag_reaches_its_target():
    out = run_example("iris_ag", "--device", "cpu", "--plot", os.devnull)
    acc = float(re.search(r"^validation accuracy: ([\d.]+) \(target", out, re.M).group(1))
    assert acc >= 0.9, out
