"""Kinds of the indexing family: ``gather``, ``scatter``, ``one_hot`` and ``index_linear``.

The index is read as int32 in the shaders. An index out of range (or equal to the row's
``skip``/``padding_idx``) is skipped on the device, never checked on the host: a gather reads 0
there, a scatter drops the element (see vkgrad/library/indexing.py). (embedding's padding_idx
matters only to its backward.)

Index strides: an index with the ndim of the loop shape is walked over it (gather, scatter); a
1-D index (index_select, index_add, embedding) moves only along ``dim``.
"""

from __future__ import annotations

import math

from .... import dtypes
from . import runner, variants

F32, F16, I32, BOOL = 0, 1, 2, 3
MAX_DIMS = 8


def _contig(shape) -> tuple:
    st, acc = [], 1
    for d in reversed(shape):
        st.append(acc)
        acc *= d
    return tuple(reversed(st))


def _words(shape, *strides) -> tuple:
    """Meta words: shape[8], then each stride list padded to 8."""
    pad = MAX_DIMS - len(shape)
    out = list(shape) + [1] * pad
    for st in strides:
        out += [int(s) & 0xFFFFFFFF for s in st] + [0] * pad
    return tuple(out)


def _index_strides(index_shape, loop_shape, dim: int) -> tuple:
    if len(index_shape) == len(loop_shape):
        return _contig(index_shape)
    return tuple(1 if d == dim else 0 for d in range(len(loop_shape)))


def _check_dims(op, shape) -> None:
    if len(shape) > MAX_DIMS:
        raise NotImplementedError(f"{op.name}: more than {MAX_DIMS} dims on Vulkan")


def _skip(attrs) -> int:
    return int(attrs.get("skip", -1)) & 0xFFFFFFFF


def _gather_call(be, x, idx, out, dim: int, skip: int) -> None:
    """The gather shader; idx None: a strided copy of x (dim = ndim)."""
    from .. import DT_CODE

    n = out.size
    if n == 0:
        return
    shape = out.shape
    xst = _contig(x.shape)
    ist = _index_strides(idx.shape, shape, dim) if idx is not None else (0,) * len(shape)
    meta = be._meta_buffer(_words(shape, xst, ist))
    idx_buf = idx.buf if idx is not None else be._dummy
    defines = {"D0": DT_CODE[out.dtype.name], "D1": DT_CODE[x.dtype.name], "D2": I32}
    items = (n + 1) // 2 if out.dtype is dtypes.float16 else n
    size = x.shape[dim] if idx is not None else 0
    push = be._push([n, len(shape), dim if idx is not None else len(shape), size, skip], [])
    reads = [x.buf] + ([idx.buf] if idx is not None else [])
    hold = [out.storage, x.storage] + ([idx.storage] if idx is not None else [])
    bufs = [out.buf, x.buf, idx_buf, meta]
    be._dispatch("gather", defines, bufs, (be._groups(items), 1, 1), push, reads, [out.buf], hold)


@runner("gather")
def run_gather(be, op, inputs, attrs, out) -> None:
    x, idx = inputs
    _check_dims(op, out.shape)
    if idx.dtype is not dtypes.int32:
        raise TypeError(f"{op.name}: index must be int32, got {idx.dtype.name}")
    _gather_call(be, x, idx, out, int(attrs.get("dim", 0)), _skip(attrs))


@variants("gather")
def gather_variants(op) -> list:
    return [(op.shader_names()[0], {"D0": d, "D1": d, "D2": I32}) for d in (F32, F16, I32, BOOL)]


