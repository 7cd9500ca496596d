"""The ``svd`` kind: batches of small m x n matrices (m >= n) through a one-sided Jacobi SVD
(``shaders/svd.glsl``): the SVD itself, the pseudo-inverse and the cofactor matrix.

Input A of shape (batch, m, n); the row's ``shape`` fixes the output. One workgroup per matrix
(grid-stride over the batch), with a float32 workspace in global memory of ``workspace(m, n,
ku)`` words per matrix, where ku is the number of columns of U the kernel builds: m for a row
with ``full=1`` (full_matrices), else n. The work per matrix is O(sweeps * n^2 * m) on one
workgroup: meant for n up to a few dozen (see ``_loop_iterations`` for lavapipe's cap).
"""

from __future__ import annotations

import math

from ....dtypes import float32
from .. import DT_CODE
from . import F16, F32, check_loop_limit, float_attrs, push_layout, runner, variants
from .smallmat import _wg

SWEEPS = 15  # the sweep cap of svd.glsl
# ku: columns of U to build; ws: workspace words per matrix.
PUSH = push_layout("svd", "batch", "m", "n", "ku", "ws", "attrs[27]")


def workspace(m: int, n: int, ku: int) -> int:
    return m * n + n * n + 2 * n + m * ku + m


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def _loop_iterations(m: int, n: int, ku: int, wg: int, per_group: int) -> int:
    """An upper estimate of one thread's loop iterations over everything svd.glsl and the
    kernels run for one matrix (every sweep to the cap, every column of U completed), times
    the matrices one workgroup handles."""
    big_n = n + n % 2
    pairs = big_n // 2
    t = wg
    while t > 1 and t * pairs > wg:
        t //= 2
    passes = _cdiv(pairs, wg // t)
    red = int(math.log2(wg))
    jac = (
        _cdiv(n * n, wg)
        + _cdiv(m * n, wg)
        + red
        + SWEEPS
        * ((big_n - 1) * passes * (2 * _cdiv(m, t) + _cdiv(n, t) + int(math.log2(t)) + 2) + 1)
    )
    sort = _cdiv(n, wg) * (m + n)
    project = 2 * (_cdiv(ku, wg) * m + _cdiv(m, wg) * ku) + red
    complete = 3 * _cdiv(m, wg) + 2 * project + _cdiv(m, wg) * ku + red + 4
    build = ku * complete
    # Outputs: the SVD's copies, pinv's sums over n, or the cofactor's two eliminations.
    elim = n * n * n // (3 * wg) + n * n // wg + 2 * n * n // wg + 12 * n
    out = _cdiv(m * max(ku, n), wg) * n + 2 * elim + _cdiv(n * n, wg) * 2
    return per_group * (jac + sort + build + out + 16)


def _check_cpu_limit(be, op, m: int, n: int, ku: int, wg: int, batch: int, groups: int) -> None:
    its = _loop_iterations(m, n, ku, wg, _cdiv(batch, groups))
    check_loop_limit(
        be, op, its, lambda: f"{batch} matrices of size {m}x{n}", "matrices this large"
    )


@runner("svd")
def run(be, op, inputs, attrs, out) -> None:
    (a,) = inputs
    batch, m, n = a.shape
    if out.size == 0 or a.size == 0:
        return
    ku = m if attrs.get("full") else n
    wg = _wg(max(m, n))
    groups = max(1, min(batch, be.max_groups))
    _check_cpu_limit(be, op, m, n, ku, wg, batch, groups)
    ws = workspace(m, n, ku)
    work = be.new((batch * ws,), float32)
    defines = {"D0": DT_CODE[out.dtype.name], "D1": DT_CODE[a.dtype.name], "WG": wg}
    bufs = [out.buf, a.buf, be.dummy, work.buf]
    push = PUSH.words(batch=batch, m=m, n=n, ku=ku, ws=ws, attrs=float_attrs(op, attrs))
    hold = [out.storage, work.storage, a.storage]
    be.dispatch(op.name, defines, bufs, (groups, 1, 1), push, [a.buf], [out.buf, work.buf], hold)


@variants("svd")
def variant_list(op) -> list:
    return [(op.name, {"D0": f, "D1": f, "WG": wg}) for f in (F32, F16) for wg in (64, 256)]
