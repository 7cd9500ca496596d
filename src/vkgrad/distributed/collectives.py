"""Collectives on tensors of either backend, over MPI, with ``torch.distributed``'s names.

Every collective stages through host memory: a tensor's values are read into a NumPy array
(one download per tensor on Vulkan), MPI moves the arrays, and the result is written back
into the tensor in place (one upload). MPI never sees device memory: a GPU-aware MPI could
take device buffers directly, but Vulkan buffers have no address MPI understands (see
docs/distributed.md).

Before moving data, each collective checks with the other ranks (one small allgather) that
they called the same collective on tensors of the same shape and dtype: MPI itself would
hang or corrupt memory on a mismatch, here every rank raises an error naming the function.
"""

from __future__ import annotations

import enum
from typing import Any, Callable

import numpy as np

from .. import capturing, dtypes
from ..tensor import Tensor
from .process_group import current


class ReduceOp(enum.Enum):
    """How ``all_reduce``, ``reduce`` and ``reduce_scatter`` combine the ranks' values."""

    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"


class Work:
    """The handle of a collective run with ``async_op=True``.

    The tensor holds the result once ``wait()`` returns (or ``is_completed()`` has returned
    True). MPI progresses a collective mostly inside MPI calls: ``wait()`` (or polling
    ``is_completed()``) is what drives it to the end.
    """

    def __init__(self, request, finish: Callable[[], None], keep: tuple = ()) -> None:
        self._request = request
        self._finish = finish
        self._keep = keep  # the host arrays MPI reads and writes until it completes
        self._done = False

    def _complete(self) -> None:
        self._done = True
        finish, self._finish, self._keep = self._finish, None, ()
        finish()

    def wait(self, timeout: Any = None) -> bool:
        if not self._done:
            self._request.Wait()
            self._complete()
        return True

    def is_completed(self) -> bool:
        if not self._done and self._request.Test():
            self._complete()
        return self._done

    def is_success(self) -> bool:
        return self._done

    def __repr__(self) -> str:
        return f"<vkgrad.distributed.Work {'completed' if self._done else 'pending'}>"


# ---------------------------------------------------------------- checks


def _refuse_capture(fn: str) -> None:
    capturing.note_host_step(
        f"vkgrad.distributed.{fn}",
        "runs an MPI collective on the host, which a replay could not repeat; call it outside "
        "the captured function",
    )


def _tensor(fn: str, t: Any, what: str = "tensor") -> Tensor:
    if not isinstance(t, Tensor):
        raise TypeError(f"{fn}: {what} must be a vkgrad Tensor, got {type(t).__name__}")
    return t


def _describe(t: Tensor) -> tuple:
    return (tuple(t.shape), t.dtype.name)


def _agree(g, fn: str, what: tuple) -> None:
    """Every rank calls this at the same point: raise on all of them, naming ``fn``, when
    the ranks called different collectives or gave different shapes, dtypes or roots."""
    seen = g.comm.allgather((fn, what))
    if all(s == seen[0] for s in seen):
        return
    names = {s[0] for s in seen}
    shown = "; ".join(
        f"rank {r}: {name}({', '.join(str(x) for x in args)})"
        for r, (name, args) in enumerate(seen)
    )
    if len(names) > 1:
        raise RuntimeError(
            f"{fn}: the ranks called different collectives at the same point ({shown})"
        )
    raise RuntimeError(f"{fn}: the ranks' arguments do not match ({shown})")


def _src(fn: str, g, root: int, what: str = "src") -> int:
    if not isinstance(root, (int, np.integer)) or not 0 <= int(root) < g.size:
        raise ValueError(f"{fn}: {what}={root!r} is not a rank of this group (0..{g.size - 1})")
    return int(root)


_INT_OPS = (ReduceOp.SUM, ReduceOp.PRODUCT, ReduceOp.MIN, ReduceOp.MAX)


