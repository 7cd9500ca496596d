"""What the kinds that run one workgroup per row (``reduce``, ``row``, ``loss_row``) share:
their push layout and their dispatch."""

from __future__ import annotations

from .. import DT_CODE
from . import F16, F32, Push, check_row_loops

# M rows of K elements (shaders/rowop.glsl).
ROWS_PUSH = Push("M", "K")


def rows_call(be, op, shader, inputs, out, m: int, k: int, push=ROWS_PUSH, **more) -> None:
    """One dispatch of ``shader`` over ``m`` rows of ``k`` elements of ``inputs``; ``more``:
    the other words of ``push``."""
    check_row_loops(be, op, shader, more.get("L") or k, m)
    defines = {"D0": DT_CODE[out.dtype.name]}
    bufs = [out.buf]
    for i, x in enumerate(inputs):
        defines[f"D{i + 1}"] = DT_CODE[x.dtype.name]
        bufs.append(x.buf)
    if m == 0:
        return
    groups = (max(1, min(m, be.max_groups)), 1, 1)
    words = push.words(M=m, K=k, **more)
    hold = [out.storage] + [x.storage for x in inputs]
    be.dispatch(shader, defines, bufs, groups, words, [x.buf for x in inputs], [out.buf], hold)


def float_variants(op, second=None) -> list:
    """Every binding in f32, then in f16; ``second(f)`` overrides the dtype of binding 2."""
    res = []
    for f in (F32, F16):
        d = {f"D{i}": f for i in range(op.nin + 1)}
        if second is not None:
            d["D2"] = second(f)
        res.append((op.name, d))
    return res
