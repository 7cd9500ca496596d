"""NumPy kernels of the op families, one module per ``vkgrad/library`` module (and ``optim``
for the optimizer updates)."""

from __future__ import annotations

from . import (  # noqa: F401
    conv,
    elementwise,
    indexing,
    linalg,
    loss,
    norm,
    optim,
    random,
    reduction,
    shape,
)
