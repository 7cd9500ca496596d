"""Benchmarks, in one process on one device: vkgrad against PyTorch, and against the card.

    python bench.py --device vulkan:0 --json bench.json [--sizes gpu|local] [--budget 150]

Training steps (zero_grad, forward, cross entropy, backward, Adam) of the models in
models.py, in f32 and f16: vkgrad eager and ``vkgrad.capture``d, PyTorch eager and, on CUDA,
the same step captured in a CUDA graph (``torch.cuda.graph``, Adam with
``capturable=True``). PyTorch's f16 is autocast (f16 compute, f32 weights and Adam state);
vkgrad's keeps f16 weights with f32 master copies and f32 Adam state. Then GEMM
(n x n @ n x n) in TFLOP/s and an elementwise add in GB/s (3 arrays moved), for vkgrad and
PyTorch, with the shaders vkgrad dispatched. Every time is the median over repeats of one
call followed by a synchronize (``vkgrad.synchronize()``, ``torch.cuda.synchronize()``).
Measurements that would start past ``--budget`` seconds are skipped, and the JSON is
rewritten after each one, so a timeout keeps what finished.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from functools import partial

import numpy as np
from dispatched import Dispatched
from models import BUILDERS, SIZES, batch

import vkgrad
import vkgrad.nn as vnn
import vkgrad.nn.functional as VF

# (warm-up calls, timed calls) per training step; GEMM and elementwise: (size, calls per
# timing, timings).
PLAN = {
    "gpu": {"steps": (5, 30), "gemm": (4096, 10, 5), "elementwise": (1 << 26, 10, 5)},
    "local": {"steps": (3, 5), "gemm": (256, 3, 3), "elementwise": (1 << 20, 3, 3)},
}


def measure(call, sync, warmup: int, repeats: int) -> float:
    """Median milliseconds of ``call(); sync()`` over ``repeats``, after ``warmup`` calls."""
    for _ in range(warmup):
        call()
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        call()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def _sig(x: float) -> float:
    """``x`` to 4 significant digits (a lavapipe GEMM runs at 0.0005 TFLOP/s)."""
    return float(f"{x:.4g}")


# ---------------------------------------------------------------- training steps


def vkgrad_step(kind: str, preset: dict, captured: bool):
    vkgrad.manual_seed(0)
    model = BUILDERS[kind](vnn, **preset)
    opt = vkgrad.optim.Adam(model.parameters(), lr=1e-3)
    xn, yn = batch(kind, preset)
    x, y = vkgrad.tensor(xn), vkgrad.tensor(yn.astype(np.int32))

    def step(x, y):
        opt.zero_grad()
        loss = VF.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    fn = vkgrad.capture(step) if captured else step
    return lambda: fn(x, y)


def torch_step(torch, kind: str, preset: dict, half: bool, device: str, graphs: bool):
    """PyTorch's step; ``half``: f16 by autocast (f32 weights and Adam state, f16 compute),
    as PyTorch trains in f16. Pure-f16 weights would make Adam's eps (1e-8) round to 0."""
    torch.manual_seed(0)
    model = BUILDERS[kind](torch.nn, **preset).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, capturable=graphs)
    xn, yn = batch(kind, preset)
    x = torch.tensor(xn, device=device)
    y = torch.tensor(yn, device=device)
    ce = torch.nn.functional.cross_entropy
    # No autocast weight cache: a CUDA graph must not capture casts cached outside it.
    precision = torch.autocast(device, torch.float16, enabled=half, cache_enabled=False)

    def forward():
        with precision:
            return ce(model(x), y)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = forward()
        loss.backward()
        opt.step()
        return loss

    if not graphs:
        return step
    # Whole-step capture as in PyTorch's CUDA graphs notes: warm up on a side stream, then
    # record forward, backward and the optimizer step; a replay reruns all of it.
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    opt.zero_grad(set_to_none=True)
    with torch.cuda.graph(graph):
        static_loss = forward()
        static_loss.backward()
        opt.step()

    def replay():
        graph.replay()
        return static_loss

    return replay


# ---------------------------------------------------------------- the run


