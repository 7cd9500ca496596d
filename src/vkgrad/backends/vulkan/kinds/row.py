"""The ``row`` kind: softmax-like kernels over rows of the last axis, one workgroup per row;
all inputs have the output's shape ``(M, K)``."""

from __future__ import annotations

from . import PUSH, runner, variants
from ._rows import ROWS_PUSH, float_variants, rows_call

PUSH["row"] = ROWS_PUSH


@runner("row")
def run(be, op, inputs, attrs, out) -> None:
    x = inputs[0]
    m, k = (x.shape[0], x.shape[1]) if len(x.shape) == 2 else (1, x.size)
    rows_call(be, op, op.name, list(inputs), out, m, k)


@variants("row")
def row_variants(op) -> list:
    return float_variants(op)
