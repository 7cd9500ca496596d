"""DistributedDataParallel on N ranks against single-process training on the whole batch.

Run by tests/test_distributed.py as ``mpirun -np N python tests/dist_worker_ddp.py DEVICE``.
Every rank also trains the reference itself: the same model from rank 0's initial weights,
in this process, without DDP, on the whole batch; rank r's DDP replica sees only its shard
(rows r, r + N, ... of each batch of 12). With the mean loss over equal shards, the average
of the shards' gradients is the whole batch's gradient, so the two must agree to rounding.

Prints ``ok <check>`` per check and ``done <rank>``; a failed assertion aborts the job.
"""

from __future__ import annotations

import sys

import numpy as np
from mpi4py import MPI

import vkgrad
import vkgrad.distributed as dist
import vkgrad.nn.functional as F
from vkgrad import nn
from vkgrad.capturing import CaptureError
from vkgrad.nn.parallel import DistributedDataParallel as DDP

DEVICE = sys.argv[1]
dist.init_process_group("mpi")
RANK, N = dist.get_rank(), dist.get_world_size()
BATCH, STEPS = 12, 6
TOL = 1e-5
rng = np.random.default_rng(0)
X = rng.standard_normal((STEPS, BATCH, 6)).astype(np.float32)
Y = rng.integers(0, 4, (STEPS, BATCH)).astype(np.int32)
SHARD = np.arange(RANK, BATCH, N)  # this rank's rows of every batch


def ok(name: str) -> None:
    print(f"ok {name}", flush=True)


def t(a: np.ndarray) -> vkgrad.Tensor:
    return vkgrad.tensor(a, device=DEVICE)


def mlp(bn=None) -> nn.Module:
    layers = [nn.Linear(6, 16), nn.Tanh()]
    if bn is not None:
        layers.insert(1, bn(16))
    return nn.Sequential(*layers, nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 4)).to(DEVICE)


def copy_of(model: nn.Module, like: nn.Module) -> nn.Module:
    model.load_state_dict({k: v.numpy() for k, v in like.state_dict().items()})
    return model


def max_diff(a: nn.Module, b: nn.Module) -> float:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    return max(float(np.abs(sa[k].numpy() - sb[k].numpy()).max()) for k in sa)


def identical_across_ranks(model: nn.Module, what: str) -> None:
    """Every rank's state, bit for bit, gathered with mpi4py directly (not vkgrad's
    collectives, which are under test too)."""
    mine = b"".join(v.numpy().tobytes() for v in model.state_dict().values())
    every = MPI.COMM_WORLD.allgather(mine)
    bad = [r for r, b in enumerate(every) if b != every[0]]
    assert not bad, f"{what}: ranks {bad} differ from rank 0"


def train(model, opt, steps=STEPS, rows=SHARD, each=None) -> list:
    losses = []
    for s in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(t(X[s][rows])), t(Y[s][rows]))
        loss.backward()
        if each is not None:
            each(s)
        opt.step()
        losses.append(loss.item())
    return losses


# ---------------------------------------------------------------- SGD with momentum, Adam

for name, make_opt in (
    ("sgd", lambda ps: vkgrad.optim.SGD(ps, lr=0.1, momentum=0.9)),
    ("adam", lambda ps: vkgrad.optim.Adam(ps, lr=0.01)),
):
    vkgrad.manual_seed(100 + RANK)  # different weights per rank: DDP must broadcast rank 0's
    model = mlp()
    # A cap of 256 bytes: four buckets for this model, so the overlap and order matter.
    ddp = DDP(model, bucket_cap_mb=256 / 2**20)
    assert len(ddp._buckets) >= 3, [b.names for b in ddp._buckets]
    ref = copy_of(mlp(), model)  # rank 0's initial weights, after the broadcast
    started_at = []  # how many gradients had arrived when each bucket started reducing
    real_start = ddp._start

    def spy(b, real_start=real_start, ddp=ddp, started_at=started_at):
        started_at.append(len(ddp._iter.ready))
        real_start(b)

    ddp._start = spy
    train(ddp, make_opt(ddp.parameters()))
    train(ref, make_opt(ref.parameters()), rows=np.arange(BATCH))
    d = max_diff(model, ref)
    assert d < TOL, f"{name}: DDP on {N} ranks differs from one process by {d}"
    identical_across_ranks(model, name)
    n_params = len(list(model.parameters()))
    # The first bucket started while backward still had gradients to produce.
    assert started_at[0] < n_params, started_at
    assert ddp.comm_stats["reductions"] == STEPS * len(ddp._buckets)
    ok(f"matches one process {name}")

