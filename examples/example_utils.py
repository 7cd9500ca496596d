"""What every example shares: the device/dtype/steps/plot flags, a progress bar, the loss plot.

Examples import this module from their own directory (``python examples/<name>.py`` puts
``examples/`` first on ``sys.path``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import vkgrad
from vkgrad.device import default_dtype


def parser(doc: str, steps: int, what: str = "steps") -> argparse.ArgumentParser:
    """An argument parser with the flags every example takes."""
    ap = argparse.ArgumentParser(description=doc.strip().split("\n")[0])
    ap.add_argument("--device", default=None, help="cpu, vulkan, vulkan:N, gpu (default: best)")
    ap.add_argument("--dtype", default=None, help="f32 or f16 (default: the device's default)")
    ap.add_argument(f"--{what}", type=int, default=steps, help=f"training {what}")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--plot", default=None, help="where to save the loss curve (PNG)")
    return ap


def setup(args: argparse.Namespace) -> tuple:
    """Seed, choose the device and dtype from the flags, print them; (device, dtype)."""
    vkgrad.manual_seed(args.seed)
    device = vkgrad.Device.parse(args.device) if args.device else vkgrad.device()
    dtype = vkgrad.dtypes.get(args.dtype) if args.dtype else default_dtype(device)
    names = {d["device"]: d["name"] for d in vkgrad.devices()}
    print(f"device: {device} ({names.get(str(device), '?')}), dtype: {dtype.name}")
    return device, dtype


class Progress:
    """A one-line progress bar with the latest loss, redrawn in place (``\\r``)."""

    def __init__(self, total: int, label: str = "step", width: int = 30) -> None:
        self.total, self.label, self.width = max(total, 1), label, width

    def update(self, i: int, loss: float) -> None:
        done = round(self.width * i / self.total)
        bar = "#" * done + "." * (self.width - done)
        sys.stdout.write(f"\r{self.label} {i:4d}/{self.total} [{bar}] loss {loss:.4f}")
        sys.stdout.flush()
        if i >= self.total:
            sys.stdout.write("\n")


def save_loss_plot(losses: list, path: str | None, title: str, xlabel: str = "step") -> None:
    """Save the loss curve as a PNG (matplotlib, from the ``examples`` extra)."""
    if path is None:
        path = f"{Path(sys.argv[0]).stem}_loss.png"
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display needed
        import matplotlib.pyplot as plt
    except ImportError:
        print('loss plot skipped: matplotlib is missing (pip install "vkgrad[examples]")')
        return
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(range(1, len(losses) + 1), losses)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"loss plot: {path}")
