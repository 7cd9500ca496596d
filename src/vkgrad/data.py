"""Datasets and batching, as ``torch.utils.data``: Dataset, TensorDataset, Subset,
ConcatDataset, samplers, DataLoader, random_split and default_collate.

Randomness (shuffling, splits) comes from ``generator``: a ``vkgrad.Generator``, an int seed
or a ``numpy.random.Generator``; without one, the cpu's default generator, which
``vkgrad.manual_seed`` seeds (permutations are ``vkgrad.randperm``'s). A loader built with
``generator=0`` yields the same sequence of epochs on every run.

>>> ds = TensorDataset(x, y)
>>> for xb, yb in DataLoader(ds, batch_size=32, shuffle=True, generator=0):
...     ...
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Callable, Union

import numpy as np

from . import distributed
from . import random as _random
from .data_workers import WorkerPool, from_host, get_worker_info
from .library.random import randint, randperm
from .tensor import Tensor, tensor

__all__ = [
    "BatchSampler",
    "ConcatDataset",
    "DataLoader",
    "Dataset",
    "DistributedSampler",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "Subset",
    "TensorDataset",
    "default_collate",
    "get_worker_info",
    "random_split",
]

GeneratorLike = Union[None, int, np.random.Generator, _random.Generator]


class _Draws:
    """A vkgrad.Generator seen through the two numpy.random.Generator methods used here."""

    def __init__(self, generator: _random.Generator) -> None:
        self.generator = generator

    def permutation(self, n: int) -> np.ndarray:
        g = self.generator
        return randperm(int(n), generator=g, device=g.device).numpy()

    def integers(self, low: int, high: int, size: int) -> np.ndarray:
        g = self.generator
        return randint(int(low), int(high), (int(size),), generator=g, device=g.device).numpy()


def _rng(generator: GeneratorLike):
    if generator is None:
        return _Draws(_random.default_generator("cpu"))
    if isinstance(generator, _random.Generator):
        return _Draws(generator)
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        return np.random.default_rng(int(generator))
    raise TypeError(
        f"generator: expected None, a vkgrad.Generator, an int seed or a "
        f"numpy.random.Generator, got "
        f"{type(generator).__name__}"
    )


# ---------------------------------------------------------------- datasets


class Dataset:
    """A map-style dataset: subclasses define ``__getitem__`` (and usually ``__len__``)."""

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


class TensorDataset(Dataset):
    """Samples are rows of the given tensors (all of the same length along dim 0).

    >>> ds = TensorDataset(vkgrad.randn(100, 3), vkgrad.randint(0, 2, (100,)))
    >>> x, y = ds[0]
    """

    def __init__(self, *tensors: Tensor) -> None:
        if not tensors:
            raise ValueError("TensorDataset: expected at least one tensor")
        n = tensors[0].shape[0] if tensors[0].ndim else None
        for t in tensors:
            if not isinstance(t, Tensor) or t.ndim == 0 or t.shape[0] != n:
                raise ValueError(
                    "Size mismatch between tensors: TensorDataset expects tensors with the same "
                    f"first dimension, got shapes {[getattr(t, 'shape', ()) for t in tensors]}"
                )
        self.tensors = tuple(tensors)
        self._host: list | None = None

    def __getitem__(self, index: int) -> tuple:
        return tuple(self._rows(i, index) for i in range(len(self.tensors)))

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def _rows(self, i: int, index: Any) -> Tensor:
        """Rows of tensor i: a slice or int index, or a list of row indices."""
        t = self.tensors[i]
        if t.dtype.is_floating and not isinstance(index, (list, np.ndarray)):
            return t[index]  # on the device
        # Integer tensors (labels) and arbitrary row lists are gathered on the host: basic
        # indexing of int32 tensors yields float32, and there is no gather kernel yet. Each
        # tensor is read back once.
        if self._host is None:
            self._host = [x.numpy() for x in self.tensors]
        return tensor(self._host[i][index], dtype=t.dtype, device=t.device)

    def _batch(self, indices: list) -> list:
        """One batch, gathered at once (what default_collate would build from the rows)."""
        a = indices[0]
        if indices == list(range(a, a + len(indices))):
            # A run of consecutive rows is a slice: float tensors stay on the device.
            index: Any = slice(a, a + len(indices))
        else:
            index = np.asarray(indices)
        return [self._rows(i, index) for i in range(len(self.tensors))]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = list(indices)

    def __getitem__(self, idx: int) -> Any:
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset):
    """Datasets one after the other."""

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("datasets should not be an empty iterable")
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]).tolist())

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx: int) -> Any:
        if idx < 0:
            if -idx > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            idx += len(self)
        d = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[d - 1] if d > 0 else 0
        return self.datasets[d][idx - start]


def random_split(
    dataset: Dataset, lengths: Sequence[int | float], generator: GeneratorLike = None
) -> list:
    """Split into non-overlapping random subsets of the given lengths (or fractions of the
    dataset summing to 1; the remainder of the rounding goes one by one to the first subsets).

    >>> train, val = random_split(ds, [0.8, 0.2], generator=42)
    """
    n = len(dataset)
    lengths = list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        sizes = []
        for i, frac in enumerate(lengths):
            if frac < 0 or frac > 1:
                raise ValueError(f"Fraction at index {i} is not between 0 and 1")
            sizes.append(int(math.floor(n * frac)))
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        lengths = sizes
    if sum(lengths) != n:
        raise ValueError(
            f"Sum of input lengths ({sum(lengths)}) does not equal the length of the input "
            f"dataset ({n})!"
        )
    perm = _rng(generator).permutation(n).tolist()
    out, offset = [], 0
    for k in lengths:
        out.append(Subset(dataset, perm[offset : offset + k]))
        offset += k
    return out


# ---------------------------------------------------------------- samplers


class Sampler:
    """Yields dataset indices."""

    def __iter__(self) -> Iterator[int]:
        raise NotImplementedError


class SequentialSampler(Sampler):
    def __init__(self, data_source: Any) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """A fresh permutation each epoch (or ``num_samples`` draws with replacement)."""

    def __init__(
        self,
        data_source: Any,
        replacement: bool = False,
        num_samples: int | None = None,
        generator: GeneratorLike = None,
    ) -> None:
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        self._gen = _rng(generator) if generator is not None else None
        if num_samples is not None and (not isinstance(num_samples, int) or num_samples <= 0):
            raise ValueError(
                f"num_samples should be a positive integer value, but got num_samples={num_samples}"
            )

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        rng = self._gen if self._gen is not None else _rng(None)
        n = len(self.data_source)
        if self.replacement:
            return iter(rng.integers(0, n, size=self.num_samples).tolist())
        out: list = []
        while len(out) < self.num_samples:
            out += rng.permutation(n).tolist()
        return iter(out[: self.num_samples])

    def __len__(self) -> int:
        return self.num_samples


class DistributedSampler(Sampler):
    """Each of ``num_replicas`` processes gets its own part of the dataset, as PyTorch's.

    Every epoch the indices (shuffled with a generator seeded by ``seed + epoch``, the same
    on every rank) are padded by repeating the first ones until they divide evenly
    (``drop_last=False``) or cut to a multiple of ``num_replicas`` (``drop_last=True``), and
    rank r takes every ``num_replicas``-th from position r. Call ``set_epoch(epoch)`` before
    each epoch, or every epoch has the same order. ``num_replicas`` and ``rank`` default to
    the process group's world size and rank. The permutation is NumPy's
    (``default_rng(seed + epoch)``), not the one torch.randperm would draw.

    >>> sampler = DistributedSampler(ds, num_replicas=2, rank=0, seed=1)
    >>> loader = DataLoader(ds, batch_size=16, sampler=sampler)
    >>> for epoch in range(3):
    ...     sampler.set_epoch(epoch)
    ...     for xb, yb in loader:
    ...         ...
    """

    def __init__(
        self,
        dataset: Any,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if num_replicas is None or rank is None:
            if not distributed.is_initialized():
                raise RuntimeError(
                    "DistributedSampler: num_replicas and rank default to the process group's, "
                    "but it is not initialized; call vkgrad.distributed.init_process_group('mpi') "
                    "or pass num_replicas and rank"
                )
            num_replicas = distributed.get_world_size() if num_replicas is None else num_replicas
            rank = distributed.get_rank() if rank is None else rank
        if not isinstance(num_replicas, (int, np.integer)) or num_replicas < 1:
            raise ValueError(
                f"DistributedSampler: num_replicas must be a positive integer, got {num_replicas!r}"
            )
        if not isinstance(rank, (int, np.integer)) or not 0 <= rank < num_replicas:
            raise ValueError(
                f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]"
            )
        self.dataset = dataset
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.epoch = 0
        self.drop_last = bool(drop_last)
        n = len(dataset)
        if self.drop_last and n % self.num_replicas != 0:
            # Drop the tail so that every rank gets the same number of samples.
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas
        self.shuffle = bool(shuffle)
        self.seed = int(seed)

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        if self.shuffle:
            indices = np.random.default_rng(self.seed + self.epoch).permutation(n).tolist()
        else:
            indices = list(range(n))
        if not self.drop_last:
            padding = self.total_size - len(indices)
            if padding <= len(indices):
                indices += indices[:padding]
            elif indices:
                indices += (indices * math.ceil(padding / len(indices)))[:padding]
        else:
            indices = indices[: self.total_size]
        return iter(indices[self.rank : self.total_size : self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """The epoch whose shuffle the next iteration uses (the same on every rank)."""
        self.epoch = int(epoch)


class BatchSampler(Sampler):
    """Groups a sampler's indices into lists of ``batch_size``."""

    def __init__(self, sampler: Iterable[int], batch_size: int, drop_last: bool) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(
                f"batch_size should be a positive integer value, but got batch_size={batch_size}"
            )
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list]:
        batch: list = []
        for idx in self.sampler:
            batch.append(idx)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)  # type: ignore[arg-type]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


