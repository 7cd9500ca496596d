"""Index validation from the op rows, shared by every backend.

A row that reads int32 indices declares them with ``Op.bounds``: ``(in_shapes, attrs) ->
(input position, lo, hi, skip, message)``; valid values are ``lo <= v < hi``, and ``skip``
(unless None) marks an element to leave out. The message is formatted with ``v``, the bad
value, so that every backend raises the same IndexError.

How much a backend can check differs: the NumPy backend holds the values and checks each of
them (``check_index_values``); the Vulkan backend knows only the (min, max) of indices
uploaded from the host, since reading device-made indices back would cost a sync
(``check_known_range``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .ops import Op

Bounds = tuple  # (input position, lo, hi, skip, message)


def index_bounds(op: Op, shapes: list, attrs: dict) -> Bounds | None:
    """The row's bounds for inputs of ``shapes`` (``()`` for Python scalars), or None when
    the row reads no indices."""
    if op.bounds is None:
        return None
    return tuple(op.bounds(shapes, attrs))


def check_values(values: Any, lo: int, hi: int, skip: int | None, message: str) -> None:
    """IndexError, formatted with the first bad value in memory order, unless every value
    lies in [lo, hi) or equals ``skip``."""
    v = np.asarray(values)
    if v.size == 0:
        return
    vmin, vmax = v.min(), v.max()
    if lo <= vmin and vmax < hi:
        return  # the usual case: two reductions, no mask
    bad = (v < lo) | (v >= hi)
    if skip is not None:
        bad &= v != skip
    if bad.any():
        raise IndexError(message.format(v=int(v[bad].flat[0])))


def check_index_values(op: Op, inputs: list, attrs: dict) -> None:
    """Check every index value of a call of ``op`` against its row's bounds."""
    if op.bounds is None:
        return
    pos, lo, hi, skip, message = index_bounds(op, [np.shape(x) for x in inputs], attrs)
    check_values(inputs[pos], lo, hi, skip, message)


def check_known_range(known: tuple | None, lo: int, hi: int, skip, message: str) -> None:
    """IndexError when the known (min, max) of some indices leaves [lo, hi) but for skip.

    Only the extremes are known: when one of them is the skip value, a bad value between
    them goes through (the Vulkan kernels skip it). None: nothing known, nothing checked."""
    if known is not None:
        for v in (known[1], known[0]):
            if not lo <= v < hi and v != skip:
                raise IndexError(message.format(v=v))