# ---------------------------------------------------------------- no_sync

vkgrad.manual_seed(7 + RANK)
model = mlp()
ddp = DDP(model)
assert ddp.bucket_bytes_cap == 25 * 2**20 and len(ddp._buckets) == 1  # PyTorch's default
ref = copy_of(mlp(), model)
before = ddp.comm_stats["reductions"]
with ddp.no_sync():
    for s in (0, 1):
        F.cross_entropy(ddp(t(X[s][SHARD])), t(Y[s][SHARD])).backward()
assert ddp.comm_stats["reductions"] == before, "no_sync communicated"
local = [p.grad.numpy() for p in model.parameters()]
every = MPI.COMM_WORLD.allgather(local[0].tobytes())
assert N == 1 or every[0] != every[1], "no_sync gradients are already equal across ranks"
F.cross_entropy(ddp(t(X[2][SHARD])), t(Y[2][SHARD])).backward()
for s in (0, 1, 2):
    F.cross_entropy(ref(t(X[s])), t(Y[s])).backward()
for (name, p), q in zip(model.named_parameters(), ref.parameters()):
    d = float(np.abs(p.grad.numpy() - q.grad.numpy()).max())
    assert d < TOL, f"no_sync: {name}.grad differs from one process's by {d}"
identical_across_ranks(model, "no_sync grads")
ok("no_sync")

# ---------------------------------------------------------------- find_unused_parameters


class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(6, 4)
        self.b = nn.Linear(6, 4)  # used on rank 0 only
        self.never = nn.Linear(6, 4)  # used by no rank

    def forward(self, x):
        y = self.a(x)
        return y + self.b(x) if RANK == 0 else y


vkgrad.manual_seed(3)
model = Branchy().to(DEVICE)
ddp = DDP(model, find_unused_parameters=True)
F.cross_entropy(ddp(t(X[0][SHARD])), t(Y[0][SHARD])).backward()
g0 = model.b.weight.grad.numpy()
# b's gradient: rank 0's own, averaged with zeros from the other ranks.
ref = copy_of(Branchy().to(DEVICE), model)
if RANK == 0:
    F.cross_entropy(ref(t(X[0][SHARD])), t(Y[0][SHARD])).backward()
    want = ref.b.weight.grad.numpy() / N
else:
    want = None
want = MPI.COMM_WORLD.bcast(want, root=0)
assert np.abs(g0 - want).max() < TOL, np.abs(g0 - want).max()
assert model.never.weight.grad is None and model.never.bias.grad is None
identical_across_ranks(model, "find_unused")
# A second iteration works the same way.
F.cross_entropy(ddp(t(X[1][SHARD])), t(Y[1][SHARD])).backward()
ok("find_unused_parameters")

# Without it, the unused parameter leaves the reduction unfinished: the next forward says so.
vkgrad.manual_seed(3)
ddp = DDP(Branchy().to(DEVICE))
F.cross_entropy(ddp(t(X[0][SHARD])), t(Y[0][SHARD])).backward()
try:
    ddp(t(X[1][SHARD]))
except RuntimeError as e:
    assert "'never.weight'" in str(e) and "find_unused_parameters=True" in str(e), e
else:
    raise AssertionError("a forward after an unfinished reduction did not raise")
