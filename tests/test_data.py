"""vkgrad.data: datasets, samplers, DataLoader and random_split, with PyTorch's semantics."""

from __future__ import annotations

import numpy as np
import pytest

import vkgrad
from vkgrad.data import (
    BatchSampler,
    ConcatDataset,
    DataLoader,
    Dataset,
    RandomSampler,
    Subset,
    TensorDataset,
    default_collate,
    random_split,
)


def _has_vulkan() -> bool:
    return any(d["device"].startswith("vulkan") for d in vkgrad.devices())


DEVICES = ["cpu", pytest.param("vulkan", marks=pytest.mark.vulkan)]


def _ds(n=10, device="cpu"):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n, dtype=np.int32) * 10
    return (
        TensorDataset(
            vkgrad.tensor(x, device=device, dtype="f32"), vkgrad.tensor(y, device=device)
        ),
        x,
        y,
    )


class Squares(Dataset):
    def __len__(self):
        return 7

    def __getitem__(self, i):
        return {"x": np.full(2, i, np.float32), "y": i * i, "name": f"s{i}"}


def test_tensor_dataset_items_and_errors():
    ds, x, y = _ds()
    assert len(ds) == 10
    xi, yi = ds[3]
    np.testing.assert_array_equal(xi.numpy(), x[3])
    assert yi.item() == 30
    with pytest.raises(ValueError, match="Size mismatch"):
        TensorDataset(vkgrad.ones(3, 2), vkgrad.ones(4))


@pytest.mark.parametrize("device", DEVICES)
def test_loader_in_order_with_last_partial_batch(device):
    if device == "vulkan" and not _has_vulkan():
        pytest.skip("no Vulkan device")
    ds, x, y = _ds(10, device)
    loader = DataLoader(ds, batch_size=4)
    assert len(loader) == 3
    batches = list(loader)
    assert [b[0].shape for b in batches] == [(4, 3), (4, 3), (2, 3)]
    assert batches[0][0].device == vkgrad.Device.parse(device)
    np.testing.assert_array_equal(np.concatenate([b[0].numpy() for b in batches]), x)
    np.testing.assert_array_equal(np.concatenate([b[1].numpy() for b in batches]), y)
    assert batches[0][1].dtype is vkgrad.int32
    dl = DataLoader(ds, batch_size=4, drop_last=True)
    assert len(dl) == 2 and [b[0].shape[0] for b in dl] == [4, 4]


@pytest.mark.parametrize("device", DEVICES)
def test_shuffle_is_a_reproducible_permutation(device):
    if device == "vulkan" and not _has_vulkan():
        pytest.skip("no Vulkan device")
    ds, x, y = _ds(10, device)

    def epochs(gen, n=2):
        loader = DataLoader(ds, batch_size=3, shuffle=True, generator=gen)
        return [np.concatenate([b[1].numpy() for b in loader]) for _ in range(n)]

    a, b = epochs(0), epochs(0)
    for ea, eb in zip(a, b):
        np.testing.assert_array_equal(ea, eb)  # same seed, same epochs
        assert sorted(ea.tolist()) == y.tolist()  # each epoch is a permutation
    assert not np.array_equal(a[0], a[1])  # a fresh order each epoch
    assert not np.array_equal(a[0], epochs(1)[0])
    assert not np.array_equal(a[0], y)
    # rows stay together: x row i goes with y = 10 i
    loader = DataLoader(ds, batch_size=4, shuffle=True, generator=np.random.default_rng(5))
    for xb, yb in loader:
        np.testing.assert_array_equal(xb.numpy(), x[yb.numpy() // 10])


def test_global_seed_drives_shuffle_without_generator():
    ds, _, _ = _ds(20)

    def order():
        vkgrad.manual_seed(123)
        return np.concatenate([b[1].numpy() for b in DataLoader(ds, 5, shuffle=True)])

    np.testing.assert_array_equal(order(), order())


def test_default_collate_nested_and_custom_collate():
    dl = DataLoader(Squares(), batch_size=3)
    b = next(iter(dl))
    assert set(b) == {"x", "y", "name"}
    assert b["x"].shape == (3, 2) and b["y"].numpy().tolist() == [0, 1, 4]
    assert b["name"] == ["s0", "s1", "s2"]
    out = default_collate([(vkgrad.ones(2), 0.5), (vkgrad.zeros(2), 1.5)])
    assert isinstance(out, list) and out[0].shape == (2, 2)
    np.testing.assert_allclose(out[1].numpy(), [0.5, 1.5])
    dl = DataLoader(Squares(), batch_size=2, collate_fn=lambda items: [it["y"] for it in items])
    assert list(dl) == [[0, 1], [4, 9], [16, 25], [36]]
    with pytest.raises(TypeError, match="default_collate"):
        default_collate([object()])


def test_batch_size_none_and_batch_sampler():
    dl = DataLoader(Squares(), batch_size=None)
    assert len(dl) == 7 and next(iter(dl))["y"] == 0
    bs = BatchSampler(range(5), batch_size=2, drop_last=False)
    assert list(bs) == [[0, 1], [2, 3], [4]] and len(bs) == 3
    dl = DataLoader(Squares(), batch_sampler=[[6, 0], [3]])
    assert [b["y"].numpy().tolist() for b in dl] == [[36, 0], [9]]
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(Squares(), batch_size=2, batch_sampler=[[0]])
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(Squares(), sampler=range(3), shuffle=True)
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(Squares(), batch_size=0)


def test_random_sampler_with_replacement():
    s = RandomSampler(range(4), replacement=True, num_samples=50, generator=0)
    idx = list(s)
    assert len(idx) == 50 == len(s) and set(idx) <= {0, 1, 2, 3} and len(set(idx)) == 4


@pytest.mark.parametrize(
    "lengths,sizes",
    [([3, 7], [3, 7]), ([0.5, 0.5], [5, 5]), ([0.33, 0.33, 0.34], [4, 3, 3]), ([1.0], [10])],
)
def test_random_split(lengths, sizes):
    ds, _, y = _ds(10)
    parts = random_split(ds, lengths, generator=42)
    assert [len(p) for p in parts] == sizes
    seen = [int(p[i][1].item()) for p in parts for i in range(len(p))]
    assert sorted(seen) == y.tolist()  # disjoint and complete
    again = random_split(ds, lengths, generator=42)
    assert [p.indices for p in parts] == [p.indices for p in again]


def test_random_split_errors_and_subset_concat():
    ds, _, _ = _ds(10)
    with pytest.raises(ValueError, match="does not equal the length"):
        random_split(ds, [3, 3])
    sub = Subset(Squares(), [4, 2])
    assert len(sub) == 2 and sub[1]["y"] == 4
    cat = ConcatDataset([Squares(), sub])
    assert len(cat) == 9 and cat[7]["y"] == 16 and cat[-1]["y"] == 4
    assert len(Squares() + sub) == 9
    b = next(iter(DataLoader(sub, batch_size=2)))
    assert b["y"].numpy().tolist() == [16, 4]
