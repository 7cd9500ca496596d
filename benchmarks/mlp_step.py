"""Time one training step of an MLP on the digits data, for vkgrad and its peers, in one run.

    python benchmarks/mlp_step.py [--steps 50] [--warmup 5] [--threads N] [--no-vulkan]

Model 64 -> 256 -> 256 -> 10 (ReLU), batch 128, cross entropy, Adam(lr=1e-3). A step is
zero_grad + forward + loss + backward + optimizer step; the clock stops after
``vkgrad.synchronize()``. Reported: the median over ``--steps`` steps after ``--warmup``.

Columns: vkgrad on each backend (cpu = NumPy; vulkan in f32 and f16 when a device exists),
the same step hand-written in NumPy, and PyTorch CPU when ``import torch`` works, with the
ratios of each time to PyTorch's and to the hand-written NumPy step (lower is faster).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np

SIZES = (64, 256, 256, 10)
BATCH = 128
LR = 1e-3
BETAS = (0.9, 0.999)
EPS = 1e-8


def digits_batches(seed: int = 0) -> list:
    """Standardized digits, shuffled once, cut into full batches of BATCH (f32, int labels)."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = x.astype(np.float32)
    std = x.std(axis=0)
    std[std == 0] = 1.0
    x = (x - x.mean(axis=0)) / std
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order].astype(np.int32)
    n = len(x) // BATCH
    return [(x[i * BATCH : (i + 1) * BATCH], y[i * BATCH : (i + 1) * BATCH]) for i in range(n)]


def init_weights(seed: int = 0) -> list:
    """PyTorch's default Linear init, shared by every implementation: [(W, b), ...] in f32."""
    rng = np.random.default_rng(seed)
    out = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        k = 1 / np.sqrt(fan_in)
        w = rng.uniform(-k, k, (fan_out, fan_in)).astype(np.float32)
        b = rng.uniform(-k, k, fan_out).astype(np.float32)
        out.append((w, b))
    return out


def time_steps(step, sync, steps: int, warmup: int) -> tuple:
    losses = []
    for i in range(warmup):
        losses.append(step(i))
    sync()
    times = []
    for i in range(steps):
        t0 = time.perf_counter()
        losses.append(step(warmup + i))
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), losses


# ---------------------------------------------------------------- vkgrad


def bench_vkgrad(device: str, dtype: str, batches, weights, steps, warmup):
    import vkgrad
    import vkgrad.nn.functional as F
    from vkgrad import nn, optim

    layers = []
    for w, b in weights:
        lin = nn.Linear(w.shape[1], w.shape[0], device=device, dtype=dtype)
        lin.load_state_dict({"weight": w, "bias": b})
        layers += [lin, nn.ReLU()]
    model = nn.Sequential(*layers[:-1])
    opt = optim.Adam(model.parameters(), lr=LR, betas=BETAS, eps=EPS)
    data = [
        (vkgrad.tensor(x, device=device, dtype=dtype), vkgrad.tensor(y, device=device))
        for x, y in batches
    ]

    def step(i):
        x, y = data[i % len(data)]
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    med, losses = time_steps(step, vkgrad.synchronize, steps, warmup)
    return med, [float(losses[0].item()), float(losses[-1].item())]


# ---------------------------------------------------------------- hand-written NumPy