def _reduce_plan(fn: str, op: Any, dtype: dtypes.DType, MPI) -> tuple:
    """(the MPI op, the host dtype MPI reduces in, divide by the world size afterwards).

    f16 is reduced in f32 and rounded once at the end (MPI has no half type, and one
    rounding is what a summation in f32 gives anyway). bool reduces as uint8: SUM and MAX
    are a logical or, PRODUCT and MIN a logical and, as PyTorch's results cast to bool.
    """
    if not isinstance(op, ReduceOp):
        raise TypeError(f"{fn}: op must be a vkgrad.distributed.ReduceOp, got {op!r}")
    if op is ReduceOp.AVG and not dtype.is_floating:
        raise TypeError(f"{fn}: ReduceOp.AVG needs a floating point tensor, got {dtype.name}")
    if dtype is dtypes.bool_:
        mpi_op = MPI.MAX if op in (ReduceOp.SUM, ReduceOp.MAX) else MPI.MIN
        return mpi_op, np.dtype(np.uint8), False
    mpi_op = {
        ReduceOp.SUM: MPI.SUM,
        ReduceOp.AVG: MPI.SUM,
        ReduceOp.PRODUCT: MPI.PROD,
        ReduceOp.MIN: MPI.MIN,
        ReduceOp.MAX: MPI.MAX,
    }[op]
    host = np.dtype(np.float32) if dtype is dtypes.float16 else dtype.np
    return mpi_op, host, op is ReduceOp.AVG


def _to_host(t: Tensor, host: np.dtype) -> np.ndarray:
    return np.ascontiguousarray(t.numpy(), dtype=host).reshape(-1)


def write(t: Tensor, values: np.ndarray) -> None:
    """Write ``values`` into ``t`` in place, as an in-place op would (its version counts up),
    without recording anything for autograd (collectives are not differentiable)."""
    t._set_values(np.asarray(values).reshape(t.shape).astype(t.dtype.np, copy=False))
    t._version[0] += 1


def _raw(a: np.ndarray) -> np.ndarray:
    """The bytes of ``a``: broadcasts and gathers move values without converting them."""
    return np.ascontiguousarray(a).reshape(-1).view(np.uint8)


def _run(request, finish: Callable[[], None], async_op: bool, keep: tuple) -> Work | None:
    work = Work(request, finish, keep)
    if async_op:
        return work
    work.wait()
    return None


# ---------------------------------------------------------------- the collectives


def barrier(group: Any = None, async_op: bool = False, device_ids: Any = None) -> Work | None:
    """Wait until every rank reaches this point."""
    g = current("barrier", group)
    _refuse_capture("barrier")
    # The same check every collective makes: a rank waiting here while another is in
    # all_reduce gets an error naming both, not a hang.
    _agree(g, "barrier", ())
    return _run(g.comm.Ibarrier(), lambda: None, async_op, ())


def all_reduce(
    tensor: Tensor, op: ReduceOp = ReduceOp.SUM, group: Any = None, async_op: bool = False
) -> Work | None:
    """Combine ``tensor`` across ranks with ``op``; every rank's tensor gets the result, in
    place. Floating dtypes take every op; int32 all but AVG; bool SUM/MAX (or) and
    PRODUCT/MIN (and).

    >>> t = vkgrad.tensor([float(dist.get_rank())])            # doctest: +SKIP
    >>> dist.all_reduce(t)                                     # doctest: +SKIP
    >>> t                                                      # rank 0 + rank 1
    tensor([1.])
    """
    fn = "all_reduce"
    g = current(fn, group)
    _tensor(fn, tensor)
    _refuse_capture(fn)
    mpi_op, host, avg = _reduce_plan(fn, op, tensor.dtype, g.MPI)
    _agree(g, fn, (*_describe(tensor), op.name))
    buf = _to_host(tensor, host)

    def finish() -> None:
        write(tensor, buf / host.type(g.size) if avg else buf)

    return _run(g.comm.Iallreduce(g.MPI.IN_PLACE, buf, op=mpi_op), finish, async_op, (buf,))


