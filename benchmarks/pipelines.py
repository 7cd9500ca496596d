"""Eager MLP steps cycling over several input batches against one reused batch, on Vulkan.

    python benchmarks/pipelines.py [--steps 120] [--warmup 8] [--batches 4]

Model 64 -> 128 -> 10 (ReLU), batch 32, cross entropy, Adam(lr=1e-3), eager (no capture), in
f32 on the first Vulkan device. A step is zero_grad + forward + loss + backward + step, the
clock stopped after ``vkgrad.synchronize()``.

Two runs in one process, each with its own model, timed in interleaved rounds of 10 steps:
"cycling" feeds ``--batches`` different input batches in turn (each batch its own buffers, so
its own descriptor sets), "reused" feeds one batch every step. Printed: the median ms/step of
each and their ratio (the issue's target: cycling <= 1.25x reused); per step after warm-up,
the pipelines, descriptor sets, algorithms, submits, dispatches and barriers created or
recorded (backend stats); the RSS growth over the timed steps (target: under 50 MB over 120
steps), the pipelines built in all and the peak RSS. Not a timed test: it prints.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time

import numpy as np

SIZES = (64, 128, 10)
BATCH = 32


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def build(dtype: str, seed: int):
    import vkgrad.nn.functional as F
    from vkgrad import nn, optim

    rng = np.random.default_rng(seed)
    layers = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        lin = nn.Linear(fan_in, fan_out, device="vulkan", dtype=dtype)
        k = 1 / np.sqrt(fan_in)
        lin.load_state_dict(
            {
                "weight": rng.uniform(-k, k, (fan_out, fan_in)).astype(np.float32),
                "bias": rng.uniform(-k, k, fan_out).astype(np.float32),
            }
        )
        layers += [lin, nn.ReLU()]
    model = nn.Sequential(*layers[:-1])
    opt = optim.Adam(model.parameters(), lr=1e-3)

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def batches(n: int, dtype: str, seed: int) -> list:
    import vkgrad

    rng = np.random.default_rng(seed)
    return [
        (
            vkgrad.tensor(rng.standard_normal((BATCH, SIZES[0])).astype(np.float32),
                          device="vulkan", dtype=dtype),
            vkgrad.tensor(rng.integers(0, SIZES[-1], BATCH).astype(np.int32), device="vulkan"),
        )
        for _ in range(n)
    ]  # fmt: skip


COUNTERS = ("pipelines", "descriptor_sets", "algorithms_created", "submits", "dispatches",
            "barriers")  # fmt: skip


class Run:
    """One model and its input batches; ``steps(n)`` runs n steps and records their times and
    the backend counters they moved."""

    def __init__(self, name: str, nbatches: int, dtype: str) -> None:
        import vkgrad

        self.name = name
        self.be = vkgrad.Device.parse("vulkan").backend
        self.step = build(dtype, seed=0)
        self.data = batches(nbatches, dtype, seed=1)
        self.i = 0
        self.times: list = []
        self.counts = dict.fromkeys((k for k in COUNTERS if k in self.be.stats()), 0)
        self.rss_growth = 0.0

    def steps(self, n: int, timed: bool = True) -> None:
        import vkgrad

        s0, rss0 = self.be.stats(), rss_mb()
        for _ in range(n):
            t0 = time.perf_counter()
            self.step(*self.data[self.i % len(self.data)])
            vkgrad.synchronize()
            if timed:
                self.times.append(time.perf_counter() - t0)
            self.i += 1
        if timed:
            s1 = self.be.stats()
            for k in self.counts:
                self.counts[k] += s1[k] - s0[k]
            self.rss_growth += rss_mb() - rss0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--warmup", type=int, default=8)
    ap.add_argument("--batches", type=int, default=4)
    ap.add_argument("--dtype", default="f32")
    args = ap.parse_args(argv)

    import kp

    import vkgrad

    vk = [d for d in vkgrad.devices() if d["device"].startswith("vulkan")]
    if not vk:
        print("no Vulkan device")
        return 1
    print(f"vulkan device: {vk[0]['device']} {vk[0]['name']} ({vk[0]['type']})")
    print(
        f"kp: vkgrad_barriers={getattr(kp, 'vkgrad_barriers', 0)}, shared pipelines: "
        f"{hasattr(kp.Manager, 'vkgrad_stats')}"
    )
    print(
        f"MLP {'->'.join(map(str, SIZES))}, batch {BATCH}, Adam, eager {args.dtype}; "
        f"{args.steps} steps after {args.warmup} warm-up"
    )
    rss_start = rss_mb()
    runs = [Run(f"cycling {args.batches} batches", args.batches, args.dtype)]
    runs.append(Run("reused 1 batch", 1, args.dtype))
    for r in runs:
        r.steps(args.warmup, timed=False)
    # Interleaved rounds: a change in machine load hits both runs alike.
    rounds = max(1, args.steps // 10)
    for _ in range(rounds):
        for r in runs:
            r.steps(args.steps // rounds)
    keys = list(runs[0].counts)
    head = f"{'run':<20} {'ms/step':>8} " + " ".join(f"{k[:12]:>12}" for k in keys)
    print(head + f" {'RSS +MB':>8}")
    print("-" * (len(head) + 9))
    for r in runs:
        cells = " ".join(f"{r.counts[k] / len(r.times):12.2f}" for k in keys)
        ms = statistics.median(r.times) * 1e3
        print(f"{r.name:<20} {ms:8.2f} {cells} {r.rss_growth:8.1f}")
    print(
        f"(counters per step after warm-up; RSS growth over the {len(runs[0].times)} timed steps)"
    )
    ratio = statistics.median(runs[0].times) / statistics.median(runs[1].times)
    print(f"ratio cycling / reused: {ratio:.2f}")
    from vkgrad.device import Device

    st = Device.parse("vulkan").backend.stats()
    built = st.get("pipelines", st["algorithms_created"])
    print(f"pipelines built in all, warm-up included: {built}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"RSS at start {rss_start:.0f} MB, peak {peak:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
