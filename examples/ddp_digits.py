"""Train the digits MLP of train_digits.py data-parallel, one process per device, over MPI.

    mpirun -np 2 python examples/ddp_digits.py                 # each rank: its GPU, else the cpu
    mpirun -np 2 python examples/ddp_digits.py --device vulkan  # lavapipe counts too
    python examples/ddp_digits.py                               # a job of one process

(as root, Open MPI also wants --allow-run-as-root; on a machine with fewer cores than ranks,
--oversubscribe.) Every rank trains a replica of the model on its shard of each batch
(DistributedSampler); DistributedDataParallel averages the gradients during backward, so
the replicas stay identical and N ranks train as one process would on the whole batch of
--batch-size. The test set is split across the ranks too, and the correct counts summed.
Exits non-zero (on every rank) when the test accuracy is below 0.95, train_digits.py's
target.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import vkgrad
import vkgrad.distributed as dist
import vkgrad.nn.functional as F
from vkgrad import nn, optim
from vkgrad.data import DataLoader, DistributedSampler, TensorDataset
from vkgrad.device import default_dtype

TARGET = 0.95


def load_data(seed: int):
    """train_digits.py's split: standardized features, int32 labels, 80/20 by a fixed seed."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = x.astype(np.float32)
    y = y.astype(np.int32)
    order = np.random.default_rng(seed).permutation(len(x))
    n_train = int(0.8 * len(x))
    tr, te = order[:n_train], order[n_train:]
    mean, std = x[tr].mean(axis=0), x[tr].std(axis=0)
    std[std == 0] = 1.0  # constant border pixels
    x = (x - mean) / std
    return x[tr], y[tr], x[te], y[te]


def main(argv: list | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--device", default=None, help="cpu, vulkan or gpu (default: this rank's GPU, else cpu)"
    )
    ap.add_argument("--dtype", default=None, help="f32 or f16 (default: the device's default)")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=64, help="the whole batch, all ranks")
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    if args.batch_size % world:
        raise SystemExit(f"--batch-size {args.batch_size} does not split over {world} ranks")
    # One device per process: the local rank's GPU (or Vulkan device), else the cpu.
    if args.device in (None, "gpu"):
        device = dist.local_device("gpu")
    elif args.device == "vulkan":
        device = dist.local_device("vulkan")
    else:
        device = vkgrad.Device.parse(args.device)
    vkgrad.device(device)
    dtype = vkgrad.dtypes.get(args.dtype) if args.dtype else default_dtype(device)
    names = {d["device"]: d["name"] for d in vkgrad.devices()}
    where = [None] * world
    dist.all_gather_object(where, f"{device} ({names.get(str(device), '?')})")
    if rank == 0:
        print(f"ranks: {world}, dtype: {dtype.name}")
        for r, w in enumerate(where):
            print(f"device: {w}" if world == 1 else f"rank {r} device: {w}")

    x_tr, y_tr, x_te, y_te = load_data(args.seed)
    vkgrad.manual_seed(args.seed)
    model = nn.Sequential(
        nn.Linear(64, args.hidden, device=device, dtype=dtype),
        nn.ReLU(),
        nn.Linear(args.hidden, 10, device=device, dtype=dtype),
    )
    ddp = nn.parallel.DistributedDataParallel(model)  # rank 0's weights on every rank
    opt = optim.Adam(ddp.parameters(), lr=args.lr)
    train = TensorDataset(
        vkgrad.tensor(x_tr, dtype=dtype, device=device), vkgrad.tensor(y_tr, device=device)
    )
    sampler = DistributedSampler(train, seed=args.seed)  # this rank's share of each epoch
    loader = DataLoader(train, batch_size=args.batch_size // world, sampler=sampler)

    # A DDP step is not captured (vkgrad.capture refuses it: the averaging runs on the host
    # between backward's kernels), so the loop is eager.
    t0 = time.perf_counter()
    epoch_losses = []
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)  # a new shuffle, the same on every rank
        losses = []
        for xb, yb in loader:
            loss = F.cross_entropy(ddp(xb), yb)
            opt.zero_grad()
            loss.backward()  # returns with the gradients averaged over the ranks
            opt.step()
            losses.append(loss.detach())
        # Host values: reduced on the cpu backend whatever the training device.
        mean = vkgrad.tensor(
            [float(np.mean([t.item() for t in losses]))], dtype="f64", device="cpu"
        )
        dist.all_reduce(mean, dist.ReduceOp.AVG)
        epoch_losses.append(mean.item())
        if rank == 0:
            print(f"epoch {epoch + 1}/{args.epochs}: loss {epoch_losses[-1]:.4f}", flush=True)
    vkgrad.synchronize()
    elapsed = time.perf_counter() - t0

    # Each rank scores its part of the test set; the counts are summed over the ranks.
    part = np.array_split(np.arange(len(x_te)), world)[rank]
    model.eval()
    with vkgrad.no_grad():
        logits = model(vkgrad.tensor(x_te[part], dtype=dtype, device=device)).numpy()
    correct = int((logits.argmax(axis=1) == y_te[part]).sum())
    counts = vkgrad.tensor([correct, len(part)], device="cpu")
    dist.all_reduce(counts)
    correct, total = counts.tolist()
    acc = correct / total
    stats = [None] * world
    dist.all_gather_object(stats, ddp.comm_stats)
    if rank == 0:
        samples = args.epochs * len(sampler) * world
        comm = np.mean([s["staging_s"] + s["wait_s"] + s["buffers_s"] for s in stats])
        print(f"train loss: {epoch_losses[0]:.4f} -> {epoch_losses[-1]:.4f}")
        print(
            f"train time: {elapsed:.2f} s ({args.epochs} epochs, {samples / elapsed:.0f} "
            f"samples/s, {comm:.2f} s per rank in gradient communication)"
        )
        print(f"test accuracy: {acc:.4f}")
    if acc < TARGET:
        if rank == 0:
            print(f"FAILED: test accuracy {acc:.4f} is below {TARGET}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
