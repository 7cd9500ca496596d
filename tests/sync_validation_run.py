"""Vulkan work for tests/test_sync_validation.py to run under the Khronos validation layer.

    python tests/sync_validation_run.py models|kinds|planted

``models``: training steps (zero_grad, forward, cross entropy, backward, Adam) of an MLP with
dropout, a CNN with BatchNorm2d and a self-attention block, in f32 and f16, each eager (two
steps) and through ``vkgrad.capture`` (eager, recorded, replayed with a new batch).
``kinds``: forward and backward of one op spec (tests/op_specs.py) per Vulkan kind, and a
check that every kind in ``kinds.RUNNERS`` dispatched (the update kind runs in ``models``).
``planted``: two dependent dispatches; run with ``VKGRAD_UNSAFE_NO_BARRIERS=1`` the layer
must report the race.

Exits non-zero when a step fails or a kind was not dispatched; the validation layer's own
messages go to stdout, where the test reads them.
"""

from __future__ import annotations

import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).parent))

import vkgrad  # noqa: E402
import vkgrad.nn.functional as F  # noqa: E402
from vkgrad import nn, optim  # noqa: E402

DEV = "vulkan"

# One spec per kind whose forward or backward dispatches it (the kind is checked, not assumed).
KIND_SPECS = {
    "map": "add_bcast",
    "reduce": "sum_dim0",
    "row": "softmax_last",
    "loss_row": "cross_entropy_index_mean",
    "axis": "var_dim",
    "matmul": "matmul_2d",
    "normalize": "layer_norm",
    "attn_bw": "scaled_dot_product_attention",
    "window": "conv2d_basic",
    "gather": "embedding",
    "scatter": "scatter_src",
    "scatter_add": "scatter_add_1d",
    "index_linear": "getitem_tensor",
    "shape_index": "one_hot",
    "cat": "cat",
    "smallmat": "solve",
    "svd": "svd",
    "rng": "dropout",
}


def mlp(dt):
    # Dropout: each step draws a mask from the generator's state and advances it, which the
    # replays repeat on the device.
    return nn.Sequential(
        nn.Linear(16, 32, device=DEV, dtype=dt),
        nn.ReLU(),
        nn.Dropout(0.25),
        nn.Linear(32, 4, device=DEV, dtype=dt),
    )


def cnn(dt):
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, device=DEV, dtype=dt),
        nn.BatchNorm2d(4, device=DEV, dtype=dt),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(4 * 4 * 4, 4, device=DEV, dtype=dt),
    )


class Attention(nn.Module):
    def __init__(self, dt) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True, device=DEV, dtype=dt)
        self.norm = nn.LayerNorm(8, device=DEV, dtype=dt)
        self.head = nn.Linear(8, 4, device=DEV, dtype=dt)

    def forward(self, x):
        h = self.norm(x + self.attn(x, x, x, need_weights=False)[0])
        return self.head(h.mean(dim=1))


MODELS = {
    "mlp": (mlp, (8, 16)),
    "cnn": (cnn, (4, 1, 8, 8)),
    "attention": (Attention, (2, 5, 8)),
}


def train(name: str, dt: str, captured: bool) -> None:
    make, shape = MODELS[name]
    model = make(dt)
    opt = optim.Adam(model.parameters(), lr=1e-3)

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    if captured:
        step = vkgrad.capture(step)
    rng = np.random.default_rng(0)
    losses = []
    for _ in range(3 if captured else 2):  # captured: eager, recorded, replayed
        x = vkgrad.tensor(rng.standard_normal(shape).astype(np.float32), device=DEV, dtype=dt)
        y = vkgrad.tensor(rng.integers(0, 4, shape[0]).astype(np.int32), device=DEV)
        losses.append(float(step(x, y).item()))
    if not all(np.isfinite(losses)):
        sys.exit(f"{name} {dt} captured={captured}: losses {losses} are not finite")
    print(f"ran {name} {dt} {'captured' if captured else 'eager'}: losses {losses}", flush=True)


def models() -> None:
    for dt in ("f32", "f16"):
        for name in MODELS:
            for captured in (False, True):
                train(name, dt, captured)


def kinds() -> None:
    import helpers
    import op_specs

    from vkgrad.backends.vulkan import kinds as kinds_mod

    seen: set = set()
    for kind, runner in list(kinds_mod.RUNNERS.items()):

        def logged(*args, _kind=kind, _run=runner, **kw):
            seen.add(_kind)
            return _run(*args, **kw)

        kinds_mod.RUNNERS[kind] = logged
    specs = {s.name: s for s in op_specs.SPECS}
    missing_specs = sorted(set(KIND_SPECS.values()) - set(specs))
    if missing_specs:
        sys.exit(f"KIND_SPECS names specs that tests/op_specs.py lacks: {missing_specs}")
    for kind, name in KIND_SPECS.items():
        spec = specs[name]
        case = helpers.Case(spec, "f32")
        helpers.forward(spec, case.arrays, case.aux, DEV, "f32")
        if spec.grad:
            helpers.vjp(spec, case.arrays, case.aux, case.gout, DEV, "f32")
        vkgrad.synchronize()
        print(f"ran kind {kind}: spec {name}", flush=True)
    missing = sorted(set(kinds_mod.RUNNERS) - seen - {"update"})
    if missing:
        sys.exit(f"kinds never dispatched: {missing}; add a spec for each to KIND_SPECS")


def planted() -> None:
    from vkgrad.device import Device

    rec = Device.parse(DEV).backend.recorder
    if not rec.unsafe_no_barriers:
        sys.exit("planted: run with VKGRAD_UNSAFE_NO_BARRIERS=1")
    x = vkgrad.tensor(np.arange(64, dtype=np.float32), device=DEV)
    y = (x + 1.0) * 2.0  # the mul reads what the add wrote: a barrier belongs between them
    print("planted: barriers dropped:", rec.barriers, "result", y.sum().item(), flush=True)


if __name__ == "__main__":
    {"models": models, "kinds": kinds, "planted": planted}[sys.argv[1]]()