def reduce(
    tensor: Tensor,
    dst: int,
    op: ReduceOp = ReduceOp.SUM,
    group: Any = None,
    async_op: bool = False,
) -> Work | None:
    """Combine ``tensor`` across ranks with ``op`` into rank ``dst``'s tensor; the other
    ranks' tensors are left as they were."""
    fn = "reduce"
    g = current(fn, group)
    _tensor(fn, tensor)
    _refuse_capture(fn)
    dst = _src(fn, g, dst, "dst")
    mpi_op, host, avg = _reduce_plan(fn, op, tensor.dtype, g.MPI)
    _agree(g, fn, (*_describe(tensor), op.name, dst))
    send = _to_host(tensor, host)
    recv = np.empty_like(send) if g.rank == dst else None

    def finish() -> None:
        if recv is not None:
            write(tensor, recv / host.type(g.size) if avg else recv)

    request = g.comm.Ireduce(send, recv, op=mpi_op, root=dst)
    return _run(request, finish, async_op, (send, recv))


def broadcast(tensor: Tensor, src: int, group: Any = None, async_op: bool = False) -> Work | None:
    """Copy rank ``src``'s tensor into every other rank's tensor, in place (bit for bit)."""
    fn = "broadcast"
    g = current(fn, group)
    _tensor(fn, tensor)
    _refuse_capture(fn)
    src = _src(fn, g, src)
    _agree(g, fn, (*_describe(tensor), src))
    if g.rank == src:
        buf = tensor.numpy()
    else:
        buf = np.empty(tensor.shape, tensor.dtype.np)

    def finish() -> None:
        if g.rank != src:
            write(tensor, buf)

    return _run(g.comm.Ibcast(_raw(buf), root=src), finish, async_op, (buf,))


def all_gather(
    tensor_list: list, tensor: Tensor, group: Any = None, async_op: bool = False
) -> Work | None:
    """Every rank's ``tensor`` into ``tensor_list[rank]``, on every rank (in place: the list
    holds ``world_size`` tensors of ``tensor``'s shape and dtype)."""
    fn = "all_gather"
    g = current(fn, group)
    _tensor(fn, tensor)
    _outputs(fn, g, tensor_list, tensor, "tensor_list")
    _refuse_capture(fn)
    _agree(g, fn, _describe(tensor))
    send = tensor.numpy()
    recv = np.empty((g.size, *tensor.shape), tensor.dtype.np)

    def finish() -> None:
        for out, values in zip(tensor_list, recv):
            write(out, values)

    request = g.comm.Iallgather(_raw(send), _raw(recv))
    return _run(request, finish, async_op, (send, recv))


def all_gather_into_tensor(
    output_tensor: Tensor, input_tensor: Tensor, group: Any = None, async_op: bool = False
) -> Work | None:
    """Every rank's ``input_tensor``, in rank order, into ``output_tensor``: of shape
    ``(world_size * n, ...)`` (concatenated) or ``(world_size, n, ...)`` (stacked)."""
    fn = "all_gather_into_tensor"
    g = current(fn, group)
    _tensor(fn, input_tensor, "input_tensor")
    _tensor(fn, output_tensor, "output_tensor")
    _one_output(fn, g, output_tensor, input_tensor)
    _refuse_capture(fn)
    _agree(g, fn, _describe(input_tensor))
    send = input_tensor.numpy()
    recv = np.empty((g.size, *input_tensor.shape), input_tensor.dtype.np)
    request = g.comm.Iallgather(_raw(send), _raw(recv))
    return _run(request, lambda: write(output_tensor, recv), async_op, (send, recv))


def reduce_scatter(
    output: Tensor,
    input_list: list,
    op: ReduceOp = ReduceOp.SUM,
    group: Any = None,
    async_op: bool = False,
) -> Work | None:
    """Combine ``input_list[r]`` across ranks with ``op`` into rank r's ``output``.

    >>> # rank r gets sum over ranks q of input_list_q[r]
    """
    fn = "reduce_scatter"
    g = current(fn, group)
    _tensor(fn, output, "output")
    _outputs(fn, g, input_list, output, "input_list")
    _refuse_capture(fn)
    mpi_op, host, avg = _reduce_plan(fn, op, output.dtype, g.MPI)
    _agree(g, fn, (*_describe(output), op.name))
    send = np.concatenate([_to_host(t, host) for t in input_list])
    return _reduce_scatter(g, output, send, mpi_op, host, avg, async_op)


