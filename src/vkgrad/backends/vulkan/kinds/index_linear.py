"""The ``index_linear`` kind: int32 linear indices ``acc + wrap(t) * stride`` over the
broadcast shape of acc (an int32 array, or the scalar 0) and t, wrap(t) = t + size for t < 0;
-1 (which the gather kind skips) where t is outside [-size, size) or acc < 0. It turns a
tuple of index tensors into one index for the gather and scatter kinds."""

from __future__ import annotations

from .... import dtypes
from ....shapes import broadcast_strides
from .. import VkArray
from . import I32, check_dims, push_layout, runner, variants
from .gather import meta_words

# scalar: acc is the scalar 0 (no buffer).
PUSH = push_layout("index_linear", "n", "ndim", "scalar", "size", "stride")


@runner("index_linear")
def run(be, op, inputs, attrs, out) -> None:
    acc, t = inputs
    shape = out.shape
    check_dims(op.name, shape)
    n = out.size
    if n == 0:
        return
    scalar = not isinstance(acc, VkArray)
    if scalar and float(acc) != 0.0:
        raise ValueError(f"{op.name}: a scalar accumulator must be 0, got {acc}")
    for a in (t,) if scalar else (acc, t):
        if a.dtype is not dtypes.int32:
            raise TypeError(f"{op.name}: inputs must be int32, got {a.dtype.name}")
    ast = (0,) * len(shape) if scalar else broadcast_strides(acc.shape, shape)
    meta = be.meta_buffer(meta_words(shape, ast, broadcast_strides(t.shape, shape)))
    push = PUSH.words(
        n=n, ndim=len(shape), scalar=int(scalar), size=int(attrs["size"]),
        stride=int(attrs["stride"]),
    )  # fmt: skip
    acc_buf = be.dummy if scalar else acc.buf
    reads = [t.buf] + ([] if scalar else [acc.buf])
    hold = [out.storage, t.storage] + ([] if scalar else [acc.storage])
    defines = {"D0": I32, "D1": I32, "D2": I32}
    bufs = [out.buf, acc_buf, t.buf, meta]
    be.dispatch(op.name, defines, bufs, (be.groups(n), 1, 1), push, reads, [out.buf], hold)


@variants("index_linear")
def index_linear_variants(op) -> list:
    return [(op.name, {"D0": I32, "D1": I32, "D2": I32})]
