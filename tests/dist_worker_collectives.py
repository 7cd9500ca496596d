"""Every collective of vkgrad.distributed against NumPy, on every dtype it accepts.

Run by tests/test_distributed.py as ``mpirun -np N python tests/dist_worker_collectives.py
DEVICE``. Every rank builds every rank's inputs from a seed (rank q's input is a function of
q), so each can compute the expected result with NumPy alone. Values lie on a grid of
quarters, where sums, products, minima, maxima and means of a few of them are exact in
every float dtype: results are compared exactly, except where a comment says why not.

Prints ``ok <check>`` per check and ``done <rank>`` at the end; a failed assertion raises,
which aborts the whole job (non-zero exit) through vkgrad.distributed's excepthook.
"""

from __future__ import annotations

import sys

import numpy as np

import vkgrad
import vkgrad.distributed as dist
from vkgrad.distributed import ReduceOp

DEVICE = sys.argv[1]
dist.init_process_group("mpi")
RANK, N = dist.get_rank(), dist.get_world_size()
DTYPES = ["float32", "float16", "int32", "bool"] + (["float64"] if DEVICE == "cpu" else [])
SHAPE = (3, 5)


def data(q: int, dtype: str, shape=SHAPE, salt: int = 0, product: bool = False) -> np.ndarray:
    """Rank q's input: quarters in [-4, 4] (products: halves and ones, so that N of them
    multiply exactly), integers, or booleans."""
    rng = np.random.default_rng(1000 * salt + q)
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype == "int32":
        return rng.integers(-50, 50, shape).astype(np.int32)
    if product:
        return rng.choice([-2.0, -1.0, -0.5, 0.5, 1.0, 1.5, 2.0], shape).astype(dtype)
    return (rng.integers(-16, 17, shape) / 4.0).astype(dtype)


def expected(stack: np.ndarray, op: ReduceOp, dtype: str) -> np.ndarray:
    """The reduction over ranks (axis 0), as the collectives document it: floats reduce in
    float64 here, which is exact on this grid; f16 AVG divides in f32 and rounds once."""
    if dtype == "bool":
        if op in (ReduceOp.SUM, ReduceOp.MAX):
            return stack.any(axis=0)
        return stack.all(axis=0)
    wide = stack.astype(np.float64 if dtype != "int32" else np.int64)
    if op is ReduceOp.SUM:
        r = wide.sum(axis=0)
    elif op is ReduceOp.PRODUCT:
        r = wide.prod(axis=0)
    elif op is ReduceOp.MIN:
        r = wide.min(axis=0)
    elif op is ReduceOp.MAX:
        r = wide.max(axis=0)
    else:
        host = np.float32 if dtype == "float16" else dtype
        r = stack.astype(host).sum(axis=0) / np.dtype(host).type(N)
    return r.astype(dtype)


def ops_for(dtype: str) -> list:
    ops = [ReduceOp.SUM, ReduceOp.PRODUCT, ReduceOp.MIN, ReduceOp.MAX]
    return ops + [ReduceOp.AVG] if dtype.startswith("float") else ops


def t(a: np.ndarray) -> vkgrad.Tensor:
    return vkgrad.tensor(a, dtype=str(a.dtype) if a.dtype != bool else "bool", device=DEVICE)


def same(got: vkgrad.Tensor, want: np.ndarray, what: str) -> None:
    g = got.numpy()
    assert g.dtype == want.dtype, f"{what}: dtype {g.dtype}, expected {want.dtype}"
    assert g.shape == want.shape, f"{what}: shape {g.shape}, expected {want.shape}"
    assert np.array_equal(g, want), f"{what} on rank {RANK}:\n{g}\nexpected\n{want}"


def ok(name: str) -> None:
    print(f"ok {name}", flush=True)


# ---------------------------------------------------------------- all_reduce, reduce

