"""The small interface every backend implements.

A backend owns opaque arrays: contiguous, row-major, with ``.shape`` (a tuple). Tensors hold
one array each and never look inside it. ``autograd``, ``nn`` and ``optim`` never import a
backend; they go through ``Tensor`` and ``functional``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from ..dtypes import DType
from ..ops import Op


class Backend(ABC):
    #: "cpu" or "vulkan"
    type: str

    @abstractmethod
    def from_numpy(self, data: np.ndarray, dtype: DType) -> Any:
        """A new array holding ``data`` converted to ``dtype``."""

    @abstractmethod
    def to_numpy(self, array: Any, dtype: DType) -> np.ndarray:
        """The array's values as a new NumPy array of ``dtype.np`` (waits for pending work)."""

    @abstractmethod
    def run(
        self,
        op: Op,
        inputs: list,
        attrs: dict,
        shape: tuple,
        dtype: DType,
        out: Any = None,
    ) -> Any:
        """Run one op row.

        ``inputs`` are arrays of this backend or Python floats (broadcast scalars);
        ``shape``/``dtype`` are the output's, already checked by ``ops.out_shape``.
        With ``out`` given, the result is written into that existing array, which may be
        one of the inputs (in-place ops), and ``out`` is returned. ``update`` rows modify
        their tensor inputs in place and return None.
        """

    @abstractmethod
    def reshape(self, array: Any, shape: tuple) -> Any:
        """The same storage seen with another shape of the same size (no copy)."""

    def sole_holder(self, array: Any) -> bool:
        """Whether one tensor's ``_data`` is all that holds ``array`` and its storage, so that
        writing into it in place can surprise no one (autograd then keeps a fresh gradient
        instead of copying it). Call it as ``backend.sole_holder(t._data)``. The default,
        False, is always safe: the caller copies."""
        return False

    def synchronize(self) -> None:
        """Wait for all work submitted so far."""

    def capture_program(self, inputs: list):
        """Start recording the ops run from now on (``vkgrad.capture``); ``inputs`` are the
        arrays a replay swaps for new ones. Returns an object with ``stop()``,
        ``bind(tensors)``, ``write(array, values)`` and ``replay(inputs, versions)``."""
        raise NotImplementedError(f"{type(self).__name__} cannot capture steps")
