"""Train an MLP on scikit-learn's bundled 8x8 handwritten digits and report test accuracy.

    python examples/train_digits.py                      # best device present, its default dtype
    python examples/train_digits.py --device vulkan --dtype f16 --epochs 10

Exits non-zero when the test accuracy is below 0.95.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from example_utils import Progress

import vkgrad
import vkgrad.nn.functional as F
from vkgrad import nn, optim
from vkgrad.device import default_dtype

TARGET = 0.95


def load_data(seed: int):
    """Standardized features and int32 labels, split 80/20 with a fixed seed."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = x.astype(np.float32)
    y = y.astype(np.int32)
    order = np.random.default_rng(seed).permutation(len(x))
    n_train = int(0.8 * len(x))
    tr, te = order[:n_train], order[n_train:]
    mean, std = x[tr].mean(axis=0), x[tr].std(axis=0)
    std[std == 0] = 1.0  # constant border pixels
    x = (x - mean) / std
    return x[tr], y[tr], x[te], y[te]


def make_model(hidden: int, device, dtype) -> nn.Module:
    return nn.Sequential(
        nn.Linear(64, hidden, device=device, dtype=dtype),
        nn.ReLU(),
        nn.Linear(hidden, 10, device=device, dtype=dtype),
    )


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray, device, dtype) -> float:
    model.eval()
    with vkgrad.no_grad():
        logits = model(vkgrad.tensor(x, dtype=dtype, device=device)).numpy()
    model.train()
    return float((logits.argmax(axis=1) == y).mean())


def main(argv: list | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default=None, help="cpu, vulkan, vulkan:N, gpu (default: best)")
    ap.add_argument("--dtype", default=None, help="f32 or f16 (default: the device's default)")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    device = vkgrad.Device.parse(args.device) if args.device else vkgrad.device()
    dtype = vkgrad.dtypes.get(args.dtype) if args.dtype else default_dtype(device)
    names = {d["device"]: d["name"] for d in vkgrad.devices()}
    print(f"device: {device} ({names.get(str(device), '?')}), dtype: {dtype.name}")

    vkgrad.manual_seed(args.seed)
    x_tr, y_tr, x_te, y_te = load_data(args.seed)
    model = make_model(args.hidden, device, dtype)
    opt = optim.Adam(model.parameters(), lr=args.lr)
    rng = np.random.default_rng(args.seed)

    # Recorded once, replayed every step after (vkgrad.capture); strict=False falls back to
    # eager, saying why once, if an edit makes the step uncapturable (a .item() inside it).
    @vkgrad.capture(strict=False)
    def train_step(xb, yb):
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    t0 = time.perf_counter()
    epoch_losses, bar = [], Progress(args.epochs, label="epoch")
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(len(x_tr))
        losses = []
        for i in range(0, len(order), args.batch_size):
            idx = order[i : i + args.batch_size]
            xb = vkgrad.tensor(x_tr[idx], dtype=dtype, device=device)
            yb = vkgrad.tensor(y_tr[idx], dtype=vkgrad.int32, device=device)
            # A replay refills the same loss tensor: keep a copy.
            losses.append(train_step(xb, yb).detach().clone())
        # One host read per epoch: reading every loss would stall a device's queue per step.
        epoch_loss = float(np.mean([t.item() for t in losses]))
        epoch_losses.append(epoch_loss)
        bar.update(epoch, epoch_loss)
    vkgrad.synchronize()
    elapsed = time.perf_counter() - t0

    acc = accuracy(model, x_te, y_te, device, dtype)
    print(f"train loss: {epoch_losses[0]:.4f} -> {epoch_losses[-1]:.4f}")
    print(f"train time: {elapsed:.2f} s ({args.epochs} epochs)")
    print(f"test accuracy: {acc:.4f}")
    if acc < TARGET:
        print(f"FAILED: test accuracy {acc:.4f} is below {TARGET}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
