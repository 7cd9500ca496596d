"""The ``gather`` kind: out[i] = x at i with the ``dim`` coordinate replaced by index[i]; every
row of the kind runs ``shaders/gather.comp``.

The index is read as int32. An index out of [0, size) or equal to the row's ``skip`` attr
reads 0 (never checked on the host; see vkgrad/library/indexing.py). Index strides: an index
with the loop shape's ndim is walked over it (gather); a 1-D index (index_select, embedding)
moves only along ``dim``. Without an index it is a strided copy of x (the scatter kinds'
first step).
"""

from __future__ import annotations

from .... import dtypes
from ....shapes import contiguous_strides
from .. import DT_CODE
from . import BOOL, F16, F32, I32, check_dims, padded, push_layout, runner, shaders, variants

KIND = SHADER = "gather"
# size: x's length along dim; skip: an index value that reads 0 (-1: none).
PUSH = push_layout(KIND, "n", "ndim", "dim", "size", "skip")
CODES = (F32, F16, I32, BOOL)


def meta_words(shape, *strides) -> tuple:
    """Meta words: shape[8], then each stride list padded to 8."""
    out = padded(shape, 1)
    for st in strides:
        out += padded(st, 0)
    return tuple(out)


def index_strides(index_shape, loop_shape, dim: int) -> tuple:
    if len(index_shape) == len(loop_shape):
        return contiguous_strides(index_shape)
    return tuple(1 if d == dim else 0 for d in range(len(loop_shape)))


def check_index(op, idx) -> None:
    if idx.dtype is not dtypes.int32:
        raise TypeError(f"{op.name}: index must be int32, got {idx.dtype.name}")


def skip_word(attrs) -> int:
    return int(attrs.get("skip", -1)) & 0xFFFFFFFF


def gather_call(be, x, idx, out, dim: int, skip: int) -> None:
    """The gather shader; idx None: a strided copy of x (dim = ndim)."""
    n = out.size
    if n == 0:
        return
    shape = out.shape
    xst = contiguous_strides(x.shape)
    ist = index_strides(idx.shape, shape, dim) if idx is not None else (0,) * len(shape)
    meta = be.meta_buffer(meta_words(shape, xst, ist))
    idx_buf = idx.buf if idx is not None else be.dummy
    defines = {"D0": DT_CODE[out.dtype.name], "D1": DT_CODE[x.dtype.name], "D2": I32}
    items = (n + 1) // 2 if out.dtype is dtypes.float16 else n
    push = PUSH.words(
        n=n,
        ndim=len(shape),
        dim=dim if idx is not None else len(shape),
        size=x.shape[dim] if idx is not None else 0,
        skip=skip,
    )
    reads = [x.buf] + ([idx.buf] if idx is not None else [])
    hold = [out.storage, x.storage] + ([idx.storage] if idx is not None else [])
    bufs = [out.buf, x.buf, idx_buf, meta]
    be.dispatch(SHADER, defines, bufs, (be.groups(items), 1, 1), push, reads, [out.buf], hold)


@runner(KIND)
def run(be, op, inputs, attrs, out) -> None:
    x, idx = inputs
    check_dims(op.name, out.shape)
    check_index(op, idx)
    gather_call(be, x, idx, out, int(attrs.get("dim", 0)), skip_word(attrs))


@shaders(KIND)
def gather_shaders(op) -> tuple:
    return (SHADER,)


def gather_variants_of(codes) -> list:
    return [(SHADER, {"D0": d, "D1": d, "D2": I32}) for d in codes]


@variants(KIND)
def gather_variants(op) -> list:
    return gather_variants_of(CODES)