def bench_numpy(batches, weights, steps, warmup):
    params = [a.copy() for wb in weights for a in wb]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    b1, b2 = BETAS
    t = [0]
    n_layers = len(weights)

    def step(i):
        x, y = batches[i % len(batches)]
        # forward
        acts = [x]
        h = x
        for k in range(n_layers):
            w, b = params[2 * k], params[2 * k + 1]
            h = h @ w.T + b
            if k < n_layers - 1:
                h = np.maximum(h, 0)
            acts.append(h)
        z = h - h.max(axis=1, keepdims=True)
        e = np.exp(z)
        s = e.sum(axis=1, keepdims=True)
        loss = float(np.mean(np.log(s[:, 0]) - z[np.arange(len(y)), y]))
        # backward
        g = e / s
        g[np.arange(len(y)), y] -= 1
        g /= len(y)
        grads = [None] * len(params)
        for k in reversed(range(n_layers)):
            a_in = acts[k]
            grads[2 * k] = g.T @ a_in
            grads[2 * k + 1] = g.sum(axis=0)
            if k:
                g = g @ params[2 * k]
                g *= acts[k] > 0
        # Adam, in place
        t[0] += 1
        c1, c2 = 1 - b1 ** t[0], 1 - b2 ** t[0]
        for p, gr, mm, vv in zip(params, grads, m, v):
            mm *= b1
            mm += (1 - b1) * gr
            vv *= b2
            vv += (1 - b2) * gr * gr
            p -= (LR / c1) * mm / (np.sqrt(vv / c2) + EPS)
        return loss

    med, losses = time_steps(step, lambda: None, steps, warmup)
    return med, [losses[0], losses[-1]]


# ---------------------------------------------------------------- PyTorch


def bench_torch(batches, weights, steps, warmup, threads):
    import torch

    torch.set_num_threads(threads)
    layers = []
    for w, b in weights:
        lin = torch.nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w))
            lin.bias.copy_(torch.from_numpy(b))
        layers += [lin, torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    opt = torch.optim.Adam(model.parameters(), lr=LR, betas=BETAS, eps=EPS)
    data = [(torch.from_numpy(x), torch.from_numpy(y).long()) for x, y in batches]

    def step(i):
        x, y = data[i % len(data)]
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    med, losses = time_steps(step, lambda: None, steps, warmup)
    return med, [losses[0].item(), losses[-1].item()], torch.__version__


# ---------------------------------------------------------------- main


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--no-vulkan", action="store_true")
    ap.add_argument("--no-torch", action="store_true")
    args = ap.parse_args(argv)

    import vkgrad

    batches = digits_batches()
    weights = init_weights()
    print(f"MLP {'->'.join(map(str, SIZES))}, batch {BATCH}, Adam; median of {args.steps} steps")
    print(f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPUs")

    rows = []  # (name, seconds, losses)
    med, losses = bench_numpy(batches, weights, args.steps, args.warmup)
    rows.append(("numpy (hand-written)", med, losses))
    torch_time = None
    if not args.no_torch:
        try:
            med, losses, ver = bench_torch(batches, weights, args.steps, args.warmup, args.threads)
            torch_time = med
            rows.append((f"pytorch {ver} cpu ({args.threads} threads)", med, losses))
        except ImportError:
            print("torch not importable: PyTorch column skipped")
    med, losses = bench_vkgrad("cpu", "f32", batches, weights, args.steps, args.warmup)
    rows.append(("vkgrad cpu f32", med, losses))
    vk = [d for d in vkgrad.devices() if d["device"].startswith("vulkan")]
    if vk and not args.no_vulkan:
        name = vk[0]["name"]
        for dt in ("f32", "f16"):
            med, losses = bench_vkgrad("vulkan", dt, batches, weights, args.steps, args.warmup)
            rows.append((f"vkgrad vulkan {dt} ({name})", med, losses))
    numpy_time = rows[0][1]

    width = max(len(r[0]) for r in rows)
    print()
    head = f"{'implementation':<{width}}  {'ms/step':>8}  {'vs torch':>8}  {'vs numpy':>8}  loss"
    print(head)
    print("-" * len(head))
    for name, sec, losses in rows:
        vs_t = f"{sec / torch_time:8.2f}" if torch_time else f"{'-':>8}"
        print(
            f"{name:<{width}}  {sec * 1e3:8.3f}  {vs_t}  {sec / numpy_time:8.2f}  "
            f"{losses[0]:.3f} -> {losses[1]:.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
