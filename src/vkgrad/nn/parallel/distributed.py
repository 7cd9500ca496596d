"""``DistributedDataParallel``: one model replica per process, gradients averaged over MPI.

Each process runs the model on its own shard of every batch. At construction the replicas
are made equal (rank 0's parameters and buffers, broadcast). During backward, as soon as
every gradient of a bucket (about ``bucket_cap_mb`` MB of parameters, in reverse order of
registration, which is roughly the order backward produces them) has been accumulated, the
bucket's gradients are copied to one host array and a nonblocking ``MPI_Iallreduce`` starts
summing it across ranks, while backward goes on with the earlier layers. When the last
bucket has started, DDP waits for all of them and writes the averages back into ``.grad``:
after ``loss.backward()`` every rank holds the same averaged gradients, so identical
optimizer steps keep the replicas identical.
"""

from __future__ import annotations

import contextlib
import time
import weakref
from typing import Any

import numpy as np

from ... import capturing, dtypes
from ... import distributed as dist
from ... import functional as F
from ...autograd import AccumulateGrad, is_grad_enabled, no_grad
from ...distributed.collectives import write
from ...tensor import Tensor, tensor
from ..module import Module

_CAPTURE_WHY = (
    "averages gradients across processes with MPI on the host during backward, which a "
    "replay could not repeat; run a DistributedDataParallel training step eagerly"
)


class _Bucket:
    """Parameters whose gradients are reduced together (one dtype, one device)."""

    def __init__(self, index: int, params: list, names: list) -> None:
        self.index = index
        self.params = params
        self.names = names
        self.sizes = [p.numel() for p in params]
        self.offsets = np.cumsum([0, *self.sizes]).tolist()
        dtype = params[0].dtype
        # f16 gradients are summed in f32 and rounded once, as the collectives do.
        self.host_dtype = np.dtype(np.float32) if dtype is dtypes.float16 else dtype.np
        self.buffer = np.zeros(self.offsets[-1], self.host_dtype)
        self.pending = len(params)
        self.request = None


class _Iteration:
    """What one forward-backward's reduction has done so far."""

    def __init__(self, buckets: list) -> None:
        for b in buckets:
            b.pending = len(b.params)
            b.request = None
        self.ready: set = set()  # positions of the parameters whose gradient is in
        self.unused: set = set()  # positions of those the forward's output does not reach
        self.next_bucket = 0  # buckets start in order: MPI matches collectives by order