for dtype in DTYPES:
    for op in ops_for(dtype):
        prod = op is ReduceOp.PRODUCT
        mine = t(data(RANK, dtype, product=prod))
        before = mine._version[0]
        assert dist.all_reduce(mine, op) is None
        stack = np.stack([data(q, dtype, product=prod) for q in range(N)])
        same(mine, expected(stack, op, dtype), f"all_reduce {dtype} {op.name}")
        assert mine._version[0] == before + 1, "all_reduce must count as an in-place write"

        dst = N - 1
        mine = t(data(RANK, dtype, salt=1, product=prod))
        dist.reduce(mine, dst, op)
        stack = np.stack([data(q, dtype, salt=1, product=prod) for q in range(N)])
        want = (
            expected(stack, op, dtype) if RANK == dst else data(RANK, dtype, salt=1, product=prod)
        )
        same(mine, want, f"reduce {dtype} {op.name}")
    ok(f"all_reduce+reduce {dtype}")

# Off the grid, the sum's rounding depends on the order MPI adds the ranks in, which NumPy
# need not share: a few ulp apart at most.
for dtype, rtol in (("float32", 1e-6), ("float64", 1e-14)):
    if dtype not in DTYPES:
        continue
    vals = [np.random.default_rng(50 + q).standard_normal(1000).astype(dtype) for q in range(N)]
    mine = t(vals[RANK])
    dist.all_reduce(mine)
    np.testing.assert_allclose(mine.numpy(), np.sum(vals, axis=0), rtol=rtol, atol=rtol)
    ok(f"all_reduce {dtype} off the grid")

# ---------------------------------------------------------------- broadcast, gathers

for dtype in DTYPES:
    # Off-grid values too: a broadcast moves bits, converting nothing.
    for src in range(N):
        rng = np.random.default_rng(7 + src)
        val = rng.standard_normal(SHAPE).astype(dtype) if dtype.startswith("float") else None
        val = val if val is not None else data(src, dtype, salt=2)
        mine = t(val if RANK == src else data(RANK, dtype, salt=3))
        dist.broadcast(mine, src)
        same(mine, val, f"broadcast {dtype} from {src}")

    outs = [t(np.zeros(SHAPE, dtype)) for _ in range(N)]
    dist.all_gather(outs, t(data(RANK, dtype, salt=4)))
    for q in range(N):
        same(outs[q], data(q, dtype, salt=4), f"all_gather {dtype} [{q}]")

    stacked = np.stack([data(q, dtype, salt=5) for q in range(N)])
    out = t(np.zeros((N, *SHAPE), dtype))
    dist.all_gather_into_tensor(out, t(data(RANK, dtype, salt=5)))
    same(out, stacked, f"all_gather_into_tensor {dtype} stacked")
    out = t(np.zeros((N * SHAPE[0], SHAPE[1]), dtype))
    dist.all_gather_into_tensor(out, t(data(RANK, dtype, salt=5)))
    same(out, stacked.reshape(N * SHAPE[0], SHAPE[1]), f"all_gather_into_tensor {dtype} cat")
    ok(f"broadcast+all_gather {dtype}")

# ---------------------------------------------------------------- reduce_scatter

for dtype in DTYPES:
    for op in ops_for(dtype):
        prod = op is ReduceOp.PRODUCT
        # Rank q's i-th input is data(q * N + i): rank r gets the reduction over q of part r.
        parts = [[data(q * N + i, dtype, salt=6, product=prod) for i in range(N)] for q in range(N)]
        want = expected(np.stack([parts[q][RANK] for q in range(N)]), op, dtype)
        out = t(np.zeros(SHAPE, dtype))
        dist.reduce_scatter(out, [t(a) for a in parts[RANK]], op)
        same(out, want, f"reduce_scatter {dtype} {op.name}")
        out = t(np.zeros(SHAPE, dtype))
        dist.reduce_scatter_tensor(out, t(np.concatenate(parts[RANK])), op)
        same(out, want, f"reduce_scatter_tensor {dtype} {op.name}")
    ok(f"reduce_scatter {dtype}")

# ---------------------------------------------------------------- async_op, objects, barrier

