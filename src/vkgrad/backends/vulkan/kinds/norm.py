"""Kinds of the norm family: ``norm_row`` (one workgroup per row of the (M, K) input 0),
``norm_col`` (one workgroup per column) and ``norm_elem`` (one thread per element, f16 by
word pairs).

Inputs may be Python scalars (an absent weight or bias): the kernel then reads the scalar
from the push constants. Push layout (``shaders/norm.glsl``): u0 M, u1 K, u2 scalar-input
bits, u3-u6 scalar values (f32 bits), u8.. the row's attrs in order, ints as uint32 and
floats as f32 bits. The output may be input 0's own buffer (in place).
"""

from __future__ import annotations

import numpy as np

from .. import DT_CODE, PUSH_WORDS, VkArray, _f32_bits
from . import runner, variants

F32, F16, BOOL = DT_CODE["float32"], DT_CODE["float16"], DT_CODE["bool"]


def _attr_word(name: str, v) -> int:
    if isinstance(v, (bool, int, np.integer)):
        return int(v) & 0xFFFFFFFF
    if isinstance(v, (float, np.floating)):
        return _f32_bits(float(v))
    raise TypeError(f"attribute {name}={v!r}: expected an int or a float")


def _run(grid: str):
    def run(be, op, inputs, attrs, out) -> None:
        x = inputs[0]
        k = x.shape[-1] if x.shape else 1
        m = x.size // k if k else 0
        if out.size == 0 or x.size == 0:
            return
        defines = {"D0": DT_CODE[out.dtype.name]}
        bufs, reads, hold = [out.buf], [], [out.storage]
        scalar_bits, scalar_vals = 0, [0, 0, 0, 0]
        for i, a in enumerate(inputs):
            if isinstance(a, VkArray):
                defines[f"D{i + 1}"] = DT_CODE[a.dtype.name]
                bufs.append(a.buf)
                reads.append(a.buf)
                hold.append(a.storage)
            else:
                defines[f"D{i + 1}"] = defines["D0"]  # never loaded: one variant either way
                bufs.append(be._dummy)
                scalar_bits |= 1 << i
                scalar_vals[i] = _f32_bits(float(a))
        push = np.zeros(PUSH_WORDS, dtype=np.uint32)
        push[:7] = [m, k, scalar_bits, *scalar_vals]
        words = [_attr_word(a, attrs[a]) for a in op.attrs]
        push[8 : 8 + len(words)] = words
        if grid == "row":
            groups = max(1, min(m, be.max_groups))
        elif grid == "col":
            groups = max(1, min(k, be.max_groups))
        else:
            n = m * k
            groups = be._groups((n + 1) // 2 if defines["D0"] == F16 else n)
        be._dispatch(op.name, defines, bufs, (groups, 1, 1), push, reads, [out.buf], hold)

    return run


for _grid in ("row", "col", "elem"):
    runner(f"norm_{_grid}")(_run(_grid))


def _variants(op) -> list:
    """f32 and f16: every binding in the op's dtype, but for the row's fixed-dtype inputs
    (``VULKAN_DTYPES`` in vkgrad/library/norm.py: statistics in f32, bool masks)."""
    from ....library.norm import VULKAN_DTYPES

    fixed = VULKAN_DTYPES.get(op.name, {})
    out = []
    for f in (F32, F16):
        base = {f"D{i}": f for i in range(op.nin + 1)}
        for binding, codes in fixed.items():
            for code in codes:
                out.append((op.name, {**base, binding: DT_CODE[code] if code else f}))
        if not fixed:
            out.append((op.name, base))
    return out


for _grid in ("row", "col", "elem"):
    variants(f"norm_{_grid}")(_variants)
