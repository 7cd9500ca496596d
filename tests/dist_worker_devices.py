"""One process per Vulkan device, and ag.dp_train across the processes of the job.

Run by tests/test_distributed.py as ``mpirun -np N python tests/dist_worker_devices.py
KIND`` (KIND: cpu, or vulkan with two Vulkan devices visible: lavapipe listed twice, and
VKGRAD_VISIBLE_DEVICES=1,0 renumbering them). On vulkan, every rank records which devices
kp opens: a rank must open only its own, chosen by its local rank.

dp_train is checked against the same training written out in one process without MPI:
the same initial weights (the same seed on every rank), Adam on the mean loss of each whole
batch. Prints ``ok <check>`` and ``done <rank>``; a failed assertion aborts the job.
"""

from __future__ import annotations

import os
import sys

import numpy as np

KIND = sys.argv[1]
opened = []
if KIND == "vulkan":
    assert os.environ.get("VKGRAD_VISIBLE_DEVICES") == "1,0", "run with VKGRAD_VISIBLE_DEVICES=1,0"
    import kp

    real_manager = kp.Manager

    def recording_manager(*args):
        opened.append(args[0] if args else 0)
        return real_manager(*args)

    kp.Manager = recording_manager

import vkgrad  # noqa: E402
import vkgrad.distributed as dist  # noqa: E402
from vkgrad import ag  # noqa: E402

dist.init_process_group("mpi")
RANK, N = dist.get_rank(), dist.get_world_size()
TOL = 1e-5


def ok(name: str) -> None:
    print(f"ok {name}", flush=True)


assert dist.get_local_rank() == RANK  # one machine: local ranks are the ranks
assert dist.get_local_world_size() == N
if KIND == "vulkan":
    device = dist.local_device("vulkan")
    assert str(device) == f"vulkan:{RANK % 2}", device  # ranks past 2 share (round robin)
    x = vkgrad.ones(3, device=device) * 2  # use it
    assert x.numpy().tolist() == [2.0, 2.0, 2.0]
    # VKGRAD_VISIBLE_DEVICES=1,0: vkgrad's vulkan:0 is the loader's device 1, and back.
    physical = [1, 0][RANK % 2]
    assert opened == [physical], f"rank {RANK} opened devices {opened}, expected [{physical}]"
    listed = [d["physical_index"] for d in sys.modules["vkgrad.device"]._vulkan_devices()]
    assert listed == [1, 0], listed
    ok("one device per process")
else:
    device = dist.local_device()  # no Vulkan GPU here: the cpu
    assert device == "cpu", device

# ---------------------------------------------------------------- dp_train


def make_model():
    return ag.ag_sequential(ag.ag_linear(4, 12, activation="tanh"), ag.ag_linear(12, 3))


rng = np.random.default_rng(1)
X = rng.standard_normal((4, 23))
labels = rng.integers(0, 3, 23)
Y = np.eye(3)[labels].T  # one-hot columns: [classes, examples]
ITERS, LR, BATCH = 3, 0.05, 5


def reference(batch: int) -> tuple:
    """One process, whole batches, written out: what dp_train must equal on any N."""
    vkgrad.manual_seed(0)
    with vkgrad.device(device):
        model = make_model()
        opt = vkgrad.optim.Adam(list(model.parameters()), lr=LR)
        history = []
        for _ in range(ITERS):
            total = 0.0
            for s in range(0, X.shape[1], batch):
                cols = slice(s, s + batch)
                opt.zero_grad()
                with ag.with_grad_tape():
                    loss = ag.ag_softmax_cross_entropy_loss(
                        model(ag.ag_tensor(X[:, cols])), Y[:, cols]
                    )
                loss.backward()
                opt.step()
                total += loss.item() * X[:, cols].shape[1]
            history.append(total / X.shape[1])
    return {n: p.numpy() for n, p in model.named_parameters()}, history


def compare(result: dict, want: tuple, what: str) -> None:
    params, history = want
    for name, value in params.items():
        d = float(np.abs(result["params"][name] - value).max())
        assert d < TOL, f"{what}: {name} differs from one process by {d}"
    np.testing.assert_allclose(result["loss_history"], history, rtol=TOL, atol=TOL)
    assert history[-1] < history[0], history


# Columns (ag_dataloader's form); 23 examples in batches of 5: shards of 2/2/1 on three
# ranks, and a last batch of 3.
vkgrad.manual_seed(0)
result = ag.dp_train(
    make_model,
    (X, Y),
    loss_fn=ag.ag_softmax_cross_entropy_loss,
    n_iter=ITERS,
    lr=LR,
    batch_size=BATCH,
    device=device,
    verbose=False,
)
compare(result, reference(BATCH), "dp_train on columns")
ok("dp_train columns")

# A list of samples (ggmlR's form), one sample per rank per step (the default batch): with
# 23 samples the last step has fewer samples than ranks, so some ranks have none.
samples = [{"x": X[:, i : i + 1], "y": Y[:, i : i + 1]} for i in range(X.shape[1])]
vkgrad.manual_seed(0)
result = ag.dp_train(
    make_model,
    samples,
    loss_fn=ag.ag_softmax_cross_entropy_loss,
    forward_fn=lambda model, s: model(ag.ag_tensor(s["x"])),
    target_fn=lambda s: s["y"],
    n_iter=ITERS,
    lr=LR,
    device=device,
    verbose=1,
)
compare(result, reference(N), "dp_train on samples")
everyone = dist.process_group.GROUP.comm.allgather(
    b"".join(v.tobytes() for v in result["params"].values())
)
assert all(e == everyone[0] for e in everyone), "dp_train replicas differ across ranks"
ok("dp_train samples")

print(f"done {RANK}", flush=True)
