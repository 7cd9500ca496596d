"""Time conv2d forward + backward on the cpu, vkgrad against PyTorch, in one run.

    python benchmarks/conv_step.py [--threads N] [--rounds 5] [--repeat 10] [--profile]

A step: y = conv2d(x, w, b, stride 1, padding 1), loss = sum(y * g) with a fixed random g,
then the gradients of x, w and b (``autograd.grad``, so nothing accumulates between steps).
vkgrad runs on the NumPy backend in f32, eager; PyTorch on its CPU backend, in the same
process, interleaved with vkgrad in ``--rounds`` rounds of ``--repeat`` steps each. Reported:
the median per layer shape, the ratio vkgrad / PyTorch (lower is faster) and the geometric
mean of the ratios over the first three shapes (the fourth is shown, not averaged).

``--profile`` runs vkgrad's step under cProfile afterwards and prints where its time goes.
Set ``OPENBLAS_CORETYPE`` (e.g. SkylakeX) before the run to pick OpenBLAS's kernels: on some
VMs it detects the CPU as a generic one and its GEMMs run several times slower.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys


def _threads_to_env(argv: list) -> None:
    """--threads N also goes to the BLAS thread variables, read once when NumPy loads: the
    setting that holds where threadpoolctl is not installed."""
    for i, arg in enumerate(argv):
        value = arg.split("=", 1)[1] if arg.startswith("--threads=") else None
        if arg == "--threads" and i + 1 < len(argv):
            value = argv[i + 1]
        if value:
            for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
                os.environ[var] = value


_threads_to_env(sys.argv[1:])

import numpy as np  # noqa: E402
from mlp_step import Runner, _limit_blas_threads, measure  # noqa: E402

# (input, weight): the two layers, the first conv of PyTorch's MNIST example, and a
# CIFAR-style first layer (shown, not in the geometric mean).
SHAPES = (
    ((64, 32, 26, 26), (64, 32, 3, 3)),
    ((32, 64, 16, 16), (64, 64, 3, 3)),
    ((64, 1, 28, 28), (32, 1, 3, 3)),
    ((64, 3, 32, 32), (32, 3, 3, 3)),
)
IN_GEOMEAN = 3
PADDING = 1


def layer_data(x_shape: tuple, w_shape: tuple, seed: int = 0) -> tuple:
    """x, w, b and the fixed output weighting g, f32, shared by every implementation."""
    rng = np.random.default_rng(seed)
    n, _, h, wd = x_shape
    cout, kh, kw = w_shape[0], w_shape[2], w_shape[3]
    k = 1 / np.sqrt(np.prod(w_shape[1:]))
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.uniform(-k, k, w_shape).astype(np.float32)
    b = rng.uniform(-k, k, cout).astype(np.float32)
    g_shape = (n, cout, h + 2 * PADDING - kh + 1, wd + 2 * PADDING - kw + 1)
    g = rng.standard_normal(g_shape).astype(np.float32)
    return x, w, b, g


def vkgrad_step(x, w, b, g):
    import vkgrad
    import vkgrad.nn.functional as F
    from vkgrad import autograd

    xs = [vkgrad.tensor(a, device="cpu", dtype="f32", requires_grad=True) for a in (x, w, b)]
    gt = vkgrad.tensor(g, device="cpu", dtype="f32")

    def step(_i):
        loss = (F.conv2d(*xs, padding=PADDING) * gt).sum()
        return autograd.grad(loss, xs)

    return step, vkgrad.synchronize


def torch_step(x, w, b, g):
    import torch

    xs = [torch.from_numpy(a).requires_grad_() for a in (x, w, b)]
    gt = torch.from_numpy(g)

    def step(_i):
        loss = (torch.nn.functional.conv2d(*xs, padding=PADDING) * gt).sum()
        return torch.autograd.grad(loss, xs)

    return step, lambda: None


def check_close(vk, pt, what: str) -> None:
    """The two implementations must compute the same gradients before their times count."""
    for name, a, ref in zip(("input", "weight", "bias"), vk, pt):
        a, ref = np.asarray(a.numpy()), ref.detach().numpy()
        scale = np.abs(ref).max() + 1e-30
        err = np.abs(a - ref).max() / scale
        if err > 1e-4:  # f32 sums of up to 64*28*28 terms
            raise SystemExit(f"{what}: grad {name} differs from PyTorch's (max rel err {err:.2g})")


def blas_description() -> str:
    """NumPy's BLAS library, version and the core type it picked (OpenBLAS's architecture)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "BLAS ? (threadpoolctl not importable)"
    for info in threadpool_info():
        if info["user_api"] == "blas" and "numpy" in info["filepath"]:
            return (
                f"{info['internal_api']} {info.get('version')} core {info.get('architecture')}, "
                f"{info['num_threads']} threads"
            )
    return "BLAS ?"


def profile(step, top: int) -> None:
    import cProfile
    import pstats

    for i in range(3):
        step(i)
    prof = cProfile.Profile()
    prof.enable()
    for i in range(10):
        step(i)
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(top)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    ap.add_argument("--repeat", type=int, default=10, help="timed steps per round")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads for NumPy's BLAS and for torch (default: NumPy's BLAS default)",
    )
    ap.add_argument("--profile", action="store_true", help="cProfile vkgrad's step per shape")
    ap.add_argument("--top", type=int, default=20, help="rows of the profile to print")
    args = ap.parse_args(argv)

    try:
        import torch
    except ImportError:
        print("conv_step: needs PyTorch, the peer it times against; not importable here")
        return 1

    blas_threads = _limit_blas_threads(args.threads)
    threads = args.threads or blas_threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    print(
        f"conv2d forward + backward (stride 1, padding {PADDING}, f32); median of "
        f"{args.rounds} x {args.repeat} steps after {args.warmup} warm-up, interleaved"
    )
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, torch {torch.__version__} "
        f"({threads} threads), {os.cpu_count()} CPUs, OPENBLAS_CORETYPE="
        f"{os.environ.get('OPENBLAS_CORETYPE', '(unset)')}"
    )
    print(f"numpy BLAS: {blas_description()}")

    rows = []
    for x_shape, w_shape in SHAPES:
        data = layer_data(x_shape, w_shape)
        vk_step, vk_sync = vkgrad_step(*data)
        pt_step, pt_sync = torch_step(*data)
        check_close(vk_step(0), pt_step(0), f"input {x_shape} weight {w_shape}")
        runners = [Runner("vkgrad", vk_step, vk_sync), Runner("torch", pt_step, pt_sync)]
        measure(runners, args.rounds * args.repeat, args.warmup, args.rounds)
        rows.append((x_shape, w_shape, runners[0].median(), runners[1].median()))
        if args.profile:
            print(f"\nprofile of vkgrad, input {x_shape} weight {w_shape}:")
            profile(vk_step, args.top)

    print()
    head = f"{'input':<18} {'weight':<16} {'vkgrad ms':>10} {'torch ms':>10} {'ratio':>7}"
    print(head)
    print("-" * len(head))
    for i, (xs, ws, vk, pt) in enumerate(rows):
        note = "" if i < IN_GEOMEAN else "  (not in geomean)"
        print(f"{str(xs):<18} {str(ws):<16} {vk * 1e3:10.3f} {pt * 1e3:10.3f} {vk / pt:7.2f}{note}")
    mean = statistics.geometric_mean([vk / pt for _, _, vk, pt in rows[:IN_GEOMEAN]])
    print(f"geometric mean of the ratio over the first {IN_GEOMEAN}: {mean:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