# ---------------------------------------------------------------- collation


def default_collate(batch: list) -> Any:
    """Stack a list of samples into a batch: tensors, arrays and numbers become one tensor
    with a leading batch dim; tuples/lists and dicts are collated field by field.

    >>> default_collate([(vkgrad.ones(2), 0), (vkgrad.zeros(2), 1)])
    [tensor([[1., 1.], [0., 0.]]), tensor([0, 1], dtype=vkgrad.int32)]
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        # No stack kernel yet: samples meet on the host and the batch is uploaded once.
        arr = np.stack([t.numpy() for t in batch])
        return tensor(arr, dtype=elem.dtype, device=elem.device)
    if isinstance(elem, (np.ndarray, np.generic)):
        return tensor(np.stack([np.asarray(b) for b in batch]))
    if isinstance(elem, (bool, int, float)):
        return tensor(batch)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, dict):
        return {k: default_collate([d[k] for d in batch]) for k in elem}
    if isinstance(elem, (tuple, list)):
        n = len(elem)
        if any(len(b) != n for b in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        return [default_collate(list(s)) for s in zip(*batch)]
    raise TypeError(
        f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
        f"found {type(elem).__name__}"
    )


# ---------------------------------------------------------------- the loader


class DataLoader:
    """Iterates over ``dataset`` in batches, in order or shuffled.

    ``num_workers > 0`` loads the dataset's items in that many worker processes, ahead of
    training by ``prefetch_factor`` batches per worker (default 2), seeded per worker
    (``worker_init_fn``, ``get_worker_info()``), and kept between epochs with
    ``persistent_workers=True`` (``vkgrad/data_workers.py``). Items must then be host data
    (NumPy arrays, numbers, cpu tensors); collation runs in the calling process, which puts
    the batch on the device. A ``TensorDataset`` with the default collation is batched in
    the calling process by gathering rows at once (its rows already live on the device, so
    workers would only add copies). ``pin_memory`` is accepted and ignored.

    >>> loader = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True, generator=0)
    >>> xb, yb = next(iter(loader))
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Iterable | None = None,
        batch_sampler: Iterable | None = None,
        num_workers: int = 0,
        collate_fn: Callable | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable | None = None,
        multiprocessing_context: Any = None,
        generator: GeneratorLike = None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
    ) -> None:
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if num_workers < 0:
            raise ValueError(
                "num_workers option should be non-negative; use num_workers=0 to disable "
                "multiprocessing."
            )
        if num_workers == 0 and (prefetch_factor is not None or persistent_workers):
            raise ValueError(
                "prefetch_factor and persistent_workers options could only be specified in "
                "multiprocessing. let num_workers > 0 to enable multiprocessing."
            )
        if prefetch_factor is not None and prefetch_factor < 1:
            raise ValueError(f"prefetch_factor must be >= 1, got {prefetch_factor}")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "batch_sampler option is mutually exclusive with batch_size, shuffle, "
                    "sampler, and drop_last"
                )
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError(
                "batch_size=None option disables auto-batching and is mutually exclusive with "
                "drop_last"
            )
        if sampler is None:
            if shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.prefetch_factor = 2 if prefetch_factor is None else int(prefetch_factor)
        self.persistent_workers = bool(persistent_workers)
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.timeout = float(timeout)
        self._pool = None
        self.generator = generator
        self._auto_collation = batch_sampler is not None
        self._default_collate = collate_fn is None
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else (lambda x: x)
        self.collate_fn = collate_fn

    def __iter__(self) -> Iterator[Any]:
        ds = self.dataset
        fast = self._default_collate and isinstance(ds, TensorDataset)
        if self.num_workers > 0 and not fast:
            yield from self._iter_workers()
            return
        if not self._auto_collation:
            for i in self.sampler:
                yield self.collate_fn(ds[i])
            return
        for indices in self.batch_sampler:  # type: ignore[union-attr]
            indices = list(indices)
            if fast:
                yield ds._batch(indices)
            else:
                yield self.collate_fn([ds[i] for i in indices])

    def _iter_workers(self) -> Iterator[Any]:
        pool = self._pool
        if pool is None or not pool.alive():
            # As PyTorch: one base seed per start of the workers, from the loader's generator.
            seed = int(_rng(self.generator).integers(0, 2**31 - 1, 1)[0])
            pool = WorkerPool(
                self.dataset,
                self.num_workers,
                seed,
                self.worker_init_fn,
                self.multiprocessing_context,
            )
        if self.persistent_workers:
            self._pool = pool
        if self._auto_collation:
            batches = (list(b) for b in self.batch_sampler)  # type: ignore[union-attr]
        else:
            batches = ([i] for i in self.sampler)
        try:
            for samples in pool.run(batches, self.prefetch_factor, self.timeout):
                samples = from_host(samples)
                yield self.collate_fn(samples if self._auto_collation else samples[0])
        except BaseException:
            # A failed or abandoned epoch leaves no worker behind, persistent or not.
            pool.shutdown()
            self._pool = None
            raise
        if not self.persistent_workers:
            pool.shutdown()

    def __len__(self) -> int:
        src = self.batch_sampler if self._auto_collation else self.sampler
        return len(src)  # type: ignore[arg-type]