def reduce_scatter_tensor(
    output: Tensor,
    input: Tensor,
    op: ReduceOp = ReduceOp.SUM,
    group: Any = None,
    async_op: bool = False,
) -> Work | None:
    """``reduce_scatter`` with the inputs as one tensor: ``input`` is ``(world_size * n,
    ...)`` or ``(world_size, n, ...)``, and rank r gets the combined r-th part."""
    fn = "reduce_scatter_tensor"
    g = current(fn, group)
    _tensor(fn, input, "input")
    _tensor(fn, output, "output")
    _one_output(fn, g, input, output)
    _refuse_capture(fn)
    mpi_op, host, avg = _reduce_plan(fn, op, output.dtype, g.MPI)
    _agree(g, fn, (*_describe(output), op.name))
    return _reduce_scatter(g, output, _to_host(input, host), mpi_op, host, avg, async_op)


def _reduce_scatter(g, output, send, mpi_op, host, avg, async_op) -> Work | None:
    recv = np.empty(output.numel(), host)

    def finish() -> None:
        write(output, recv / host.type(g.size) if avg else recv)

    request = g.comm.Ireduce_scatter_block(send, recv, op=mpi_op)
    return _run(request, finish, async_op, (send, recv))


def _outputs(fn: str, g, tensors: Any, like: Tensor, what: str) -> None:
    if not isinstance(tensors, (list, tuple)) or len(tensors) != g.size:
        n = len(tensors) if isinstance(tensors, (list, tuple)) else type(tensors).__name__
        raise ValueError(f"{fn}: {what} must be a list of world_size={g.size} tensors, got {n}")
    for i, t in enumerate(tensors):
        _tensor(fn, t, f"{what}[{i}]")
        if _describe(t) != _describe(like):
            raise ValueError(
                f"{fn}: {what}[{i}] has shape {tuple(t.shape)} and dtype {t.dtype.name}; "
                f"expected {tuple(like.shape)} and {like.dtype.name}"
            )


def _one_output(fn: str, g, big: Tensor, small: Tensor) -> None:
    shape, n = tuple(small.shape), small.numel()
    ok = big.numel() == g.size * n and (
        tuple(big.shape) == (g.size, *shape)
        or (len(shape) >= 1 and tuple(big.shape) == (g.size * shape[0], *shape[1:]))
        or (not shape and tuple(big.shape) == (g.size,))
    )
    if not ok or big.dtype is not small.dtype:
        raise ValueError(
            f"{fn}: the world-sized tensor has shape {tuple(big.shape)} ({big.dtype.name}); "
            f"expected world_size={g.size} times {shape} ({small.dtype.name}), concatenated "
            "along dim 0 or stacked"
        )


# ---------------------------------------------------------------- Python objects


def all_gather_object(object_list: list, obj: Any, group: Any = None) -> None:
    """Every rank's picklable ``obj`` into ``object_list`` (of length world_size), in rank
    order."""
    fn = "all_gather_object"
    g = current(fn, group)
    if not isinstance(object_list, list) or len(object_list) != g.size:
        n = len(object_list) if isinstance(object_list, list) else type(object_list).__name__
        raise ValueError(f"{fn}: object_list must be a list of world_size={g.size}, got {n}")
    _refuse_capture(fn)
    _agree(g, fn, ())
    object_list[:] = g.comm.allgather(obj)


def broadcast_object_list(object_list: list, src: int = 0, group: Any = None) -> None:
    """Rank ``src``'s picklable objects into ``object_list`` on every rank (same length on
    every rank)."""
    fn = "broadcast_object_list"
    g = current(fn, group)
    if not isinstance(object_list, list):
        raise TypeError(f"{fn}: object_list must be a list, got {type(object_list).__name__}")
    src = _src(fn, g, src)
    _refuse_capture(fn)
    _agree(g, fn, (len(object_list), src))
    object_list[:] = g.comm.bcast(object_list if g.rank == src else None, root=src)
