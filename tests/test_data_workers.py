"""DataLoader with num_workers > 0: the same batches as in-process loading, loaded ahead in
worker processes, seeded per worker, persistent across epochs when asked, and errors that
name the worker instead of hanging."""

from __future__ import annotations

import multiprocessing as mp
import os
import time

import numpy as np
import pytest

import vkgrad
from vkgrad.data import DataLoader, Dataset, TensorDataset, get_worker_info


class Squares(Dataset):
    """Host data, as a dataset that decodes files would return."""

    def __init__(self, n=23, loaded=None, fail_at=None):
        self.n, self.loaded, self.fail_at = n, loaded, fail_at

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i == self.fail_at:
            raise ValueError(f"bad item {i}")
        if self.loaded is not None:
            with self.loaded.get_lock():
                self.loaded.value += 1
        info = get_worker_info()
        return {
            "x": np.arange(3, dtype=np.float32) + i,
            "y": i * i,
            "worker": -1 if info is None else info.id,
            "draw": float(np.random.random()),
            "pid": os.getpid(),
        }


def _batches(loader):
    return [{k: v.numpy() for k, v in b.items()} for b in loader]


def test_workers_give_the_in_process_batches_in_order():
    ds = Squares()
    plain = _batches(DataLoader(ds, batch_size=4, shuffle=True, generator=3))
    loaded = _batches(DataLoader(ds, batch_size=4, shuffle=True, generator=3, num_workers=2))
    assert len(plain) == len(loaded) == 6
    for a, b in zip(plain, loaded):
        np.testing.assert_array_equal(a["x"], b["x"])
        np.testing.assert_array_equal(a["y"], b["y"])
    used = set(np.concatenate([b["worker"] for b in loaded]).tolist())
    assert used == {0, 1}  # both workers loaded batches
    assert all(pid != os.getpid() for b in loaded for pid in b["pid"])


def test_without_batching_and_with_a_custom_collate():
    ds = Squares(n=5)
    items = list(DataLoader(ds, batch_size=None, num_workers=2))
    assert [int(it["y"]) for it in items] == [0, 1, 4, 9, 16]
    ys = list(DataLoader(ds, batch_size=2, num_workers=2, collate_fn=lambda s: [d["y"] for d in s]))
    assert ys == [[0, 1], [4, 9], [16]]


def test_workers_are_seeded_apart_and_reproducibly():
    def draws(seed):
        loader = DataLoader(Squares(), batch_size=4, num_workers=2, generator=seed)
        return np.concatenate([b["draw"] for b in _batches(loader)])

    a, b, c = draws(7), draws(7), draws(8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert len(set(a.tolist())) == len(a)  # the two workers do not repeat each other's draws


def test_worker_init_fn_and_worker_info():
    seen = mp.get_context("fork").Array("i", [-1, -1])

    def init(worker_id):
        info = get_worker_info()
        assert info.id == worker_id and info.num_workers == 2
        seen[worker_id] = worker_id + 10

    list(DataLoader(Squares(n=8), batch_size=2, num_workers=2, worker_init_fn=init))
    assert list(seen) == [10, 11]
    assert get_worker_info() is None


def test_loading_runs_ahead_of_training():
    loaded = mp.get_context("fork").Value("i", 0)
    loader = DataLoader(Squares(n=40, loaded=loaded), batch_size=2, num_workers=2)
    it = iter(loader)
    next(it)
    # Up front the loader asks each of the 2 workers for prefetch_factor (2) batches of 2
    # items, and one more batch once the first is taken: the workers load 8 to 10 items
    # without the training loop asking, whatever the machine's speed.
    deadline = time.monotonic() + 20
    while loaded.value < 8 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert loaded.value >= 8
    assert loaded.value <= 10  # and no further than the prefetch allows
    it.close()


def test_persistent_workers_outlive_an_epoch():
    def pids(loader):
        return {int(p) for b in _batches(loader) for p in b["pid"]}

    keep = DataLoader(Squares(n=8), batch_size=2, num_workers=2, persistent_workers=True)
    assert pids(keep) == pids(keep)
    fresh = DataLoader(Squares(n=8), batch_size=2, num_workers=2)
    assert pids(fresh).isdisjoint(pids(fresh))


def test_a_failing_item_names_the_worker_and_the_error():
    loader = DataLoader(Squares(fail_at=9), batch_size=4, num_workers=2)
    with pytest.raises(RuntimeError, match=r"DataLoader worker \d raised ValueError: bad item 9"):
        list(loader)


def test_a_gpu_tensor_from_a_dataset_is_refused_in_workers():
    from conftest import vulkan_skip_reason

    if vulkan_skip_reason():
        pytest.skip(vulkan_skip_reason())

    class OnGpu(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return vkgrad.ones(2, device="vulkan")

    with pytest.raises(RuntimeError, match="must not use the GPU"):
        list(DataLoader(OnGpu(), batch_size=2, num_workers=1))


def test_a_tensor_dataset_stays_in_process(device):
    x = vkgrad.arange(12, dtype="f32", device=device).reshape(6, 2)
    loader = DataLoader(TensorDataset(x), batch_size=4, num_workers=2)
    (b0,), (b1,) = list(loader)
    assert b0.device == device
    np.testing.assert_array_equal(b1.numpy(), x.numpy()[4:])


def test_bad_worker_options():
    with pytest.raises(ValueError, match="num_workers option should be non-negative"):
        DataLoader(Squares(), num_workers=-1)
    with pytest.raises(ValueError, match="prefetch_factor and persistent_workers"):
        DataLoader(Squares(), prefetch_factor=2)
    with pytest.raises(ValueError, match="prefetch_factor must be >= 1"):
        DataLoader(Squares(), num_workers=1, prefetch_factor=0)