ok("unfinished reduction")

# ---------------------------------------------------------------- buffers, SyncBatchNorm

for broadcast_buffers in (True, False):
    vkgrad.manual_seed(11)
    model = mlp(nn.BatchNorm1d)
    seen = []
    model.register_forward_pre_hook(
        lambda m, args, seen=seen: seen.append(m[1].running_mean.numpy().tobytes())
    )
    ddp = DDP(model, broadcast_buffers=broadcast_buffers)
    opt = vkgrad.optim.SGD(ddp.parameters(), lr=0.1)
    train(ddp, opt, steps=3)
    every = MPI.COMM_WORLD.allgather(seen)
    same = all(e == every[0] for e in every)
    # Broadcast: every forward starts from rank 0's running statistics. Without it, each
    # rank's statistics follow its own shard and differ after the first step.
    assert same == broadcast_buffers or N == 1, (broadcast_buffers, same)
ok("broadcast_buffers")

vkgrad.manual_seed(5 + RANK)
model = nn.SyncBatchNorm.convert_sync_batchnorm(mlp(nn.BatchNorm1d))
assert isinstance(model[1], nn.SyncBatchNorm)
ddp = DDP(model)
ref = copy_of(mlp(nn.BatchNorm1d), model)  # a plain BatchNorm1d, one process, whole batch
train(ddp, vkgrad.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9))
train(ref, vkgrad.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9), rows=np.arange(BATCH))
d = max_diff(model, ref)  # running statistics included
assert d < TOL, f"SyncBatchNorm on {N} ranks differs from BatchNorm on the whole batch by {d}"
identical_across_ranks(model, "SyncBatchNorm")
ok("SyncBatchNorm")

# ---------------------------------------------------------------- capture refuses DDP

vkgrad.manual_seed(9)
model = mlp()
ddp = DDP(model)
opt = vkgrad.optim.SGD(ddp.parameters(), lr=0.1)


def step(x, y):
    opt.zero_grad()
    loss = F.cross_entropy(ddp(x), y)
    loss.backward()
    opt.step()
    return loss


strict = vkgrad.capture(step)
strict(t(X[0][SHARD]), t(Y[0][SHARD]))  # the warm-up runs eagerly
try:
    strict(t(X[1][SHARD]), t(Y[1][SHARD]))
except CaptureError as e:
    assert "DistributedDataParallel" in str(e) and "MPI" in str(e), e
else:
    raise AssertionError("capturing a DDP step did not raise")
lenient = vkgrad.capture(step, strict=False)
ref = copy_of(mlp(), model)
ropt = vkgrad.optim.SGD(ref.parameters(), lr=0.1)
for s in range(3):
    lenient(t(X[s][SHARD]), t(Y[s][SHARD]))
    ropt.zero_grad()
    F.cross_entropy(ref(t(X[s])), t(Y[s])).backward()
    ropt.step()
assert "DistributedDataParallel" in (lenient.eager_reason or ""), lenient.eager_reason
assert lenient.replays == 0
assert max_diff(model, ref) < TOL
ok("capture refuses DDP")

# ---------------------------------------------------------------- a different model per rank

try:
    DDP(nn.Linear(6, 4 if RANK == 0 else 5).to(DEVICE))
except RuntimeError as e:
    assert N == 1 or ("rank 1" in str(e) and "'weight'" in str(e) and "(5, 6)" in str(e)), e
else:
    assert N == 1, "DDP over different models did not raise"
ok("different models")

# ---------------------------------------------------------------- leaving the group

# Every DDP instance made above, the refused one included, holds a duplicated communicator;
# leaving the group frees them all, on every rank at the same point.
comm = DDP(mlp())._comm
assert comm != MPI.COMM_NULL
dist.destroy_process_group()
assert comm == MPI.COMM_NULL, "destroy_process_group left a DDP communicator allocated"
ok("communicators freed")

print(f"done {RANK}", flush=True)
