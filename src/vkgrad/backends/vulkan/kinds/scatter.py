"""The ``scatter`` and ``scatter_add`` kinds: out = input, then for each element i of the loop
shape (the index's, or the source's for a 1-D index along ``dim``), out at i with the dim
coordinate replaced by index[i] is set to (scatter) or increased by (scatter_add)
src[i] * alpha. Each kind runs the shader named after it (``shaders/scatter.glsl``); the copy
of the input runs the gather kind's shader. An index out of [0, size) or equal to the row's
``skip`` drops the element.
"""

from __future__ import annotations

from ....shapes import contiguous_strides, numel
from .. import DT_CODE, VkArray
from . import BOOL, F16, F32, I32, check_dims, f32_bits, push_layout, runner, shaders, variants
from .gather import (
    check_index,
    gather_call,
    gather_variants_of,
    index_strides,
    meta_words,
    skip_word,
)

# scalar: src is a Python scalar whose f32 bits are in value; alpha: f32 bits.
FIELDS = ("n", "ndim", "dim", "size", "skip", "scalar", "value", "alpha")
# A bool cannot be added to: scatter_add has no bool variant.
KINDS = {"scatter": (F32, F16, I32, BOOL), "scatter_add": (F32, F16, I32)}


def _run(kind: str):
    push = push_layout(kind, *FIELDS)

    def run(be, op, inputs, attrs, out) -> None:
        base, idx, src = inputs
        check_dims(op.name, out.shape)
        check_index(op, idx)
        if base.buf is not out.buf:
            gather_call(be, base, None, out, 0, 0)
        dim = int(attrs["dim"])
        scalar = not isinstance(src, VkArray)
        # The loop runs over the index, or over the source for a 1-D index along dim.
        loop = idx.shape if scalar or len(idx.shape) == len(src.shape) else src.shape
        n = numel(loop)
        if n == 0:
            return
        ost = contiguous_strides(out.shape)
        ist = index_strides(idx.shape, loop, dim)
        sst = (0,) * len(loop) if scalar else contiguous_strides(src.shape)
        meta = be.meta_buffer(meta_words(loop, ost, ist, sst))
        src_code = DT_CODE[out.dtype.name] if scalar else DT_CODE[src.dtype.name]
        defines = {"D0": DT_CODE[out.dtype.name], "D1": I32, "D2": src_code}
        words = push.words(
            n=n,
            ndim=len(loop),
            dim=dim,
            size=out.shape[dim],
            skip=skip_word(attrs),
            scalar=int(scalar),
            value=f32_bits(float(src)) if scalar else 0,
            alpha=f32_bits(float(attrs.get("alpha", 1.0))),
        )
        src_buf = be.dummy if scalar else src.buf
        reads = [idx.buf] + ([] if scalar else [src.buf])
        hold = [out.storage, idx.storage] + ([] if scalar else [src.storage])
        bufs = [out.buf, idx.buf, src_buf, meta]
        be.dispatch(kind, defines, bufs, (be.groups(n), 1, 1), words, reads, [out.buf], hold)

    return run


def _variants(kind: str):
    def variant_list(op) -> list:
        codes = KINDS[kind]
        return [(kind, {"D0": d, "D1": I32, "D2": d}) for d in codes] + gather_variants_of(codes)

    return variant_list


for _kind in KINDS:
    runner(_kind)(_run(_kind))
    variants(_kind)(_variants(_kind))
    shaders(_kind)(lambda op, kind=_kind: (kind,))
