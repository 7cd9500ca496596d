"""vkgrad.data.DistributedSampler: each rank's share of every epoch, as PyTorch's.

No MPI needed: num_replicas and rank are given. Without shuffling the index lists must equal
torch's exactly (when torch is installed); with shuffling, the ranks' lists must still make
one padded permutation of the dataset, the same on every rank for an epoch.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import vkgrad
from vkgrad.data import DataLoader, DistributedSampler, TensorDataset

CASES = [(n, r, d) for n in (1, 2, 3, 5, 10, 11) for r in (1, 2, 3, 4) for d in (False, True)]


def shares(n: int, replicas: int, drop_last: bool, **kw) -> list:
    return [
        list(DistributedSampler(range(n), replicas, rank, drop_last=drop_last, **kw))
        for rank in range(replicas)
    ]


@pytest.mark.parametrize("n,replicas,drop_last", CASES)
def test_unshuffled_shares_equal_torchs(n, replicas, drop_last):
    torch_data = pytest.importorskip("torch.utils.data")
    got = shares(n, replicas, drop_last, shuffle=False)
    for rank in range(replicas):
        want = torch_data.DistributedSampler(
            range(n), replicas, rank, shuffle=False, drop_last=drop_last
        )
        assert got[rank] == list(want), (rank, got[rank], list(want))
        assert len(DistributedSampler(range(n), replicas, rank, drop_last=drop_last)) == len(want)


@pytest.mark.parametrize("n,replicas,drop_last", CASES)
def test_shuffled_shares_make_one_padded_permutation(n, replicas, drop_last):
    parts = shares(n, replicas, drop_last, shuffle=True, seed=3)
    if drop_last and n % replicas:
        per_rank = math.ceil((n - replicas) / replicas)  # the tail is dropped
    else:
        per_rank = math.ceil(n / replicas)
    assert all(len(p) == per_rank for p in parts), parts
    # Interleave the ranks back: position k of the epoch went to rank k % replicas.
    epoch = [parts[k % replicas][k // replicas] for k in range(per_rank * replicas)]
    if drop_last:
        assert len(set(epoch)) == len(epoch) and set(epoch) <= set(range(n))
    else:
        # every index once, then the first ones again as padding
        assert sorted(epoch[:n]) == list(range(n))
        assert epoch[n:] == (epoch[:n] * replicas)[: len(epoch) - n]


def test_shuffle_follows_seed_and_epoch():
    s = DistributedSampler(range(50), num_replicas=2, rank=1, seed=5)
    first = list(s)
    assert list(s) == first  # no set_epoch: the same order again
    s.set_epoch(1)
    second = list(s)
    assert second != first
    assert list(DistributedSampler(range(50), 2, 1, seed=5)) == first
    assert list(DistributedSampler(range(50), 2, 1, seed=6)) != first
    # the order is the same on every rank: rank 0 and rank 1 together cover each index once
    other = DistributedSampler(range(50), 2, 0, seed=5)
    other.set_epoch(1)
    assert sorted(list(other) + second) == list(range(50))
    assert first != list(range(1, 50, 2))  # shuffled at all


def test_with_a_dataloader_each_rank_gets_its_rows():
    x = vkgrad.tensor(np.arange(20, dtype=np.float32).reshape(10, 2))
    ds = TensorDataset(x)
    rows = []
    for rank in range(3):
        sampler = DistributedSampler(ds, num_replicas=3, rank=rank, shuffle=False)
        rows.append([xb.numpy()[:, 0].tolist() for (xb,) in DataLoader(ds, 2, sampler=sampler)])
    assert rows[0] == [[0.0, 6.0], [12.0, 18.0]]
    assert rows[1] == [[2.0, 8.0], [14.0, 0.0]]  # padded with index 0
    assert rows[2] == [[4.0, 10.0], [16.0, 2.0]]


def test_bad_arguments():
    with pytest.raises(
        ValueError, match=r"Invalid rank 2, rank should be in the interval \[0, 1\]"
    ):
        DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="DistributedSampler: num_replicas must be a positive"):
        DistributedSampler(range(4), num_replicas=0, rank=0)
    with pytest.raises(RuntimeError, match="DistributedSampler: .* not initialized"):
        DistributedSampler(range(4))