class DistributedDataParallel(Module):
    """Data parallelism across the processes of an MPI job, as ``torch.nn.parallel.
    DistributedDataParallel``.

    >>> dist.init_process_group("mpi")                                # doctest: +SKIP
    >>> model = DistributedDataParallel(make_model())                 # doctest: +SKIP
    >>> opt = vkgrad.optim.SGD(model.parameters(), lr=0.1)            # doctest: +SKIP
    >>> for x, y in loader:          # a DistributedSampler gives each rank its shard
    ...     opt.zero_grad()
    ...     F.cross_entropy(model(x), y).backward()   # averaged across ranks on return
    ...     opt.step()

    ``broadcast_buffers`` (default True): rank 0's buffers (BatchNorm running statistics)
    are broadcast to every rank at the start of each forward, as PyTorch does.
    ``find_unused_parameters``: after each forward, the parameters the output does not
    depend on are marked ready at once (they contribute zeros), so that backward can
    finish the reduction without them; parameters no rank used keep their ``.grad``.
    ``no_sync()``: a context in which backward accumulates gradients locally; the next
    backward outside it averages the accumulated sum.

    ``device_ids``, ``output_device``, ``dim``, ``check_reduction``,
    ``gradient_as_bucket_view`` and ``static_graph`` are accepted for PyTorch compatibility
    and change nothing: each process has one device, and gradients are copied to the host
    for MPI in any case.

    A training step through DDP cannot be captured (``vkgrad.capture`` refuses it, naming
    DDP): the averaging runs on the host between backward's kernels.
    """

    def __init__(
        self,
        module: Module,
        device_ids: Any = None,
        output_device: Any = None,
        dim: int = 0,
        broadcast_buffers: bool = True,
        process_group: Any = None,
        bucket_cap_mb: float | None = None,
        find_unused_parameters: bool = False,
        check_reduction: bool = False,
        gradient_as_bucket_view: bool = False,
        static_graph: bool = False,
    ) -> None:
        super().__init__()
        name = "DistributedDataParallel"
        g = dist.process_group.current(name, process_group)
        if not isinstance(module, Module):
            raise TypeError(f"{name}: expected an nn.Module, got {type(module).__name__}")
        if isinstance(module, DistributedDataParallel):
            raise TypeError(f"{name}: the module is already wrapped in DistributedDataParallel")
        self.module = module
        self.broadcast_buffers = bool(broadcast_buffers)
        self.find_unused_parameters = bool(find_unused_parameters)
        self.require_backward_grad_sync = True
        cap = 25.0 if bucket_cap_mb is None else float(bucket_cap_mb)
        if cap <= 0:
            raise ValueError(f"{name}: bucket_cap_mb must be positive, got {bucket_cap_mb}")
        self.bucket_bytes_cap = int(cap * 1024 * 1024)
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        if not named:
            raise RuntimeError(
                f"{name}: the module has no parameter that requires a gradient; "
                "DistributedDataParallel is not needed for it"
            )
        devices = {p.device for _, p in module.named_parameters()}
        devices |= {b.device for _, b in module.named_buffers()}
        if len(devices) > 1:
            shown = ", ".join(sorted(str(d) for d in devices))
            raise ValueError(
                f"{name}: the module's parameters and buffers are on {shown}; each process "
                "runs its replica on one device"
            )
        # Own communicators: bucket reductions in flight never interleave with collectives
        # the user (or SyncBatchNorm) runs on the default group meanwhile.
        self._group = g
        self._comm = g.dup()
        # Seconds spent copying gradients to and from the host (on Vulkan, a copy waits for
        # the kernels queued before it), waiting for reductions still in flight after
        # backward, and broadcasting buffers; bucket reductions started.
        self.comm_stats = {"staging_s": 0.0, "wait_s": 0.0, "buffers_s": 0.0, "reductions": 0}
        self._param_names = [n for n, _ in named]
        self._params = [p for _, p in named]
        self._check_same_model(name)
        self._broadcast_state(include_params=True)
        self._buckets = self._make_buckets()
        position = {id(p): i for i, p in enumerate(self._params)}
        # id(param) -> (its bucket, its place in the bucket, its place in _params)
        self._where = {
            id(p): (b, j, position[id(p)]) for b in self._buckets for j, p in enumerate(b.params)
        }
        self._iter: _Iteration | None = None
        me = weakref.ref(self)
        self._handles = [p.register_post_accumulate_grad_hook(_make_hook(me)) for p in self._params]

    # ------------------------------------------------------------ construction

    def _check_same_model(self, name: str) -> None:
        """Every rank must wrap the same architecture: compare names, shapes and dtypes."""
        mine = [
            ("parameter", n, tuple(p.shape), p.dtype.name)
            for n, p in self.module.named_parameters()
        ] + [("buffer", n, tuple(b.shape), b.dtype.name) for n, b in self.module.named_buffers()]
        mine.append(("requires_grad", tuple(self._param_names)))
        every = self._comm.allgather(mine)
        first = every[0]
        for rank, theirs in enumerate(every):
            if theirs == first:
                continue
            for a, b in zip(first, theirs):
                if a != b:
                    raise RuntimeError(
                        f"{name}: rank {rank}'s module differs from rank 0's: {_show(b)} on "
                        f"rank {rank}, {_show(a)} on rank 0; every rank must wrap the same model"
                    )
            raise RuntimeError(
                f"{name}: rank {rank}'s module has {len(theirs) - 1} parameters and buffers, "
                f"rank 0's has {len(first) - 1}; every rank must wrap the same model"
            )

    def _make_buckets(self) -> list:
        """Reverse registration order (backward produces the last layers' gradients first),
        a new bucket at each dtype change or when the cap would be passed."""
        buckets, cur, names, size, key = [], [], [], 0, None
        for n, p in reversed(list(zip(self._param_names, self._params))):
            nbytes = p.numel() * p.dtype.itemsize
            if cur and (p.dtype is not key or size + nbytes > self.bucket_bytes_cap):
                buckets.append(_Bucket(len(buckets), cur, names))
                cur, names, size = [], [], 0
            cur.append(p)
            names.append(n)
            size += nbytes
            key = p.dtype
        if cur:
            buckets.append(_Bucket(len(buckets), cur, names))
        return buckets

    def _broadcast_state(self, include_params: bool) -> None:
        """Rank 0's values into every rank's parameters (if asked) and buffers: one broadcast
        of their bytes, packed into one host array."""
        tensors = [b for _, b in self.module.named_buffers()]
        if include_params:
            tensors = [p for _, p in self.module.named_parameters()] + tensors
        if not tensors or self._group.size == 1:
            return
        t0 = time.perf_counter()
        root = self._group.rank == 0
        if root:
            parts = [np.ascontiguousarray(t.numpy()).reshape(-1).view(np.uint8) for t in tensors]
            buf = np.concatenate(parts) if parts else np.zeros(0, np.uint8)
        else:
            buf = np.empty(sum(t.numel() * t.dtype.itemsize for t in tensors), np.uint8)
        self._comm.Bcast(buf, root=0)
        if not root:
            off = 0
            for t in tensors:
                n = t.numel() * t.dtype.itemsize
                write(t, buf[off : off + n].view(t.dtype.np))
                off += n
        self.comm_stats["buffers_s"] += time.perf_counter() - t0

    # ------------------------------------------------------------ forward

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        capturing.note_host_step("DistributedDataParallel", _CAPTURE_WHY)
        if self._iter is not None:
            missing = [self._param_names[i] for i in self._unready()]
            raise RuntimeError(
                "DistributedDataParallel: the previous iteration's gradient reduction did not "
                f"finish: {_names(missing)} received no gradient in its backward (or backward "
                "was not called after a forward with gradients enabled). If some parameters "
                "do not take part in the loss, pass find_unused_parameters=True; otherwise "
                "make every parameter contribute to the loss"
            )
        if self.broadcast_buffers:
            self._broadcast_state(include_params=False)
        out = self.module(*inputs, **kwargs)
        # A job of one has nothing to average: its gradients are already the averages.
        if is_grad_enabled() and self.require_backward_grad_sync and self._group.size > 1:
            self._iter = _Iteration(self._buckets)
            if self.find_unused_parameters:
                reached = _leaves_reached(out)
                for p in self._params:
                    if id(p) not in reached:
                        self._mark_ready(p, used=False)
        return out

    @contextlib.contextmanager
    def no_sync(self):
        """Backward inside accumulates gradients locally, without communication; the first
        backward after it averages what was accumulated.

        >>> with ddp.no_sync():                    # doctest: +SKIP
        ...     ddp(x1).sum().backward()
        >>> ddp(x2).sum().backward()                # averages the sum of both gradients
        """
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    # ------------------------------------------------------------ backward

    def _unready(self) -> list:
        it = self._iter
        return [i for i in range(len(self._params)) if it is None or i not in it.ready]

    def _grad_ready(self, p: Tensor) -> None:
        # Outside a DDP forward's iteration (no_sync, or after this iteration's averages
        # were written) gradients accumulate locally, as in PyTorch.
        if self._iter is not None:
            self._mark_ready(p, used=True)

    def _mark_ready(self, p: Tensor, used: bool) -> None:
        it = self._iter
        bucket, _, pos = self._where[id(p)]
        if pos in it.ready:
            raise RuntimeError(
                f"DistributedDataParallel: parameter {self._param_names[pos]!r} received its "
                "gradient twice in one backward"
            )
        it.ready.add(pos)
        if not used:
            it.unused.add(pos)
        bucket.pending -= 1
        if bucket.pending == 0:
            while it.next_bucket < len(self._buckets):
                b = self._buckets[it.next_bucket]
                if b.pending:
                    break
                self._start(b)
                it.next_bucket += 1
            if it.next_bucket == len(self._buckets):
                self._finish()
                return
        # Open MPI advances nonblocking collectives inside MPI calls (it has no progress
        # thread by default): poke the ones in flight so that they move during backward.
        for b in self._buckets[: it.next_bucket]:
            if b.request is not None:
                b.request.Test()

    def _start(self, b: _Bucket) -> None:
        """Copy the bucket's gradients to its host array and start summing it."""
        t0 = time.perf_counter()
        grads = [p.grad for p in b.params]
        if grads and grads[0] is not None and grads[0].device.type == "cpu":
            for k, g in enumerate(grads):
                dst = b.buffer[b.offsets[k] : b.offsets[k + 1]]
                if g is None:
                    dst[...] = 0
                else:
                    dst[...] = np.asarray(g._data).reshape(-1)
        else:
            present = [k for k, g in enumerate(grads) if g is not None]
            b.buffer[...] = 0
            if present:
                # One download for the whole bucket: the gradients are concatenated on the
                # device first (a download waits for the device's queue each time).
                with no_grad():
                    flat = F.cat([grads[k].reshape(-1) for k in present]).numpy()
                pos = 0
                for k in present:
                    n = b.sizes[k]
                    b.buffer[b.offsets[k] : b.offsets[k] + n] = flat[pos : pos + n]
                    pos += n
        b.request = self._comm.Iallreduce(
            self._group.MPI.IN_PLACE, b.buffer, op=self._group.MPI.SUM
        )
        self.comm_stats["staging_s"] += time.perf_counter() - t0
        self.comm_stats["reductions"] += 1

    def _finish(self) -> None:
        """Wait for every bucket and write the averages into ``.grad``."""
        MPI = self._group.MPI
        unused = self._iter.unused
        used_anywhere = None
        if self.find_unused_parameters:
            used = np.array([0 if i in unused else 1 for i in range(len(self._params))], np.int32)
            t0 = time.perf_counter()
            self._comm.Allreduce(MPI.IN_PLACE, used, op=MPI.MAX)
            self.comm_stats["wait_s"] += time.perf_counter() - t0
            used_anywhere = used
        t0 = time.perf_counter()
        _wait_all(MPI, [b.request for b in self._buckets])
        self.comm_stats["wait_s"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        size = self._group.size
        for b in self._buckets:
            b.request = None
            avg = b.buffer / b.host_dtype.type(size)
            for k, p in enumerate(b.params):
                pos = self._where[id(p)][2]
                if used_anywhere is not None and not used_anywhere[pos]:
                    continue  # no rank used it: its .grad stays as it was, as in PyTorch
                values = avg[b.offsets[k] : b.offsets[k + 1]]
                if p.grad is None:
                    p.grad = tensor(values.reshape(p.shape), dtype=p.dtype, device=p.device)
                elif p.grad.device.type == "cpu":
                    np.copyto(p.grad._data, values.reshape(p.shape), casting="unsafe")
                    p.grad._version[0] += 1
                else:
                    write(p.grad, values)
        self.comm_stats["staging_s"] += time.perf_counter() - t0
        self._iter = None


def _wait_all(MPI, requests: list) -> None:
    """MPI_Waitall, but polling with short sleeps in between: Open MPI's wait spins on a
    core, which on a machine with more ranks than free cores is the core a slower rank
    needs to finish its backward (2 ranks on 2 busy cores: a third more samples/s)."""
    pause = 0.0
    while not MPI.Request.Testall(requests):
        if pause:
            time.sleep(pause)
        pause = min(max(2 * pause, 2e-5), 5e-4)


def _make_hook(ref):
    def hook(p: Tensor) -> None:
        ddp = ref()
        if ddp is not None:
            ddp._grad_ready(p)

    return hook


def _leaves_reached(out: Any) -> set:
    """ids of the leaves whose gradient backward from ``out`` would reach."""
    roots, stack = [], [out]
    while stack:
        o = stack.pop()
        if isinstance(o, Tensor):
            if o.grad_fn is not None:
                roots.append(o.grad_fn)
            elif o.requires_grad:
                roots.append(o._accumulate_node())
        elif isinstance(o, (list, tuple)):
            stack.extend(o)
        elif isinstance(o, dict):
            stack.extend(o.values())
    seen, found = set(), set()
    while roots:
        node = roots.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, AccumulateGrad):
            v = node.variable
            if v is not None:
                found.add(id(v))
        roots.extend(n for n, _ in node.next_functions)
    return found


def _show(entry: tuple) -> str:
    if entry[0] == "requires_grad":
        return f"parameters requiring grad {list(entry[1])}"
    kind, name, shape, dtype = entry
    return f"{kind} {name!r} of shape {shape} ({dtype})"


def _names(names: list) -> str:
    shown = ", ".join(repr(n) for n in names[:8])
    more = f" and {len(names) - 8} more" if len(names) > 8 else ""
    return f"parameter(s) {shown}{more}"
