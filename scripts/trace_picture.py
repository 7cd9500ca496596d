"""Profile one training step and draw its kernel trace as a timeline picture.

    python scripts/trace_picture.py [--device cpu --device vulkan ...]
                                    [--out docs/img/trace_step.png] [--trace trace.json]

The step: an MLP 64 -> 256 -> 256 -> 10 (ReLU), batch 128, cross entropy, Adam, on random
data, after three warm-up steps (shader compiles and pipeline creation are not in the
picture). Each device given is profiled on its own step. Top: every kernel on its device's
timeline (ms from the device's first kernel), coloured by op (the ten with the most time;
the rest grey); gaps are time the device waited for the host. Bottom: time per op and
device. ``--trace`` also writes the Chrome traces (``trace.json`` -> ``trace.cpu.json``...;
open them in https://ui.perfetto.dev).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def profile_step(device: str):
    import vkgrad
    import vkgrad.nn.functional as F
    from vkgrad import nn, optim

    vkgrad.manual_seed(0)
    sizes = (64, 256, 256, 10)
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(n_in, n_out, device=device, dtype="f32"), nn.ReLU()]
    model = nn.Sequential(*layers[:-1])
    opt = optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    x = vkgrad.tensor(rng.standard_normal((128, 64)).astype(np.float32), device=device)
    y = vkgrad.tensor(rng.integers(0, 10, 128).astype(np.int32), device=device)

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    for _ in range(3):
        step().item()
    with vkgrad.profiler.profile() as prof:
        step().item()
    dev = vkgrad.Device.parse(device)
    name = "cpu (NumPy)"
    if dev.type == "vulkan":
        info = [d for d in vkgrad.devices() if d["device"] == str(dev)][0]
        name = f"{dev} {info['name']}"
    return prof, name


def draw(profiles: list, out: str) -> None:
    """``profiles``: (profile, device title) pairs, one timeline lane each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def op(key: str) -> str:
        return key.split("[")[0]

    lanes = []  # (title, X events)
    total: dict = {}  # (op, lane) -> us
    for prof, title in profiles:
        events = [e for e in prof.trace_events() if e["ph"] == "X"]
        lanes.append((title, events))
        for e in events:
            k = (op(e["name"]), len(lanes) - 1)
            total[k] = total.get(k, 0.0) + e["dur"]
    per_op: dict = {}
    for (name, _), us in total.items():
        per_op[name] = per_op.get(name, 0.0) + us
    ranked = sorted(per_op, key=per_op.get, reverse=True)
    cmap = plt.get_cmap("tab10")
    colour = {s: cmap(i) for i, s in enumerate(ranked[:10])}

    fig, (ax, bx) = plt.subplots(
        2, 1, figsize=(10, 5.6), gridspec_kw={"height_ratios": [1, 2]}, dpi=100
    )
    labels = []
    for lane, (title, events) in enumerate(lanes):
        for e in events:
            ax.broken_barh(
                [(e["ts"] / 1e3, max(e["dur"], 1e-3) / 1e3)],
                (lane - 0.4, 0.8),
                facecolors=colour.get(op(e["name"]), "0.75"),
                edgecolor="white",
                linewidth=0.2,
            )
        span = max(e["ts"] + e["dur"] for e in events) / 1e3
        busy = sum(e["dur"] for e in events) / 1e3
        labels.append(f"{title}\n{len(events)} kernels, {busy:.1f} of {span:.1f} ms busy")
    ax.set_yticks(range(len(lanes)), labels, fontsize=8)
    ax.set_ylim(-0.6, len(lanes) - 0.4)
    ax.invert_yaxis()
    ax.set_xlabel("ms from the device's first kernel of the step")
    ax.set_title("One Adam step of an MLP 64-256-256-10, batch 128 (vkgrad.profiler)", fontsize=10)

    shown = ranked[:12]
    height = 0.8 / len(lanes)
    for lane, (title, _) in enumerate(lanes):
        bx.barh(
            [i + (lane - (len(lanes) - 1) / 2) * height for i in range(len(shown))],
            [total.get((s, lane), 0.0) / 1e3 for s in shown],
            height=height,
            color=[colour.get(s, "0.75") for s in shown],
            hatch=["", "///", "..", "xx"][lane % 4],
            edgecolor="white",
            label=title.split(" ")[0],
        )
    bx.set_yticks(range(len(shown)), shown, fontsize=8)
    bx.invert_yaxis()
    bx.set_xscale("log")
    bx.set_xlabel("time per op in the step, ms (log scale; plain: first device, hatched: next)")
    fig.tight_layout()
    fig.savefig(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--device", action="append", help="cpu, vulkan or vulkan:N; repeat for more lanes"
    )
    ap.add_argument("--out", default="docs/img/trace_step.png")
    ap.add_argument("--trace", default=None, help="also write the Chrome trace JSON here")
    args = ap.parse_args(argv)
    profiles = [profile_step(d) for d in args.device or ["vulkan"]]
    for d, (prof, _) in zip(args.device or ["vulkan"], profiles):
        print(prof.key_averages().table(row_limit=15))
        if args.trace:
            stem, _, ext = args.trace.rpartition(".")
            prof.export_chrome_trace(f"{stem}.{d.replace(':', '')}.{ext}")
    draw(profiles, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
