"""The global random state behind rand/randn/init: ``vkgrad.manual_seed(0)`` makes runs repeat."""

from __future__ import annotations

import numpy as np

# capturing imports this module to mark draws during a recording: only its module is bound here.
from . import capturing as capturing_module

_rng = np.random.default_rng()
_seed: int | None = None
capturing = False  # set while vkgrad.capture records a function: draws would be baked in


def _refuse_in_capture() -> None:
    if capturing:
        raise capturing_module.CaptureError(
            "capture: random numbers (dropout, rand, randn, init) are drawn inside a captured "
            "function; every replay would repeat the same draw. Draw them outside it"
        )


def manual_seed(seed: int) -> np.random.Generator:
    """Seed every random number vkgrad draws (tensor creation, init, shuffling)."""
    global _rng, _seed
    _seed = int(seed)
    _rng = np.random.default_rng(_seed)
    return _rng


def host_rng() -> np.random.Generator:
    _refuse_in_capture()
    return _rng


def next_seed() -> tuple[int, int]:
    """Two uint32 words keying one use of the device-side counter-based generator (dropout).

    Drawn from, and advancing, the global state: ``manual_seed(s)`` makes them repeat."""
    _refuse_in_capture()
    w = _rng.integers(0, 2**32, size=2, dtype=np.uint64)
    return int(w[0]), int(w[1])
