"""The ``reduce`` kind: ``(M, K) -> (M,)`` over the last axis, one workgroup per row.

Fewer rows than workgroups would fill (< SPLIT_ROWS), each long (> 2 CHUNK elements): chunks
of CHUNK elements are reduced in parallel into f32 partials, then those (again if need be). A
full reduction otherwise runs on one workgroup, and past lavapipe's loop limit.
"""

from __future__ import annotations

from .... import dtypes
from . import F16, F32, push_layout, runner, variants
from ._rows import float_variants, rows_call

# M rows (outputs) of K elements; L: 0, or the chunk length of a pass over chunks: each row
# is cut into ceil(K / L) chunks, output r = m C + j the reduction of chunk j of row m.
PUSH = push_layout("reduce", "M", "K", "L")
CHUNK, SPLIT_ROWS = 16 * 256, 1024  # 16 elements per thread of a 256-thread workgroup


@runner("reduce")
def run(be, op, inputs, attrs, out) -> None:
    reduce_rows(be, op, op.name, inputs[0], out)


def reduce_rows(be, op, shader: str, x, out) -> None:
    """``out`` = the reduction of each row of ``x`` (its last axis) by ``shader``; also how
    other kinds add up partials."""
    k, m = (x.shape[-1] if x.shape else 1), out.size
    while m < SPLIT_ROWS and k > 2 * CHUNK:
        c = -(-k // CHUNK)
        part = be.new((m, c), dtypes.float32)
        rows_call(be, op, shader, [x], part, m * c, k, PUSH, L=CHUNK)
        x, k = part, c
    rows_call(be, op, shader, [x], out, m, k, PUSH, L=0)


@variants("reduce")
def reduce_variants(op) -> list:
    # Long f16 rows are reduced in chunks to f32 partials, then from those.
    return float_variants(op) + [
        (op.name, {"D0": F32, "D1": F16}),
        (op.name, {"D0": F16, "D1": F32}),
    ]
