"""Data-parallel throughput on 1, 2, 4, ... MPI ranks: DistributedDataParallel on one box.

    python benchmarks/ddp_scaling.py [--ranks 1 2 4] [--device cpu] [--steps 100]
                                     [--per-rank-batch 128 | --global-batch 256]

For each rank count this launches ``mpirun -np N`` on this script (with Open MPI's switches
for root and for more ranks than cores) and prints one table row. The model is
mlp_step.py's: 64 -> 256 -> 256 -> 10 (ReLU), cross entropy, Adam(lr=1e-3), random data.
``--per-rank-batch`` fixes each rank's batch (weak scaling: the whole batch grows with the
ranks); ``--global-batch`` fixes the whole batch, split over the ranks (strong scaling).

A step is zero_grad + forward + loss + backward (which returns with the gradients averaged)
+ optimizer step; the clock runs over ``--steps`` steps after ``--warmup``, between two
barriers. Columns: samples per second (the whole batch times the steps, over the time),
the median step, and the time each step spends in gradient communication per rank (copies
to and from the host, waiting for the reductions still in flight after backward, broadcasting
buffers; DDP's ``comm_stats``, averaged over the ranks) and its share of the step. NumPy's
BLAS runs one thread per rank (OPENBLAS_NUM_THREADS=1 and friends, for every rank count), so
that ranks do not fight over cores through it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

SIZES = (64, 256, 256, 10)
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def worker(args) -> None:
    import vkgrad
    import vkgrad.distributed as dist
    import vkgrad.nn.functional as F
    from vkgrad import nn

    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    batch = args.per_rank_batch or args.global_batch // world
    device = vkgrad.Device.parse(args.device)
    vkgrad.manual_seed(0)
    layers = []
    for a, b in zip(SIZES, SIZES[1:]):
        layers += [nn.Linear(a, b, device=device, dtype="f32"), nn.ReLU()]
    ddp = nn.parallel.DistributedDataParallel(nn.Sequential(*layers[:-1]))
    opt = vkgrad.optim.Adam(ddp.parameters(), lr=1e-3)
    rng = np.random.default_rng(rank)
    x = vkgrad.tensor(rng.standard_normal((batch, SIZES[0])), dtype="f32", device=device)
    y = vkgrad.tensor(rng.integers(0, SIZES[-1], batch), device=device)

    def step() -> None:
        opt.zero_grad()
        F.cross_entropy(ddp(x), y).backward()
        opt.step()

    for _ in range(args.warmup):
        step()
    vkgrad.synchronize()
    before = dict(ddp.comm_stats)
    times = []
    dist.barrier()
    start = time.perf_counter()
    for _ in range(args.steps):
        t0 = time.perf_counter()
        step()
        vkgrad.synchronize()
        times.append(time.perf_counter() - t0)
    dist.barrier()
    elapsed = time.perf_counter() - start
    comm = sum(ddp.comm_stats[k] - before[k] for k in ("staging_s", "wait_s", "buffers_s"))
    every = [None] * world
    dist.all_gather_object(every, {"comm": comm, "median": statistics.median(times)})
    if rank == 0:
        row = {
            "ranks": world,
            "batch": batch * world,
            "samples_per_s": batch * world * args.steps / elapsed,
            "median_ms": 1e3 * statistics.median(e["median"] for e in every),
            "comm_ms": 1e3 * statistics.mean(e["comm"] for e in every) / args.steps,
        }
        print("ROW " + json.dumps(row), flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ranks", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=10)
    size = ap.add_mutually_exclusive_group()
    size.add_argument("--per-rank-batch", type=int, default=None)
    size.add_argument("--global-batch", type=int, default=None)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.per_rank_batch is None and args.global_batch is None:
        args.per_rank_batch = 128
    if args.worker:
        worker(args)
        return 0
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    env.update({v: "1" for v in THREAD_VARS})
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
    env["PYTHONPATH"] = os.path.abspath(src) + os.pathsep + env.get("PYTHONPATH", "")
    flags = ["--device", args.device, "--steps", str(args.steps), "--warmup", str(args.warmup)]
    if args.per_rank_batch:
        flags += ["--per-rank-batch", str(args.per_rank_batch)]
    else:
        flags += ["--global-batch", str(args.global_batch)]
    print(
        f"{datetime.date.today()}, {platform.node()}: {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, NumPy {np.__version__}, device {args.device}, "
        f"{args.steps} steps after {args.warmup}"
    )
    print(
        "| ranks | whole batch | samples/s | median step (ms) | communication per step (ms) "
        "| share |"
    )
    print("|---|---|---|---|---|---|")
    rows = []
    for n in args.ranks:
        cmd = ["mpirun", "--oversubscribe", "-np", str(n), sys.executable, __file__, "--worker"]
        proc = subprocess.run(cmd + flags, capture_output=True, text=True, env=env, timeout=900)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("ROW ")]
        if proc.returncode != 0 or not lines:
            print(proc.stdout + proc.stderr, file=sys.stderr)
            return 1
        r = json.loads(lines[0][4:])
        rows.append(r)
        print(
            f"| {r['ranks']} | {r['batch']} | {r['samples_per_s']:.0f} | {r['median_ms']:.2f} "
            f"| {r['comm_ms']:.2f} | {r['comm_ms'] / r['median_ms']:.0%} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