class Bench:
    def __init__(self, args) -> None:
        self.args = args
        self.plan = PLAN[args.sizes]
        self.deadline = time.perf_counter() + args.budget
        self.out = {"device": args.device, "sizes": args.sizes, "train": [], "kernels": []}
        self.torch = self.tdev = None
        try:
            import torch

            self.torch = torch
            self.tdev = "cuda" if torch.cuda.is_available() else "cpu"
            self.out["torch"] = {
                "version": torch.__version__,
                "device": torch.cuda.get_device_name() if self.tdev == "cuda" else "cpu",
            }
        except ImportError as e:
            self.out["torch"] = {"error": f"not importable: {e}"}
        print(f"peer: {self.out['torch']}", flush=True)

    def save(self) -> None:
        with open(self.args.json, "w") as f:
            json.dump(self.out, f, indent=1)

    def record(self, section: str, row: dict, run) -> None:
        """Run one measurement (``run() -> dict``) into ``row``; errors and the time budget
        are recorded instead of stopping the others."""
        if time.perf_counter() > self.deadline:
            row["skipped"] = "time budget spent"
        else:
            try:
                row.update(run())
            except Exception as e:  # noqa: BLE001  (one failed measurement is reported)
                row["error"] = f"{type(e).__name__}: {e}"[:300]
        self.out[section].append(row)
        self.save()
        shown = {k: v for k, v in row.items() if k not in ("section",)}
        print(f"{section}: {shown}", flush=True)

    def train(self) -> None:
        for kind, preset in SIZES[self.args.sizes].items():
            for dt in ("f32", "f16"):
                for captured in (False, True):
                    impl = "vkgrad captured" if captured else "vkgrad eager"
                    row = {"model": kind, "dtype": dt, "impl": impl}
                    self.record("train", row, partial(self._vk_train, kind, preset, dt, captured))
                if self.torch is None:
                    continue
                for graphs in (False, True) if self.tdev == "cuda" else (False,):
                    impl = f"torch {self.tdev}" + (" graphs" if graphs else " eager")
                    row = {"model": kind, "dtype": dt, "impl": impl}
                    self.record("train", row, partial(self._torch_train, kind, preset, dt, graphs))

    def _vk_train(self, kind, preset, dt, captured) -> dict:
        warm, reps = self.plan["steps"]
        with vkgrad.device(self.args.device), vkgrad.dtype(dt):
            call = vkgrad_step(kind, preset, captured)
            ms = measure(call, vkgrad.synchronize, warm + 2 * captured, reps)
            return {"ms": _sig(ms), "loss": float(call().item())}

    def _torch_train(self, kind, preset, dt, graphs) -> dict:
        torch = self.torch
        warm, reps = self.plan["steps"]
        call = torch_step(torch, kind, preset, dt == "f16", self.tdev, graphs)
        ms = measure(call, self._torch_sync, warm, reps)
        return {"ms": _sig(ms), "loss": float(call().item())}

    def _torch_sync(self) -> None:
        if self.tdev == "cuda":
            self.torch.cuda.synchronize()

    def kernels(self) -> None:
        n, calls, reps = self.plan["gemm"]
        for dt in ("f32", "f16"):
            row = {"kernel": "gemm", "impl": "vkgrad", "dtype": dt, "n": n}
            self.record("kernels", row, partial(self._vk_kernel, "gemm", n, dt, calls, reps))
            if self.torch is not None:
                row = {"kernel": "gemm", "impl": f"torch {self.tdev}", "dtype": dt, "n": n}
                self.record("kernels", row, partial(self._torch_kernel, "gemm", n, dt, calls, reps))
        n, calls, reps = self.plan["elementwise"]
        for dt in ("f32", "f16"):
            row = {"kernel": "add", "impl": "vkgrad", "dtype": dt, "n": n}
            self.record("kernels", row, partial(self._vk_kernel, "add", n, dt, calls, reps))
            if self.torch is not None:
                row = {"kernel": "add", "impl": f"torch {self.tdev}", "dtype": dt, "n": n}
                self.record("kernels", row, partial(self._torch_kernel, "add", n, dt, calls, reps))

    @staticmethod
    def _rate(kernel: str, n: int, dt: str, calls: int, ms: float) -> dict:
        sec = ms / 1e3
        if kernel == "gemm":
            return {"ms": _sig(ms), "tflops": _sig(2 * n**3 * calls / sec / 1e12)}
        size = 2 if dt == "f16" else 4
        return {"ms": _sig(ms), "gbs": _sig(3 * n * size * calls / sec / 1e9)}

    def _vk_kernel(self, kernel, n, dt, calls, reps) -> dict:
        with vkgrad.device(self.args.device), vkgrad.dtype(dt), vkgrad.no_grad():
            shape = (n, n) if kernel == "gemm" else (n,)
            a, b = vkgrad.randn(*shape), vkgrad.randn(*shape)
            op = (lambda: a @ b) if kernel == "gemm" else (lambda: a + b)

            def call():
                for _ in range(calls):
                    op()

            with Dispatched() as seen:
                ms = measure(call, vkgrad.synchronize, 1, reps)
        return {**self._rate(kernel, n, dt, calls, ms), "shaders": seen.names}

    def _torch_kernel(self, kernel, n, dt, calls, reps) -> dict:
        torch = self.torch
        dtype = torch.float16 if dt == "f16" else torch.float32
        shape = (n, n) if kernel == "gemm" else (n,)
        a = torch.randn(*shape, device=self.tdev, dtype=dtype)
        b = torch.randn(*shape, device=self.tdev, dtype=dtype)
        op = (lambda: a @ b) if kernel == "gemm" else (lambda: a + b)

        def call():
            for _ in range(calls):
                op()

        ms = measure(call, self._torch_sync, 1, reps)
        return self._rate(kernel, n, dt, calls, ms)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="vulkan")
    ap.add_argument("--json", required=True)
    ap.add_argument("--sizes", choices=sorted(PLAN), default="gpu")
    ap.add_argument("--budget", type=float, default=150.0)
    ap.add_argument("--variants-out", help="write the shader variants dispatched (JSON)")
    args = ap.parse_args()
    bench = Bench(args)
    with Dispatched() as seen:
        bench.train()
        bench.kernels()
    if args.variants_out:
        seen.write(args.variants_out)
    # A peer's failure (PyTorch CPU without an f16 kernel) is reported, not a kit failure.
    rows = bench.out["train"] + bench.out["kernels"]
    errors = [r for r in rows if "error" in r and r["impl"].startswith("vkgrad")]
    if errors:
        print(f"bench: {len(errors)} vkgrad measurements failed, first: {errors[0]}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
