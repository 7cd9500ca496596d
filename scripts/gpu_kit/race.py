"""Race check: the same training step, run again and again, must give the same bits.

    python race.py --device vulkan:0 --json race.json [--sizes gpu|local] [--replays 100]

For an MLP, a CNN with BatchNorm and a Transformer block, in f32 and f16: one eager step
creates the optimizer state, then everything a step changes (parameters, buffers, Adam's
moments and step counts, f16 master weights) is snapshotted. Before every later run the
snapshot is restored, so every run computes the same thing: ``--eager`` eager steps, then a
``vkgrad.capture`` of the step (warm-up, recording, ``--replays`` replays). The loss, every
parameter, buffer, optimizer state and gradient of each run are compared as raw bits with
the first eager run. A missing barrier on a GPU shows as runs that differ: any difference
fails. Writes the JSON after every model, so a timeout keeps what finished.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
from dispatched import Dispatched
from models import RACE_BUILDERS, RACE_SIZES, batch

import vkgrad
import vkgrad.nn as nn
import vkgrad.nn.functional as F


def state_tensors(model, opt) -> list:
    """(name, tensor) of everything a training step writes, besides the gradients."""
    out = [(f"param {n}", p) for n, p in model.named_parameters()]
    out += [(f"buffer {n}", b) for n, b in model.named_buffers()]
    for i, st in enumerate(opt.state.values()):
        out += [(f"adam[{i}].{k}", v) for k, v in st.items() if isinstance(v, vkgrad.Tensor)]
    return out


class Snapshot:
    """Copies of a model's and optimizer's state, written back in place (a captured step's
    recording is bound to the tensors' buffers, so they must stay the same tensors)."""

    def __init__(self, model, opt) -> None:
        self.tensors = [t for _, t in state_tensors(model, opt)]
        with vkgrad.no_grad():
            self.saved = [t.detach().clone() for t in self.tensors]
        self.steps = [(st, st["step"]) for st in opt.state.values()]

    def restore(self) -> None:
        with vkgrad.no_grad():
            for t, s in zip(self.tensors, self.saved):
                t.copy_(s)
        for st, step in self.steps:
            st["step"] = step


def read(loss, model, opt) -> dict:
    out = {"loss": loss.numpy()}
    out.update((n, t.numpy()) for n, t in state_tensors(model, opt))
    for n, p in model.named_parameters():
        out[f"grad {n}"] = None if p.grad is None else p.grad.numpy()
    return out


def differences(ref: dict, got: dict) -> list:
    """What differs between two runs, bit for bit: one line per tensor."""
    out = []
    for name, a in ref.items():
        b = got.get(name)
        if a is None or b is None:
            if (a is None) != (b is None):
                out.append(f"{name}: present in one run only")
            continue
        a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
        if a.dtype != b.dtype or a.shape != b.shape:
            out.append(f"{name}: {a.dtype}{a.shape} vs {b.dtype}{b.shape}")
        elif a.tobytes() != b.tobytes():
            bits = np.dtype(f"u{a.dtype.itemsize}")
            differ = a.view(bits) != b.view(bits)
            gap = np.abs(a[differ].astype(np.float64) - b[differ].astype(np.float64))
            gap = gap[~np.isnan(gap)]  # a NaN on one side only has no distance
            worst = float(gap.max()) if gap.size else float("nan")
            n = int(np.count_nonzero(differ))
            out.append(f"{name}: {n} of {a.size} elements differ (max |diff| {worst:.3g})")
    return out


def check(kind: str, preset: dict, dtype: str, device: str, eager: int, replays: int) -> dict:
    t0 = time.perf_counter()
    vkgrad.manual_seed(0)
    with vkgrad.device(device), vkgrad.dtype(dtype):
        model = RACE_BUILDERS[kind](nn, **preset)
        opt = vkgrad.optim.Adam(model.parameters(), lr=1e-3)
        xn, yn = batch(kind, preset)
        x, y = vkgrad.tensor(xn), vkgrad.tensor(yn.astype(np.int32))

        def step(x, y):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss

        step(x, y)  # creates the optimizer state that the snapshot must hold
        snap = Snapshot(model, opt)
        captured = vkgrad.capture(step)
        # The first eager run is the reference; then eager runs, then the captured step's
        # warm-up and recording, then its replays.
        runs = [step] * (1 + eager) + [captured] * (2 + replays)
        ref, bad = None, []
        for i, fn in enumerate(runs):
            snap.restore()
            got = read(fn(x, y), model, opt)
            if ref is None:
                ref = got
                continue
            diff = differences(ref, got)
            if diff:
                what = "eager" if i <= eager else f"captured call {i - eager}"
                bad.append(f"run {i} ({what}): " + "; ".join(diff[:3]))
    if captured.replays != replays:
        bad.append(f"expected {replays} replays, capture counted {captured.replays}")
    return {
        "model": kind,
        "dtype": dtype,
        "eager_runs": eager,
        "replays": captured.replays,
        "differing_runs": len(bad),
        "first_difference": bad[0] if bad else None,
        "loss": float(ref["loss"]),
        "seconds": round(time.perf_counter() - t0, 2),
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="vulkan")
    ap.add_argument("--json", required=True)
    ap.add_argument("--sizes", choices=sorted(RACE_SIZES), default="gpu")
    ap.add_argument("--eager", type=int, default=20)
    ap.add_argument("--replays", type=int, default=100)
    ap.add_argument("--variants-out", help="write the shader variants dispatched (JSON)")
    args = ap.parse_args()
    result = {"device": args.device, "sizes": args.sizes, "checks": []}
    failed = 0
    seen = Dispatched()
    for kind, preset in RACE_SIZES[args.sizes].items():
        for dtype in ("f32", "f16"):
            try:
                with seen:
                    r = check(kind, preset, dtype, args.device, args.eager, args.replays)
            except Exception as e:  # noqa: BLE001  (reported, and the other models still run)
                r = {"model": kind, "dtype": dtype, "error": f"{type(e).__name__}: {e}"}
            failed += bool(r.get("error") or r.get("differing_runs"))
            result["checks"].append(r)
            result["ok"] = failed == 0
            with open(args.json, "w") as f:
                json.dump(result, f, indent=1)
            status = r.get("error") or (
                f"{r['differing_runs']} differing runs: {r['first_difference']}"
                if r["differing_runs"]
                else f"identical bits over {r['eager_runs']} eager runs and "
                f"{r['replays']} replays ({r['seconds']} s)"
            )
            print(f"race {kind} {dtype}: {status}", flush=True)
    if args.variants_out:
        seen.write(args.variants_out)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
