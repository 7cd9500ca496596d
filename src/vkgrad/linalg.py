"""``vkgrad.linalg``: linear algebra functions, as ``torch.linalg``.

Factorisations run on batches of matrices (leading dims are batch dims); every
function is differentiable. See ``vkgrad/library/linalg.py`` for the methods.

>>> A = 3 * vkgrad.eye(3) + 0.1 * vkgrad.ones(3, 3)
>>> x = vkgrad.linalg.solve(A, vkgrad.ones(3))
"""

from __future__ import annotations

from .library.linalg import (
    cholesky,
    det,
    inv,
    matmul,
    pinv,
    slogdet,
    solve,
    solve_triangular,
    svd,
    svdvals,
    vecdot,
)
from .library.linalg import linalg_cross as cross

__all__ = [
    "cholesky",
    "cross",
    "det",
    "inv",
    "matmul",
    "pinv",
    "slogdet",
    "solve",
    "solve_triangular",
    "svd",
    "svdvals",
    "vecdot",
]
