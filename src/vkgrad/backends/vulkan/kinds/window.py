"""The ``window`` kind: kernels over the sliding windows of (N, C, H, W) images (im2col,
col2im, pooling and their backward rows; see ``vkgrad/library/conv.py`` for the geometry).

One thread per output element (f16: per output word). The geometry travels in the push
constants; inputs listed in the row's ``no_grad_inputs`` are int32 (max-pool indices).
"""

from __future__ import annotations

import numpy as np

from ....dtypes import float32
from ....ops import OPS
from .. import DT_CODE, PUSH_WORDS, WG, VkArray, _f32_bits
from . import check_loop_limit, runner, variants

F32, F16, I32 = 0, 1, 2
# Rows with Op.splits: loops longer than SLICE_LOOPS iterations are cut into slices.
SLICE_LOOPS, MAX_SLICES = 4096, 4096


def _geometry_words(out, batch: int, attrs: dict) -> list:
    c, h, w = attrs["image"]
    ho, wo = attrs["grid"]
    kh, kw = attrs.get("kernel", (1, 1))
    sh, sw = attrs.get("stride", (1, 1))
    pt, pl = attrs.get("padding", (0, 0))
    dh, dw = attrs.get("dilation", (1, 1))
    flag = int(attrs.get("count_include_pad", 0))
    divisor = _f32_bits(float(attrs.get("divisor", 0.0)))
    cout, groups = int(attrs.get("out_channels", 0)), int(attrs.get("groups", 1))
    return [out.size, batch, c, h, w, ho, wo, kh, kw, sh, sw, pt, pl, dh, dw, flag, divisor] + [
        cout,
        groups,
    ]


@runner("window")
def run(be, op, inputs, attrs, out) -> None:
    if out.size == 0:
        return
    defines = {"D0": DT_CODE[out.dtype.name]}
    bufs = [out.buf, be._dummy, be._dummy]
    for k, x in enumerate(inputs):
        if not isinstance(x, VkArray):
            raise TypeError(f"{op.name}: expected Vulkan arrays, got {x!r}")
        defines[f"D{k + 1}"] = DT_CODE[x.dtype.name]
        bufs[1 + k] = x.buf
    push = np.zeros(PUSH_WORDS, dtype=np.uint32)
    words = _geometry_words(out, inputs[0].shape[0], attrs)  # input 0 is always batched
    push[: len(words)] = words
    per_item = op.loops([x.shape for x in inputs], attrs, WG) if op.loops else 0
    final = out
    if op.splits and per_item > SLICE_LOOPS:
        # Slices of the loop, one thread each, into f32 partials that a sum row adds up.
        slices = min(-(-per_item // SLICE_LOOPS), MAX_SLICES)
        out = be._new((final.size, slices), float32)
        push[0], push[19] = out.size, slices
        defines["D0"] = DT_CODE["float32"]
        bufs[0] = out.buf
        per_item = -(-per_item // slices)
    items = (out.size + 1) // 2 if out.dtype.name == "float16" else out.size
    groups = be._groups(items)
    per_thread = -(-items // (groups * WG)) * (2 if out.dtype.name == "float16" else 1)
    check_loop_limit(
        be,
        op,
        per_thread * per_item,
        lambda: "inputs of shapes " + " and ".join(str(x.shape) for x in inputs),
        "inputs this large",
    )
    hold = [out.storage] + [x.storage for x in inputs]
    reads = [x.buf for x in inputs]
    be._dispatch(op.name, defines, bufs, (groups, 1, 1), push, reads, [out.buf], hold)
    if out is not final:
        be.run(OPS["sum"], [out], {}, final.shape, final.dtype, out=final)


@variants("window")
def window_variants(op) -> list:
    res = []
    for f in (F32, F16):
        d = {"D0": I32 if op.out_dtype == "int32" else f}
        for k in range(op.nin):
            d[f"D{k + 1}"] = I32 if k in op.no_grad_inputs else f
        res += [(name, dict(d)) for name in op.shader_names()]
        if op.splits:  # the slices' partials are f32
            res += [(name, {**d, "D0": F32}) for name in op.shader_names() if f != F32]
    return res