@runner("scatter")
def run_scatter(be, op, inputs, attrs, out) -> None:
    from .. import DT_CODE, VkArray, _f32_bits

    base, idx, src = inputs
    _check_dims(op, out.shape)
    if idx.dtype is not dtypes.int32:
        raise TypeError(f"{op.name}: index must be int32, got {idx.dtype.name}")
    if base.buf is not out.buf:
        _gather_call(be, base, None, out, 0, 0)
    dim = int(attrs["dim"])
    scalar = not isinstance(src, VkArray)
    # The loop runs over the index, or over the source for a 1-D index along dim (index_add).
    loop = idx.shape if scalar or len(idx.shape) == len(src.shape) else src.shape
    n = math.prod(loop)
    if n == 0:
        return
    ost = _contig(out.shape)
    ist = _index_strides(idx.shape, loop, dim)
    sst = (0,) * len(loop) if scalar else _contig(src.shape)
    meta = be._meta_buffer(_words(loop, ost, ist, sst))
    src_code = DT_CODE[out.dtype.name] if scalar else DT_CODE[src.dtype.name]
    defines = {"D0": DT_CODE[out.dtype.name], "D1": I32, "D2": src_code}
    head = [n, len(loop), dim, out.shape[dim], _skip(attrs), int(scalar)]
    head.append(_f32_bits(float(src)) if scalar else 0)
    push = be._push(head, [float(attrs.get("alpha", 1.0))])
    src_buf = be._dummy if scalar else src.buf
    reads = [idx.buf] + ([] if scalar else [src.buf])
    hold = [out.storage, idx.storage] + ([] if scalar else [src.storage])
    bufs = [out.buf, idx.buf, src_buf, meta]
    groups = (be._groups(n), 1, 1)
    be._dispatch(op.shader_names()[0], defines, bufs, groups, push, reads, [out.buf], hold)


@variants("scatter")
def scatter_variants(op) -> list:
    codes = (F32, F16, I32) if "add" in op.shader_names()[0] else (F32, F16, I32, BOOL)
    out = [(op.shader_names()[0], {"D0": d, "D1": I32, "D2": d}) for d in codes]
    # The input is first copied into the output with the gather shader.
    return out + [("gather", {"D0": d, "D1": d, "D2": I32}) for d in codes]


@runner("one_hot")
def run_one_hot(be, op, inputs, attrs, out) -> None:
    (t,) = inputs
    if t.dtype is not dtypes.int32:
        raise TypeError(f"{op.name}: input must be int32, got {t.dtype.name}")
    n = out.size
    if n == 0:
        return
    push = be._push([n, int(attrs["num_classes"])], [])
    defines = {"D0": I32, "D1": I32}
    groups = (be._groups(n), 1, 1)
    hold = [out.storage, t.storage]
    be._dispatch(
        op.shader_names()[0], defines, [out.buf, t.buf], groups, push, [t.buf], [out.buf], hold
    )


@variants("one_hot")
def one_hot_variants(op) -> list:
    return [(op.shader_names()[0], {"D0": I32, "D1": I32})]


@runner("index_linear")
def run_index_linear(be, op, inputs, attrs, out) -> None:
    from .. import VkArray, _broadcast_strides

    acc, t = inputs
    shape = out.shape
    _check_dims(op, shape)
    n = out.size
    if n == 0:
        return
    scalar = not isinstance(acc, VkArray)
    if scalar and float(acc) != 0.0:
        raise ValueError(f"{op.name}: a scalar accumulator must be 0, got {acc}")
    for a in (t,) if scalar else (acc, t):
        if a.dtype is not dtypes.int32:
            raise TypeError(f"{op.name}: inputs must be int32, got {a.dtype.name}")
    ast = (0,) * len(shape) if scalar else _broadcast_strides(acc.shape, shape)
    meta = be._meta_buffer(_words(shape, ast, _broadcast_strides(t.shape, shape)))
    push = be._push([n, len(shape), int(scalar), int(attrs["size"]), int(attrs["stride"])], [])
    acc_buf = be._dummy if scalar else acc.buf
    reads = [t.buf] + ([] if scalar else [acc.buf])
    hold = [out.storage, t.storage] + ([] if scalar else [acc.storage])
    defines = {"D0": I32, "D1": I32, "D2": I32}
    bufs = [out.buf, acc_buf, t.buf, meta]
    groups = (be._groups(n), 1, 1)
    be._dispatch(op.shader_names()[0], defines, bufs, groups, push, reads, [out.buf], hold)


@variants("index_linear")
def index_linear_variants(op) -> list:
    return [(op.shader_names()[0], {"D0": I32, "D1": I32, "D2": I32})]
