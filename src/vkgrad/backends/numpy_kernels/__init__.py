"""NumPy kernels of the op families, one module per ``vkgrad/library`` module."""

from __future__ import annotations

from . import conv, elementwise, indexing, linalg, loss, norm, reduction, shape  # noqa: F401
