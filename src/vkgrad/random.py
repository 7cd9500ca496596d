"""The global random state behind rand/randn/init: ``vkgrad.manual_seed(0)`` makes runs repeat."""

from __future__ import annotations

import numpy as np

_rng = np.random.default_rng()
_seed: int | None = None


def manual_seed(seed: int) -> np.random.Generator:
    """Seed every random number vkgrad draws (tensor creation, init, shuffling)."""
    global _rng, _seed
    _seed = int(seed)
    _rng = np.random.default_rng(_seed)
    return _rng


def host_rng() -> np.random.Generator:
    return _rng