mine = t(data(RANK, "float32", salt=8))
work = dist.all_reduce(mine, ReduceOp.MAX, async_op=True)
assert isinstance(work, dist.Work)
# Until wait() the tensor keeps its values: the result lands in it when the work completes.
same(mine, data(RANK, "float32", salt=8), "all_reduce async before wait")
assert work.wait() is True and work.is_completed()
stack = np.stack([data(q, "float32", salt=8) for q in range(N)])
same(mine, stack.max(axis=0), "all_reduce async after wait")
b = t(data(RANK, "int32", salt=9))
outs = [t(np.zeros(SHAPE, np.float16)) for _ in range(N)]
works = [
    dist.broadcast(b, 0, async_op=True),
    dist.all_gather(outs, t(data(RANK, "float16", salt=10)), async_op=True),
]
while not all(w.is_completed() for w in works):
    pass
same(b, data(0, "int32", salt=9), "broadcast async")
for q in range(N):
    same(outs[q], data(q, "float16", salt=10), f"all_gather async [{q}]")
dist.barrier(async_op=True).wait()
ok("async_op")

objs = [None] * N
dist.all_gather_object(objs, {"rank": RANK, "sq": [RANK] * RANK})
assert objs == [{"rank": q, "sq": [q] * q} for q in range(N)], objs
lst = [f"from {RANK}", RANK] if RANK == 1 % N else [None, None]
dist.broadcast_object_list(lst, src=1 % N)
assert lst == [f"from {1 % N}", 1 % N], lst
dist.barrier()
ok("objects+barrier")

# In place as in PyTorch: a tensor saved for backward and then all-reduced is stale.
x = vkgrad.tensor([1.0, 2.0], device=DEVICE, requires_grad=True)
y = x * 1.0
z = (y * y).sum()
dist.all_reduce(y)
try:
    z.backward()
except RuntimeError as e:
    assert "modified by an in-place operation" in str(e), e
else:
    raise AssertionError("backward through a tensor all_reduce modified did not raise")
ok("in-place version")

# ---------------------------------------------------------------- errors, raised on every rank


def raises(exc, words: list, fn, *args, **kwargs) -> None:
    try:
        fn(*args, **kwargs)
    except exc as e:
        for w in words:
            assert w in str(e), f"{w!r} not in the error: {e}"
        return
    raise AssertionError(f"{fn.__name__}{args} did not raise {exc.__name__}")


raises(
    RuntimeError,
    ["all_reduce", "rank 0", f"rank {N - 1}", "(4,)"],
    dist.all_reduce,
    vkgrad.ones(3 if RANK == 0 else 4, device=DEVICE),
)
raises(
    RuntimeError,
    ["broadcast", "float16"],
    dist.broadcast,
    vkgrad.ones(3, dtype="f16" if RANK == 0 else "f32", device=DEVICE),
    0,
)
if RANK == 0:
    raises(
        RuntimeError,
        ["different collectives", "all_reduce", "barrier"],
        dist.all_reduce,
        vkgrad.ones(3, device=DEVICE),
    )
else:
    raises(RuntimeError, ["different collectives", "all_reduce", "barrier"], dist.barrier)
raises(ValueError, ["broadcast", "src=" + str(N)], dist.broadcast, vkgrad.ones(2), N)
raises(
    TypeError,
    ["all_reduce", "AVG", "int32"],
    dist.all_reduce,
    vkgrad.tensor([1, 2], device=DEVICE),
    ReduceOp.AVG,
)
raises(
    ValueError,
    ["all_gather", "world_size"],
    dist.all_gather,
    [vkgrad.ones(2)] * (N + 1),
    vkgrad.ones(2),
)
raises(
    ValueError,
    ["reduce_scatter", "input_list[0]"],
    dist.reduce_scatter,
    vkgrad.ones(2),
    [vkgrad.ones(3)] * N,
)
raises(TypeError, ["all_reduce", "Tensor"], dist.all_reduce, np.ones(3))
raises(RuntimeError, ["init_process_group", "already"], dist.init_process_group, "mpi")
# After all of those, the ranks are still in step: a last collective works.
mine = t(np.full(2, RANK, np.int32))
dist.all_reduce(mine)
same(mine, np.full(2, N * (N - 1) // 2, np.int32), "all_reduce after the errors")
ok("errors")

print(f"done {RANK}", flush=True)
