"""The ``axis`` kind: kernels over the last axis of a 2-D input, one workgroup per row.

Input 0 is ``(M, K)``; the other inputs are whatever the row's shader reads (per-row
vectors, class indices, weights). The row's ``shape`` function fixes the output shape. The
row's scalar attributes are pushed as f32 after M and K. Shaders that walk their row more
than three times declare it (``// vkgrad: loops rows <passes>``).

Variants: the output dtype follows the row (``int32``, ``bool`` or the float dtype); inputs in
``no_grad_inputs`` are int32 (class indices); a ``bool`` row reads bool inputs.
"""

from __future__ import annotations

from ....shapes import numel
from .. import DT_CODE, VkArray
from . import BOOL, F16, F32, I32, check_row_loops, float_attrs, push_layout, runner, variants

N_BINDINGS = 6  # out + up to five inputs (shaders/axis.glsl)
PUSH = push_layout("axis", "M", "K", "attrs[30]")


@runner("axis")
def run(be, op, inputs, attrs, out) -> None:
    x = inputs[0]
    if len(inputs) > N_BINDINGS - 1:
        raise ValueError(f"{op.name}: at most {N_BINDINGS - 1} inputs, got {len(inputs)}")
    for a in inputs:
        if not isinstance(a, VkArray):
            raise TypeError(f"{op.name}: expected Vulkan arrays, got {type(a).__name__}")
    m = numel(x.shape[:-1]) if x.shape else 1
    k = x.shape[-1] if x.shape else 1
    if m == 0 or out.size == 0:
        return
    check_row_loops(be, op, op.name, k, m)
    defines = {"D0": DT_CODE[out.dtype.name]}
    bufs = [out.buf]
    for i, a in enumerate(inputs):
        defines[f"D{i + 1}"] = DT_CODE[a.dtype.name]
        bufs.append(a.buf)
    bufs += [be.dummy] * (N_BINDINGS - len(bufs))
    push = PUSH.words(M=m, K=k, attrs=float_attrs(op, attrs))
    groups = (max(1, min(m, be.max_groups)), 1, 1)
    reads = [a.buf for a in inputs]
    hold = [out.storage] + [a.storage for a in inputs]
    be.dispatch(op.name, defines, bufs, groups, push, reads, [out.buf], hold)


@variants("axis")
def axis_variants(op) -> list:
    res = []
    for f in (F32, F16):
        if op.out_dtype == "bool":
            d = {"D0": BOOL, **{f"D{i + 1}": BOOL for i in range(op.nin)}}
        else:
            d = {"D0": I32 if op.out_dtype == "int32" else f}
            for i in range(op.nin):
                d[f"D{i + 1}"] = I32 if i in op.no_grad_inputs else f
        if d not in [v for _, v in res]:
            res.append((op.name, dict(d)))
    return res
