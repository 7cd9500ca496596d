"""The ``matmul`` kind: batched ``(B, M, K) @ (B, K, N)`` with optional transposes (attrs
``ta``, ``tb``) and batch broadcasting (a batch of 1 is reused): 64x64 output tiles, one
workgroup each. With K = 0 the output is zero-filled by the map shader the matmul shader
declares (``// vkgrad: zero <shader>``)."""

from __future__ import annotations

from .. import DT_CODE
from ..sources import directive
from . import F16, F32, f32_bits, push_layout, runner, variants
from .map import map_call

TILE = 64
# sa, sb: batch strides of A and B in elements (0: a batch of 1, broadcast).
PUSH = push_layout("matmul", "batch", "M", "N", "K", "sa", "sb", "ta", "tb")


@runner("matmul")
def run(be, op, inputs, attrs, out) -> None:
    a, b = inputs
    ta, tb = int(bool(attrs.get("ta", 0))), int(bool(attrs.get("tb", 0)))
    batch, m, n = out.shape
    k = a.shape[1] if ta else a.shape[2]
    if out.size == 0:
        return
    if k == 0:
        (zero,) = directive(op.name, "zero")
        map_call(be, zero, [], out, out.shape, [f32_bits(0.0)], None)
        return
    sa = 0 if a.shape[0] == 1 else m * k
    sb = 0 if b.shape[0] == 1 else k * n
    groups = (
        min(-(-n // TILE), be.max_groups),
        min(-(-m // TILE), be.max_groups),
        min(batch, be.max_groups),
    )
    defines = {f"D{i}": DT_CODE[x.dtype.name] for i, x in enumerate((out, a, b))}
    push = PUSH.words(batch=batch, M=m, N=n, K=k, sa=sa, sb=sb, ta=ta, tb=tb)
    hold = [out.storage, a.storage, b.storage]
    bufs = [out.buf, a.buf, b.buf]
    be.dispatch(op.name, defines, bufs, groups, push, [a.buf, b.buf], [out.buf], hold)


@variants("matmul")
def matmul_variants(op) -> list:
    return [(op.name, {"D0": f, "D1": f, "D2": f}) for f in (F32, F16)]
