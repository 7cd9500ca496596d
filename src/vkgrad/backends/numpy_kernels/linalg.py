"""NumPy kernels of the linalg family (``vkgrad/library/linalg.py``).

Inputs are (batch, rows, cols) stacks of matrices: (batch, n, n) for the solvers and
factorizations (and (batch, n, k) right-hand sides); a batch of 1 broadcasts. Singular or
non-positive-definite inputs raise with PyTorch's wording.
"""

from __future__ import annotations

import numpy as np

from ..numpy_backend import kernel


@kernel
def matmul(a, b, ta=0, tb=0, **_):
    if ta:
        a = np.swapaxes(a, -1, -2)
    if tb:
        b = np.swapaxes(b, -1, -2)
    return np.matmul(a, b)


def _batch_prefix(a: np.ndarray, i: int) -> str:
    return f"(Batch element {i}): " if a.shape[0] > 1 else ""


def _first_zero_pivot(m: np.ndarray) -> int:
    """1-based index of the first zero pivot of Gaussian elimination with partial pivoting
    (LAPACK getrf's info), or 0. Runs only to word an error."""
    u = np.array(m, dtype=np.float64)
    n = u.shape[0]
    for p in range(n):
        r = p + int(np.argmax(np.abs(u[p:, p])))
        if u[r, p] == 0:
            return p + 1
        u[[p, r]] = u[[r, p]]
        u[p + 1 :, p:] -= np.outer(u[p + 1 :, p] / u[p, p], u[p, p:])
    return 0


@kernel
def linalg_solve(a, b, caller="linalg.solve", **_):
    try:
        return np.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        pass
    for i in range(a.shape[0]):
        info = _first_zero_pivot(a[i])
        if info:
            pre = _batch_prefix(a, i)
            if caller == "linalg.inv":
                raise RuntimeError(
                    f"{caller}: {pre}The diagonal element {info} is zero, the inversion could "
                    f"not be completed because the input matrix is singular."
                )
            raise RuntimeError(
                f"{caller}: {pre}The solver failed because the input matrix is singular "
                f"(the diagonal element {info} of its LU factor is zero)."
            )
    raise RuntimeError(f"{caller}: the solver failed (LAPACK reported a singular matrix)")


@kernel
def solve_triangular(a, b, upper=0, unitriangular=0, **_):
    n, k = a.shape[-1], b.shape[-1]
    batch = max(a.shape[0], b.shape[0])
    x = np.array(np.broadcast_to(b, (batch, n, k)), dtype=np.result_type(a, b))
    a = np.broadcast_to(a, (batch, n, n))
    # Substitution, one row of X per step, vectorised over the batch and the columns.
    for p in range(n - 1, -1, -1) if upper else range(n):
        if not unitriangular:
            x[:, p] /= a[:, p, p, None]
        rows = slice(0, p) if upper else slice(p + 1, n)
        x[:, rows] -= a[:, rows, p, None] * x[:, p, None, :]
    return x


@kernel
def linalg_cholesky(a, caller="linalg.cholesky", **_):
    # NumPy's cholesky (LAPACK potrf, 'L') reads only the lower triangle, as PyTorch's.
    try:
        return np.linalg.cholesky(a)
    except np.linalg.LinAlgError:
        pass
    for i in range(a.shape[0]):
        for order in range(1, a.shape[-1] + 1):
            try:
                np.linalg.cholesky(a[i, :order, :order])
            except np.linalg.LinAlgError:
                raise RuntimeError(
                    f"{caller}: {_batch_prefix(a, i)}The factorization could not be completed "
                    f"because the input is not positive-definite (the leading minor of order "
                    f"{order} is not positive-definite)."
                ) from None
    raise RuntimeError(f"{caller}: the input is not positive-definite")


@kernel
def linalg_slogdet(a, **_):
    sign, logabs = np.linalg.slogdet(a)
    return np.stack([sign, logabs], axis=-1)


@kernel
def linalg_det(a, **_):
    return np.linalg.det(a)


# The svd kind: A is (batch, m, n) with m >= n (the public functions transpose wide input).


@kernel
def linalg_svd(a, full=0, **_):
    u, s, vh = np.linalg.svd(a, full_matrices=bool(full))
    b = a.shape[0]
    return np.concatenate([u.reshape(b, -1), s, vh.reshape(b, -1)], axis=1)


@kernel
def linalg_pinv(a, atol=0.0, rtol=0.0, **_):
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    cut = np.maximum(atol, rtol * s[:, :1])
    keep = s > cut
    s_inv = np.where(keep, 1.0 / np.where(keep, s, 1.0), 0.0)
    return np.swapaxes(vh, -1, -2) @ (s_inv[..., None] * np.swapaxes(u, -1, -2))


def _products_but_one(s: np.ndarray) -> np.ndarray:
    """c[..., i] = prod over j != i of s[..., j] (no division: exact for zeros)."""
    n = s.shape[-1]
    return np.prod(np.where(np.eye(n, dtype=bool), 1.0, s[..., None, :]), axis=-1)


@kernel
def linalg_cofactor(a, **_):
    # adj(A)^T from the SVD: adj(U S V^T) = adj(V^T) adj(S) adj(U) = det(U) det(V) V adj(S) U^T.
    u, s, vh = np.linalg.svd(a)
    sgn = np.linalg.det(u) * np.linalg.det(vh)
    return np.sign(sgn)[:, None, None] * (u * _products_but_one(s)[:, None, :]) @ vh
