"""The ``loss_row`` kind: a per-row loss from ``(N, C)`` logits and a target (class indices,
int32, when the target is in the row's ``no_grad_inputs``; else probabilities), or its
backward with the ``(N,)`` gradient as input 2; one workgroup per row."""

from __future__ import annotations

from .... import dtypes
from .. import VkArray
from . import I32, PUSH, runner, variants
from ._rows import ROWS_PUSH, float_variants, rows_call

PUSH["loss_row"] = ROWS_PUSH


@runner("loss_row")
def run(be, op, inputs, attrs, out) -> None:
    n, c = inputs[0].shape
    for x in inputs[1:]:
        if not isinstance(x, VkArray):
            raise TypeError(f"{op.name}: targets and grads must be arrays, got {x!r}")
    if 1 in op.no_grad_inputs and inputs[1].dtype is not dtypes.int32:
        raise TypeError(f"{op.name}: class indices must be int32, got {inputs[1].dtype.name}")
    rows_call(be, op, op.name, list(inputs), out, n, c)


@variants("loss_row")
def loss_row_variants(op) -> list:
    return float_variants(op, lambda f: I32 if 1 in op.no_grad_inputs else f)
