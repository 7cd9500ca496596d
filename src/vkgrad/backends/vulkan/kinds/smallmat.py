"""The ``smallmat`` kind: batches of small square matrices (solve, Cholesky, determinants).

Inputs: A of shape (batch, n, n) and, for two-input rows, B of shape (batch, n, k); a batch
of 1 broadcasts. One workgroup per matrix (grid-stride over the batch): the matrix is copied
to a float32 workspace in global memory (``n * (n + k)`` words per matrix), so there is no
size limit, and each elimination step is split across the workgroup's threads (64 for
n <= 32, else 256). The work per matrix is O(n^3) on one workgroup: meant for n up to a few
hundred.
"""

from __future__ import annotations

from ....dtypes import float32
from .. import DT_CODE
from . import F16, F32, check_loop_limit, float_attrs, push_layout, runner, variants

# Threads per workgroup: a 7x7 elimination step has at most 6 * 13 updates, so 256 threads
# would mostly wait at barriers (on lavapipe a batch of 2100 7x7 solves took 1.4 s with 256
# threads, 0.27 s with 64); large matrices keep the full 256.
SMALL_N, SMALL_WG, WG = 32, 64, 256
# sa, sb: batch strides of A and B in elements (0: a batch of 1, broadcast).
PUSH = push_layout("smallmat", "batch", "n", "k", "sa", "sb", "attrs[27]")


def _wg(n: int) -> int:
    return SMALL_WG if n <= SMALL_N else WG


def _loop_iterations(n: int, k: int, wg: int, per_group: int) -> int:
    """An upper estimate of one thread's loop iterations (elimination ~ n^3 / (3 wg))."""
    steps = n * n * (n + 3 * k) // (3 * wg) + n * n // wg + 2 * n * (n + k) // wg
    return per_group * (steps + 12 * n + 8)


def _check_cpu_limit(be, op, n: int, k: int, wg: int, batch: int, groups: int) -> None:
    its = _loop_iterations(n, k, wg, -(-batch // groups))
    check_loop_limit(
        be, op, its, lambda: f"{batch} matrices of size {n}x{n} (k={k})", "matrices this large"
    )


@runner("smallmat")
def run(be, op, inputs, attrs, out) -> None:
    a = inputs[0]
    b = inputs[1] if op.nin > 1 else None
    batch = out.shape[0]
    n = a.shape[-1]
    k = b.shape[-1] if b is not None else 0
    if out.size == 0:
        return
    groups = max(1, min(batch, be.max_groups))
    _check_cpu_limit(be, op, n, k, _wg(n), batch, groups)
    work = be.new((max(1, batch * n * (n + k)),), float32)
    sa = 0 if a.shape[0] == 1 else n * n
    sb = 0 if b is None or b.shape[0] == 1 else n * k
    defines = {
        "D0": DT_CODE[out.dtype.name],
        "D1": DT_CODE[a.dtype.name],
        "D2": DT_CODE[(b if b is not None else a).dtype.name],
        "WG": _wg(n),
    }
    bufs = [out.buf, a.buf, b.buf if b is not None else be.dummy, work.buf]
    reads = [a.buf] + ([b.buf] if b is not None else [])
    hold = [out.storage, work.storage, a.storage] + ([b.storage] if b is not None else [])
    push = PUSH.words(batch=batch, n=n, k=k, sa=sa, sb=sb, attrs=float_attrs(op, attrs))
    be.dispatch(op.name, defines, bufs, (groups, 1, 1), push, reads, [out.buf, work.buf], hold)


@variants("smallmat")
def variant_list(op) -> list:
    return [
        (op.name, {"D0": f, "D1": f, "D2": f, "WG": wg})
        for f in (F32, F16)
        for wg in (SMALL_WG, WG)
    ]
