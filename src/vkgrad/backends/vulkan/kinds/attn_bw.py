"""The ``attn_bw`` kind: a fused attention backward in STAGES, one shader per stage,
``<op>_<stage>.comp`` (``shaders/attn_bw.glsl``).

Inputs go (B, L, Ev), p (B, L, S), v (B, S, Ev), q (B, L, E), k (B, S, E) and the dropout's
key (a generator state, or a scalar without dropout); the output holds
the grads of q, k, v one after the other (those whose bit is set in the attr ``grads``: 1 q,
2 k, 4 v). The stages run in turn, one workgroup per output row each: D (B, L) into an f32
workspace, then grad q (per query), grad k and grad v (per key).
"""

from __future__ import annotations

from ....dtypes import float32
from .. import DT_CODE, WG, VkArray
from . import F16, F32, check_loop_limit, push_layout, runner, shaders, typed_attrs, variants

STAGES = ("delta", "q", "k", "v")
# cols: the stage's output columns (0: the D stage); offset: its element offset into out;
# rows: its output rows.
PUSH = push_layout(
    "attn_bw", "batch", "queries", "keys", "ev", "e", "cols", "offset", "rows", "attrs[24]"
)


def loop_iterations(rows: int, groups: int, t: int, ev: int, c: int) -> int:
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


def _check_limit(be, op, kernels, lq, s, ev) -> None:
    for _, rows, cols, _, t in kernels:
        its = loop_iterations(rows, min(rows, be.max_groups), t, ev, cols)

        def work(rows=rows, cols=cols):
            return (
                f"attention of L={lq} queries, S={s} keys, Ev={ev} in a kernel of {rows} rows "
                f"of {max(cols, 1)} columns"
            )

        check_loop_limit(be, op, its, work, "attention this large")


def _defines(f: int) -> dict:
    # Bindings 0 out and 1-5 the inputs in the op's dtype, 6 the f32 D workspace, 7 the
    # dropout's key (read as raw words).
    return {**{f"D{i}": f for i in range(6)}, "D6": F32}


@shaders("attn_bw")
def stage_shaders(op) -> tuple:
    return tuple(f"{op.name}_{stage}" for stage in STAGES)


@runner("attn_bw")
def run(be, op, inputs, attrs, out) -> None:
    go, p, v, q, k, key = inputs
    # The dropout's key (a generator state), or a scalar without dropout: bind a dummy.
    key_buf = key.buf if isinstance(key, VkArray) else be.dummy
    inputs = [go, p, v, q, k]
    b, lq, s = p.shape
    e, ev = q.shape[2], go.shape[2]
    grads = int(attrs["grads"])
    delta_k, q_k, k_k, v_k = stage_shaders(op)
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
    _check_limit(be, op, kernels, lq, s, ev)
    delta = be.new((max(1, b * lq),), float32)
    defines = _defines(DT_CODE[out.dtype.name])
    bufs = [out.buf] + [a.buf for a in inputs] + [delta.buf, key_buf]
    hold = [out.storage, delta.storage] + [a.storage for a in inputs]
    if isinstance(key, VkArray):
        hold.append(key.storage)
    words = typed_attrs(op, attrs)
    for shader, rows, cols, offset, _ in kernels:
        if rows == 0:
            continue
        push = PUSH.words(
            batch=b, queries=lq, keys=s, ev=ev, e=e, cols=cols, offset=offset, rows=rows,
            attrs=words,
        )  # fmt: skip
        writes = [delta.buf] if shader == delta_k else [out.buf]
        reads = [a.buf for a in inputs] + [key_buf] + ([] if shader == delta_k else [delta.buf])
        groups = (max(1, min(rows, be.max_groups)), 1, 1)
        be.dispatch(shader, defines, bufs, groups, push, reads, writes, hold)


@variants("attn_bw")
def attn_bw_variants(op) -> list:
    return [(name, _defines(f)) for f in (F32, F16) for name in stage_shaders(op)]
