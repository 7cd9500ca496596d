"""Time one training step of an MLP on the digits data, for vkgrad and its peers, in one run.

    python benchmarks/mlp_step.py [--steps 50] [--warmup 5] [--threads N] [--no-vulkan]
                                  [--batch 128] [--width 256] [--profile]

Model 64 -> W -> W -> 10 (ReLU, W = ``--width``, 256 by default), batch ``--batch`` (128),
cross entropy, Adam(lr=1e-3). A step is zero_grad + forward + loss + backward + optimizer
step; the clock stops after ``vkgrad.synchronize()``. Reported: the median over ``--steps``
steps after ``--warmup``. ``--profile`` then prints where the eager cpu step spends its time.

Columns: vkgrad on each backend (cpu = NumPy; vulkan in f32 and f16 when a device exists),
each eager and through ``vkgrad.capture`` (the step recorded once, its kernels replayed),
the same step hand-written in NumPy, and PyTorch CPU when ``import torch`` works, with the
ratios of each time to PyTorch's and to the hand-written NumPy step (lower is faster). For
the Vulkan rows, the pipelines built per timed step (0 once warm; with a stock kp, where each
algorithm owns its pipeline, the algorithms built); at the end, the process's peak RSS.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import time

import numpy as np

BATCH = 128
WIDTH = 256
LR = 1e-3
BETAS = (0.9, 0.999)
EPS = 1e-8


def sizes(width: int = WIDTH) -> tuple:
    """Layer widths: the 64 digit pixels, two hidden layers of ``width``, the 10 classes."""
    return (64, width, width, 10)


def digits_batches(batch: int = BATCH, seed: int = 0) -> list:
    """Standardized digits, shuffled once, cut into full batches (f32, int labels)."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = x.astype(np.float32)
    std = x.std(axis=0)
    std[std == 0] = 1.0
    x = (x - x.mean(axis=0)) / std
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order].astype(np.int32)
    n = len(x) // batch
    return [(x[i * batch : (i + 1) * batch], y[i * batch : (i + 1) * batch]) for i in range(n)]


def init_weights(widths: tuple = sizes(), seed: int = 0) -> list:
    """PyTorch's default Linear init, shared by every implementation: [(W, b), ...] in f32."""
    rng = np.random.default_rng(seed)
    out = []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        k = 1 / np.sqrt(fan_in)
        w = rng.uniform(-k, k, (fan_out, fan_in)).astype(np.float32)
        b = rng.uniform(-k, k, fan_out).astype(np.float32)
        out.append((w, b))
    return out


class Runner:
    """One implementation: ``step(i)`` runs training step i and returns its loss (a float or
    a tensor), ``sync()`` waits for queued work."""

    def __init__(self, name: str, step, sync, pipelines=None) -> None:
        self.name, self.step, self.sync = name, step, sync
        self.pipelines = pipelines  # () -> pipelines built so far, where that means something
        self.built = 0  # pipelines built during timed steps
        self.times: list = []
        self.first = self.last = None
        self.i = 0

    def run(self, n: int, timed: bool) -> None:
        before = self.pipelines() if timed and self.pipelines else 0
        for _ in range(n):
            t0 = time.perf_counter()
            loss = self.step(self.i)
            self.sync()
            if timed:
                self.times.append(time.perf_counter() - t0)
            self.i += 1
            if self.first is None:
                self.first = loss
            self.last = loss
        if timed and self.pipelines:
            self.built += self.pipelines() - before

    def median(self) -> float:
        return statistics.median(self.times)


