"""Padding layers (``torch.nn``'s): constant/zero, reflection, replication and circular
padding of 1, 2 or 3 trailing dims, each ``F.pad`` with its mode. ``padding`` is an int (every
side) or a tuple of (before, after) pairs starting from the last dim, as ``F.pad``."""

from __future__ import annotations

from ..tensor import Tensor
from . import functional as F
from .module import Module


def _padding(name: str, padding, n: int) -> tuple:
    if isinstance(padding, (tuple, list)):
        if len(padding) != 2 * n:
            raise ValueError(
                f"{name}: padding must be an int or a {2 * n}-tuple, got {tuple(padding)}"
            )
        return tuple(int(p) for p in padding)
    return (int(padding),) * (2 * n)


class _PadNd(Module):
    _dims = 1
    _mode = "constant"

    def __init__(self, padding) -> None:
        super().__init__()
        self.padding = _padding(type(self).__name__, padding, self._dims)

    def _check_input_dim(self, input: Tensor) -> None:
        # As F.pad's non-constant modes (and PyTorch's circular modules): (C, *) or (N, C, *).
        want = (self._dims + 1, self._dims + 2)
        if input.ndim not in want:
            raise ValueError(
                f"{type(self).__name__}: expected {want[0]}D or {want[1]}D input (got "
                f"{input.ndim}D input of shape {tuple(input.shape)})"
            )

    def forward(self, input: Tensor) -> Tensor:
        if self._mode != "constant":
            self._check_input_dim(input)
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding, value: float) -> None:
        super().__init__(padding)
        self.value = value

    def forward(self, input: Tensor) -> Tensor:
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pad the last dim with ``value``: ``padding`` is an int or (left, right).

    >>> nn.ConstantPad1d((1, 2), 3.5)(vkgrad.ones(1, 2, 4)).shape   # (1, 2, 7)
    """


class ConstantPad2d(_ConstantPadNd):
    """Pad the last two dims with ``value``: ``padding`` is an int or (left, right, top,
    bottom).

    >>> nn.ConstantPad2d(1, -1.0)(vkgrad.ones(1, 2, 4, 4)).shape   # (1, 2, 6, 6)
    """

    _dims = 2


class ConstantPad3d(_ConstantPadNd):
    """Pad the last three dims with ``value``: an int or (left, right, top, bottom, front,
    back)."""

    _dims = 3


class _Zero:
    """The zero-padding forms: a ConstantPad with value 0 (subclasses, as in PyTorch)."""

    def __init__(self, padding) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad1d(_Zero, ConstantPad1d):
    """Pad the last dim with zeros.

    >>> nn.ZeroPad1d(2)(vkgrad.ones(1, 2, 4)).shape   # (1, 2, 8)
    """


class ZeroPad2d(_Zero, ConstantPad2d):
    """Pad the last two dims with zeros: ``padding`` is an int or (left, right, top, bottom).

    >>> nn.ZeroPad2d((1, 1, 2, 0))(vkgrad.ones(1, 2, 4, 4)).shape   # (1, 2, 6, 6)
    """


class ZeroPad3d(_Zero, ConstantPad3d):
    """Pad the last three dims with zeros."""


class ReflectionPad1d(_PadNd):
    """Pad the last dim of (C, W) or (N, C, W) input with its reflection (the edge is not
    repeated); each amount must be smaller than the size.

    >>> nn.ReflectionPad1d(2)(vkgrad.arange(4.0).reshape(1, 1, 4))   # [2, 1, 0, 1, 2, 3, 2, 1]
    """

    _mode = "reflect"


class ReflectionPad2d(_PadNd):
    """Pad the last two dims of (C, H, W) or (N, C, H, W) input with their reflection.

    >>> nn.ReflectionPad2d((1, 1, 2, 0))(vkgrad.ones(1, 2, 4, 4)).shape   # (1, 2, 6, 6)
    """

    _mode = "reflect"
    _dims = 2


class ReflectionPad3d(_PadNd):
    """Pad the last three dims of (C, D, H, W) or (N, C, D, H, W) input with their
    reflection."""

    _mode = "reflect"
    _dims = 3


class ReplicationPad1d(_PadNd):
    """Pad the last dim of (C, W) or (N, C, W) input by repeating its edge values.

    >>> nn.ReplicationPad1d((0, 2))(vkgrad.arange(3.0).reshape(1, 1, 3))   # [0, 1, 2, 2, 2]
    """

    _mode = "replicate"


class ReplicationPad2d(_PadNd):
    """Pad the last two dims of (C, H, W) or (N, C, H, W) input by repeating their edges.

    >>> nn.ReplicationPad2d(1)(vkgrad.ones(1, 2, 4, 4)).shape   # (1, 2, 6, 6)
    """

    _mode = "replicate"
    _dims = 2


class ReplicationPad3d(_PadNd):
    """Pad the last three dims of (C, D, H, W) or (N, C, D, H, W) input by repeating their
    edges."""

    _mode = "replicate"
    _dims = 3


class CircularPad1d(_PadNd):
    """Pad the last dim of (C, W) or (N, C, W) input with the values of its other end.

    >>> nn.CircularPad1d(1)(vkgrad.arange(3.0).reshape(1, 1, 3))   # [2, 0, 1, 2, 0]
    """

    _mode = "circular"


class CircularPad2d(_PadNd):
    """Pad the last two dims of (C, H, W) or (N, C, H, W) input circularly."""

    _mode = "circular"
    _dims = 2


class CircularPad3d(_PadNd):
    """Pad the last three dims of (C, D, H, W) or (N, C, D, H, W) input circularly."""

    _mode = "circular"
    _dims = 3
