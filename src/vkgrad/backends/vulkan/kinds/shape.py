"""Kinds of the shape family.

``cat``          any number of inputs, each written once into its slot along ``dim`` of the
                 output (one dispatch per input, over that input only; no zero fill).
``shape_index``  each output element computed from its index by the row's shader
                 (``shaders/shape_index.glsl``): masks (tril/triu), rolls, gathers, embedding,
                 one-hot encoding.
"""

from __future__ import annotations

from ....shapes import numel
from .. import DT_CODE, VkArray
from . import F16, F32, I32, MAX_DIMS, check_dims, padded, push_layout, runner, variants

# The output viewed as (outer, row): the input fills columns [start, start + m) of each row.
CAT_PUSH = push_layout("cat", "outer", "row", "start", "m")
SHAPE_INDEX_PUSH = push_layout("shape_index", "n", "ndim", "in0_ndim")


@runner("cat")
def run_cat(be, op, inputs, attrs, out) -> None:
    dim = attrs["dim"]
    outer = numel(out.shape[:dim])
    inner = numel(out.shape[dim + 1 :])
    row = out.shape[dim] * inner
    f16 = out.dtype.name == "float16"
    start = 0
    for x in inputs:
        m = x.shape[dim] * inner
        if x.size:
            items = outer * (m // 2 + 1) if f16 else x.size
            defines = {"D0": DT_CODE[out.dtype.name], "D1": DT_CODE[x.dtype.name]}
            push = CAT_PUSH.words(outer=outer, row=row, start=start, m=m)
            groups = (be.groups(items), 1, 1)
            hold = [out.storage, x.storage]
            be.dispatch(op.name, defines, [out.buf, x.buf], groups, push, [x.buf], [out.buf], hold)
        start += m


@variants("cat")
def cat_variants(op) -> list:
    return [(op.name, {"D0": c, "D1": c}) for c in (F32, F16, I32)]


def _shape_words(shape: tuple, what: str) -> list:
    check_dims(what, shape)
    return padded(shape, 1)


@runner("shape_index")
def run_shape_index(be, op, inputs, attrs, out) -> None:
    n = out.size
    if n == 0:
        return
    words = _shape_words(out.shape, op.name)
    defines = {"D0": DT_CODE[out.dtype.name]}
    bufs = [out.buf, be.dummy, be.dummy, be.dummy]
    reads, hold = [], [out.storage]
    for k in range(3):
        x = inputs[k] if k < len(inputs) else None
        if x is None:
            words += [1] * MAX_DIMS
            continue
        if not isinstance(x, VkArray):
            raise TypeError(f"{op.name}: expected arrays, got {type(x).__name__}")
        words += _shape_words(x.shape, op.name)
        defines[f"D{k + 1}"] = DT_CODE[x.dtype.name]
        bufs[1 + k] = x.buf
        reads.append(x.buf)
        hold.append(x.storage)
    for name in op.attrs:
        v = attrs[name]
        v = list(v) if isinstance(v, (tuple, list)) else [v]
        if len(v) > MAX_DIMS:
            raise NotImplementedError(f"{op.name}: attribute {name} longer than {MAX_DIMS}")
        words += padded(v, 0)
    bufs.append(be.meta_buffer(tuple(words)))
    items = (n + 1) // 2 if out.dtype.name == "float16" else n
    in0_ndim = len(inputs[0].shape) if inputs else 0
    push = SHAPE_INDEX_PUSH.words(n=n, ndim=len(out.shape), in0_ndim=in0_ndim)
    be.dispatch(op.name, defines, bufs, (be.groups(items), 1, 1), push, reads, [out.buf], hold)


@variants("shape_index")
def shape_index_variants(op) -> list:
    # Index inputs (no_grad_inputs) are int32; an int32 row (indices from indices) is int32
    # throughout, one variant.
    ints = op.out_dtype == "int32"
    out = []
    for f in (F32, F16):
        d = {"D0": I32 if ints else f}
        for k in range(op.nin):
            d[f"D{k + 1}"] = I32 if ints or k in op.no_grad_inputs else f
        if (op.name, d) not in out:
            out.append((op.name, d))
    return out
