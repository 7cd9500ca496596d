"""Kinds of the norm family: ``norm_row`` (one workgroup per row of the (M, K) input 0),
``norm_col`` (one workgroup per column), ``norm_elem`` (one thread per element, f16 by
word pairs) and ``attn_bw`` (the fused attention backward, at the end).

Inputs may be Python scalars (an absent weight or bias): the kernel then reads the scalar
from the push constants. Push layout (``shaders/norm.glsl``): u0 M, u1 K, u2 scalar-input
bits, u3-u6 scalar values (f32 bits), u8.. the row's attrs in order, ints as uint32 and
floats as f32 bits. The output may be input 0's own buffer (in place).
"""

from __future__ import annotations

import numpy as np

from ....dtypes import float32
from .. import DT_CODE, PUSH_WORDS, WG, VkArray, _f32_bits
from . import check_loop_limit, runner, variants

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


# ---------------------------------------------------------------- attn_bw
# The fused attention backward (row ``attention_backward``, shaders/attn_bw.glsl). Inputs go
# (B, L, Ev), p (B, L, S), v (B, S, Ev), q (B, L, E), k (B, S, E); the output holds the grads
# of q, k, v one after the other. Four kernels in turn, one workgroup per output row each:
# D (B, L) into an f32 workspace, then grad q (per query), grad k and grad v (per key).


def _attn_loop_iterations(rows: int, groups: int, t: int, ev: int, c: int) -> int:
    """An upper estimate of one thread's loop iterations in a kernel of ``rows`` output rows
    of ``c`` columns reducing over ``t`` indices (``contract`` in attn_bw.glsl), or in the D
    kernel (c = 0: a row sum over t, then a shared-memory tree sum). Each loop counts its
    iterations plus one to exit. Measured on lavapipe, a row costs up to 5 more than this
    count; the estimate adds 8 and then 1/8, so that it stays above what lavapipe counts."""
    chunks = -(-t // WG)  # each thread's indices; each costs a dot product over Ev
    if c == 0:
        per_row = chunks * (ev + 2) + 2 * (WG.bit_length() + 1)
    else:
        ec = min(c, WG)
        parts = WG // ec
        # per block of ec columns and chunk: the dot product and the chunk's share of the
        # accumulation (WG / parts indices); then the sum of the parts
        per_block = chunks * (ev + 1 + -(-WG // parts) + 2) + parts + 2
        per_row = -(-c // ec) * per_block
    return -(-rows // groups) * -(-(per_row + 2 + 8) * 9 // 8)


def _check_attn_limit(be, op, kernels, lq, s, ev) -> None:
    for _, rows, cols, _, t in kernels:
        its = _attn_loop_iterations(rows, min(rows, be.max_groups), t, ev, cols)

        def work(rows=rows, cols=cols):
            return (
                f"attention of L={lq} queries, S={s} keys, Ev={ev} in a kernel of {rows} rows "
                f"of {max(cols, 1)} columns"
            )

        check_loop_limit(be, op, its, work, "attention this large")


def _attn_defines(f: int) -> dict:
    # Bindings 0 out and 1-5 the inputs in the op's dtype, 6 the f32 D workspace.
    return {**{f"D{i}": f for i in range(6)}, "D6": F32}


@runner("attn_bw")
def run_attn_bw(be, op, inputs, attrs, out) -> None:
    go, p, v, q, k = inputs
    b, lq, s = p.shape
    e, ev = q.shape[2], go.shape[2]
    grads = int(attrs["grads"])
    delta_k, q_k, k_k, v_k = op.shader_names()
    # (shader, output rows, columns (0: D), element offset into out, reduced length), in
    # dispatch order
    kernels = []
    if grads & 3:
        kernels.append((delta_k, b * lq, 0, 0, s))
    if grads & 1:
        kernels.append((q_k, b * lq, e, 0, s))
    if grads & 2:
        kernels.append((k_k, b * s, e, b * lq * e, lq))
    if grads & 4:
        kernels.append((v_k, b * s, ev, b * (lq + s) * e, lq))
    if out.size == 0 or not kernels:
        return
    _check_attn_limit(be, op, kernels, lq, s, ev)
    delta = be._new((max(1, b * lq),), float32)
    defines = _attn_defines(DT_CODE[out.dtype.name])
    bufs = [out.buf] + [a.buf for a in inputs] + [delta.buf]
    hold = [out.storage, delta.storage] + [a.storage for a in inputs]
    words = [_attr_word(a, attrs[a]) for a in op.attrs]
    for shader, rows, cols, offset, _ in kernels:
        if rows == 0:
            continue
        push = np.zeros(PUSH_WORDS, dtype=np.uint32)
        push[:8] = [b, lq, s, ev, e, cols, offset, rows]
        push[8 : 8 + len(words)] = words
        writes = [delta.buf] if shader == delta_k else [out.buf]
        reads = [a.buf for a in inputs] + ([] if shader == delta_k else [delta.buf])
        groups = (max(1, min(rows, be.max_groups)), 1, 1)
        be._dispatch(shader, defines, bufs, groups, push, reads, writes, hold)


@variants("attn_bw")
def attn_bw_variants(op) -> list:
    return [(name, _attn_defines(f)) for f in (F32, F16) for name in op.shader_names()]
