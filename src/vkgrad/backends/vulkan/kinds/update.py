"""The ``update`` kind: an optimizer step, in place on all its tensor inputs (p first, then
its gradient, then f32 state); no output. The last input holds the row's attrs as f32
(written by functional.update): the shader reads them from that buffer, bound after the
tensors (define HYPER), so that a captured step replays with new values (lr, bias
corrections)."""

from __future__ import annotations

from .... import dtypes
from .. import DT_CODE, VkArray
from . import F16, F32, push_layout, runner, variants

PUSH = push_layout("update", "n")


@runner("update")
def run(be, op, inputs, attrs, out) -> None:
    *tensors, hyper = inputs
    p = tensors[0]
    for x in inputs:
        if not isinstance(x, VkArray):
            raise TypeError(f"{op.name}: every input must be an array, got {x!r}")
    for x in tensors:
        if x.size != p.size:
            raise ValueError(f"{op.name}: sizes differ ({x.shape} vs {p.shape})")
    for x in inputs[2:]:
        if x.dtype is not dtypes.float32:
            raise TypeError(f"{op.name}: optimizer state must be float32, got {x.dtype.name}")
    if p.size == 0:
        return
    defines = {
        "D0": DT_CODE[p.dtype.name],
        "D1": DT_CODE[tensors[1].dtype.name],
        "HYPER": len(tensors),
    }
    items = (p.size + 1) // 2 if p.dtype is dtypes.float16 else p.size
    bufs = [x.buf for x in inputs]
    hold = [x.storage for x in inputs]
    push = PUSH.words(n=p.size)
    be.dispatch(op.name, defines, bufs, (be.groups(items), 1, 1), push, bufs, bufs[:-1], hold)


@variants("update")
def update_variants(op) -> list:
    # p, g; optimizer state is always f32; the attrs buffer comes after the tensors.
    return [(op.name, {"D0": f, "D1": f, "HYPER": op.nin}) for f in (F32, F16)]
