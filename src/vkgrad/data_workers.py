"""DataLoader worker processes: ``num_workers > 0`` loads samples in other processes while
the main process trains.

A worker runs ``dataset[i]`` for the indices of a batch and sends the samples back as host
data (NumPy arrays, numbers, strings; cpu tensors travel as arrays and come back as
tensors). The main process collates them: collation makes device tensors, and a device
belongs to the process that opened it, so no worker ever touches Vulkan. Batches come back
in sampler order; at most ``prefetch_factor`` batches per worker are in flight, so loading
runs ahead of training by that much.

Each worker is seeded like PyTorch's: ``base_seed + worker_id``, with ``base_seed`` drawn from
the loader's generator (or vkgrad's global state) when the workers start. NumPy's global
state, Python's ``random`` and vkgrad's host generator are seeded with it, so random
augmentations differ between workers and repeat between runs with the same seed.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import random
import time
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

_INFO: WorkerInfo | None = None  # set inside a worker process


@dataclass(frozen=True)
class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker (None in the main process)."""

    id: int
    num_workers: int
    seed: int
    dataset: Any


def get_worker_info() -> WorkerInfo | None:
    """Inside a DataLoader worker: its id, the number of workers, its seed and its copy of
    the dataset (to split an iterable dataset between workers). None elsewhere."""
    return _INFO


class _HostTensor:
    """A cpu tensor on its way between processes: its array and dtype name."""

    __slots__ = ("array", "dtype")

    def __init__(self, array: np.ndarray, dtype: str) -> None:
        self.array, self.dtype = array, dtype


def _to_host(obj: Any) -> Any:
    from .tensor import Tensor

    if isinstance(obj, Tensor):
        if obj.device.type != "cpu":
            raise RuntimeError(
                f"DataLoader worker: the dataset returned a tensor on {obj.device}; with "
                "num_workers > 0 a dataset's items are made in a worker process, which must "
                "not use the GPU: return NumPy arrays, numbers or cpu tensors"
            )
        return _HostTensor(obj.numpy(), obj.dtype.name)
    if isinstance(obj, tuple):
        return tuple(_to_host(o) for o in obj)
    if isinstance(obj, list):
        return [_to_host(o) for o in obj]
    if isinstance(obj, dict):
        return {k: _to_host(v) for k, v in obj.items()}
    return obj


def from_host(obj: Any) -> Any:
    """Undo ``_to_host`` in the main process (tensors come back on the cpu)."""
    from .tensor import tensor

    if isinstance(obj, _HostTensor):
        return tensor(obj.array, dtype=obj.dtype, device="cpu")
    if isinstance(obj, tuple):
        return tuple(from_host(o) for o in obj)
    if isinstance(obj, list):
        return [from_host(o) for o in obj]
    if isinstance(obj, dict):
        return {k: from_host(v) for k, v in obj.items()}
    return obj


def _seed_worker(seed: int) -> None:
    from .random import manual_seed

    np.random.seed(seed % 2**32)
    random.seed(seed)
    manual_seed(seed)


def _worker_loop(dataset, jobs, results, worker_id: int, num_workers: int, seed: int, init_fn):
    global _INFO
    _seed_worker(seed)
    _INFO = WorkerInfo(worker_id, num_workers, seed, dataset)
    try:
        if init_fn is not None:
            init_fn(worker_id)
    except Exception as e:
        results.put((-1, None, _failure(worker_id, e)))
        return
    while True:
        job = jobs.get()
        if job is None:
            return
        batch, indices = job
        try:
            results.put((batch, _to_host([dataset[i] for i in indices]), None))
        except Exception as e:
            results.put((batch, None, _failure(worker_id, e)))


def _failure(worker_id: int, e: Exception) -> str:
    return (
        f"DataLoader worker {worker_id} raised {type(e).__name__}: {e}\n"
        f"In the worker:\n{traceback.format_exc()}"
    )


class WorkerPool:
    """``num_workers`` processes, each with its own job queue and one shared result queue."""

    def __init__(
        self,
        dataset: Any,
        num_workers: int,
        seed: int,
        init_fn: Callable | None,
        context: Any,
    ) -> None:
        if context is None:
            context = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
        ctx = mp.get_context(context) if isinstance(context, str) else context
        self.results = ctx.Queue()
        self.jobs = [ctx.Queue() for _ in range(num_workers)]
        self.procs = [
            ctx.Process(
                target=_worker_loop,
                args=(dataset, self.jobs[w], self.results, w, num_workers, seed + w, init_fn),
                daemon=True,
            )
            for w in range(num_workers)
        ]
        for p in self.procs:
            p.start()
        self.pids = [p.pid for p in self.procs]
        self._owner = os.getpid()
        self._closed = False

    def alive(self) -> bool:
        return all(p.is_alive() for p in self.procs)

    def run(self, batches: Iterable, prefetch: int, timeout: float) -> Iterator[list]:
        """The samples of each ``(batch number, indices)``, in order, with up to ``prefetch``
        batches per worker requested ahead."""
        todo = iter(batches)
        done: dict = {}
        sent = nxt = 0
        n = len(self.procs)

        def send() -> bool:
            nonlocal sent
            job = next(todo, None)
            if job is None:
                return False
            self.jobs[sent % n].put((sent, job))
            sent += 1
            return True

        while sent < prefetch * n and send():
            pass
        while nxt < sent:
            while nxt not in done:
                batch, samples, error = self._get(timeout)
                if error is not None:
                    raise RuntimeError(error)
                done[batch] = samples
            yield done.pop(nxt)
            nxt += 1
            send()

    def _get(self, timeout: float) -> tuple:
        start = time.monotonic()
        while True:
            try:
                return self.results.get(timeout=1.0)
            except queue.Empty:
                if not self.alive():
                    dead = [p for p in self.procs if not p.is_alive()]
                    raise RuntimeError(
                        f"DataLoader worker (pid {dead[0].pid}) exited unexpectedly with code "
                        f"{dead[0].exitcode}"
                    ) from None
                if timeout and time.monotonic() - start > timeout:
                    raise RuntimeError(f"DataLoader timed out after {timeout} seconds") from None

    def shutdown(self) -> None:
        if self._closed:
            return
        self._closed = True
        for q in self.jobs:
            try:
                q.put(None)
            except (OSError, ValueError):
                pass
        for p in self.procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
        for q in [*self.jobs, self.results]:
            q.close()
            q.join_thread()

    def __del__(self) -> None:
        # Only the process that started the workers stops them (a forked child inherits this
        # object too).
        if getattr(self, "_owner", None) == os.getpid():
            try:
                self.shutdown()
            except Exception:
                pass