def measure(runners: list, steps: int, warmup: int, rounds: int) -> None:
    """Warm up every runner, then time ``steps`` steps of each, interleaved in ``rounds``
    rounds, so that a change in machine load hits every implementation alike."""
    for r in runners:
        r.run(warmup, timed=False)
    per_round = max(1, steps // rounds)
    for _ in range(rounds):
        for r in runners:
            # Re-warm after switching: the BLAS/OpenMP thread pools of the previous
            # implementation may still be spinning on the two cores.
            r.run(2, timed=False)
            r.run(per_round, timed=True)


# ---------------------------------------------------------------- vkgrad


def vkgrad_runner(device: str, dtype: str, batches, weights, captured: bool = False) -> Runner:
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

    def train_step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    if captured:
        train_step = vkgrad.capture(train_step)

    def step(i):
        return train_step(*data[i % len(data)])

    dev = vkgrad.Device.parse(device)
    how = " captured" if captured else ""
    pipelines = None
    if dev.type == "vulkan":
        stats = dev.backend.stats
        key = "pipelines" if "pipelines" in stats() else "algorithms_created"
        pipelines = lambda: stats()[key]  # noqa: E731
    return Runner(f"vkgrad {dev} {dtype}{how}", step, vkgrad.synchronize, pipelines)


# ---------------------------------------------------------------- hand-written NumPy


def numpy_runner(batches, weights) -> Runner:
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
            grads[2 * k] = g.T @ acts[k]
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

    return Runner("numpy (hand-written)", step, lambda: None)


# ---------------------------------------------------------------- PyTorch


def torch_runner(batches, weights, threads: int) -> Runner:
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

    name = f"pytorch {torch.__version__} cpu ({threads} threads)"
    return Runner(name, step, lambda: None)


# ---------------------------------------------------------------- main


def _value(loss) -> float:
    return float(loss) if isinstance(loss, float) else float(loss.detach().item())


_LIMITS = []


def _limit_blas_threads(n: int | None) -> int | None:
    """Set NumPy's BLAS thread count to n (when given); return the count in effect."""
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:
        return n
    if n:
        _LIMITS.append(threadpool_limits(limits=n, user_api="blas"))
    counts = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    return counts[0] if counts else None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=50, help="timed steps per implementation")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    ap.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads for NumPy's BLAS and for torch (default: NumPy's BLAS default)",
    )
    ap.add_argument("--no-vulkan", action="store_true")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--batch", type=int, default=BATCH, help="samples per step")
    ap.add_argument("--width", type=int, default=WIDTH, help="units in each hidden layer")
    ap.add_argument(
        "--profile",
        type=int,
        nargs="?",
        const=25,
        default=0,
        metavar="N",
        help="after timing, cProfile --steps eager vkgrad cpu steps; print the top N (25) "
        "functions by own time",
    )
    args = ap.parse_args(argv)

    import vkgrad

    blas_threads = _limit_blas_threads(args.threads)
    args.threads = args.threads or blas_threads or os.cpu_count() or 1
    batches = digits_batches(args.batch)
    weights = init_weights(sizes(args.width))
    print(
        f"MLP {'->'.join(map(str, sizes(args.width)))}, batch {args.batch}, Adam; median of "
        f"{args.steps} steps after {args.warmup} warm-up, in {args.rounds} interleaved rounds"
    )
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPUs, "
        f"BLAS threads {blas_threads or '?'}, torch threads {args.threads}"
    )

    runners = [numpy_runner(batches, weights)]
    torch_r = None
    if not args.no_torch:
        try:
            torch_r = torch_runner(batches, weights, args.threads)
            runners.append(torch_r)
        except ImportError:
            print("torch not importable: PyTorch column skipped")
    for captured in (False, True):
        runners.append(vkgrad_runner("cpu", "f32", batches, weights, captured))
    eager_cpu = runners[-2]
    vk = [d for d in vkgrad.devices() if d["device"].startswith("vulkan")]
    if vk and not args.no_vulkan:
        print(f"vulkan device: {vk[0]['device']} {vk[0]['name']} ({vk[0]['type']})")
        for dt in ("f32", "f16"):
            for captured in (False, True):
                runners.append(vkgrad_runner("vulkan", dt, batches, weights, captured))
    measure(runners, args.steps, args.warmup, args.rounds)

    numpy_time = runners[0].median()
    torch_time = torch_r.median() if torch_r else None
    width = max(len(r.name) for r in runners)
    print()
    head = (
        f"{'implementation':<{width}}  {'ms/step':>8}  {'vs torch':>8}  {'vs numpy':>8}  "
        f"{'pipe/step':>9}  loss"
    )
    print(head)
    print("-" * len(head))
    for r in runners:
        sec = r.median()
        vs_t = f"{sec / torch_time:8.2f}" if torch_time else f"{'-':>8}"
        pipe = f"{r.built / len(r.times):9.2f}" if r.pipelines else f"{'-':>9}"
        print(
            f"{r.name:<{width}}  {sec * 1e3:8.3f}  {vs_t}  {sec / numpy_time:8.2f}  {pipe}  "
            f"{_value(r.first):.3f} -> {_value(r.last):.3f}"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MB")
    if args.profile:
        profile(eager_cpu, args.steps, args.profile)
    return 0


def profile(runner: Runner, steps: int, top: int) -> None:
    """cProfile ``steps`` steps of ``runner``; print the ``top`` functions by own time."""
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    runner.run(steps, timed=False)
    prof.disable()
    print(f"\ncProfile of {steps} steps of {runner.name}, by own time:")
    pstats.Stats(prof, stream=sys.stdout).sort_stats("tottime").print_stats(top)


if __name__ == "__main__":
    sys.exit(main())
