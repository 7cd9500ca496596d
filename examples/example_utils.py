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
    """A tqdm progress bar over ``total`` steps that shows the latest loss."""

    def __init__(self, total: int, label: str = "step") -> None:
        try:
            from tqdm import tqdm
        except ImportError:
            sys.exit('the examples show progress with tqdm: pip install "vkgrad[examples]"')
        # Every update is drawn (mininterval=0): a step's loss is worth showing.
        self.bar = tqdm(total=max(total, 1), unit=label, dynamic_ncols=True, mininterval=0)

    def update(self, i: int, loss: float) -> None:
        self.bar.set_postfix(loss=f"{loss:.4f}", refresh=False)  # drawn with the count
        self.bar.update(i - self.bar.n)
        if i >= self.bar.total:
            self.bar.close()


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
