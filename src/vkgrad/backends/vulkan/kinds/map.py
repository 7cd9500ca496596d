"""The ``map`` kind: elementwise over the broadcast shape of up to three inputs (arrays or
Python scalars), one thread per output element (f16: per output word).

A row with ``view`` reads input 0 through that strided view (permute, expand, slice); a row
with ``scatter`` zero-fills its output with the shader its own declares
(``// vkgrad: zero <shader>``), then writes input 0 through the view of the output.

Shader directives: ``in D<k> <dtypes>`` fixes binding k's dtype in the listed variants (a
bool condition); ``out <dtypes>`` lists the output dtypes the shader is for; ``casts``: every
input dtype to every output dtype.
"""

from __future__ import annotations

from .... import dtypes
from ....shapes import broadcast_strides, contiguous_strides, numel
from .. import DT_CODE, VkArray
from ..sources import directive
from . import (
    BOOL,
    F16,
    F32,
    I32,
    check_dims,
    f32_bits,
    fixed_binding,
    float_attrs,
    padded,
    push_layout,
    runner,
    variants,
)

# modes: 2 bits per input slot: 0 tensor, 2 scalar (its f32 bits in scalars), 3 absent.
PUSH = push_layout("map", "n", "modes", "scalars[3]", "ndim", "use_meta", "scatter", "attrs[24]")


@runner("map")
def run(be, op, inputs, attrs, out) -> None:
    if op.scatter:
        # Zero the whole output, then write the input through the view of it.
        (zero,) = directive(op.name, "zero")
        map_call(be, zero, [], out, out.shape, [f32_bits(0.0)], None)
        view = op.view(tuple(attrs["in_shape"]), attrs)
        map_call(be, op.name, inputs, out, inputs[0].shape, [], view, scatter=True)
        return
    view = op.view(inputs[0].shape, attrs) if op.view is not None else None
    map_call(be, op.name, inputs, out, out.shape, float_attrs(op, attrs), view)


def map_call(be, shader, inputs, out, shape, attr_words, view, scatter=False) -> None:
    """One dispatch of the map shader ``shader`` over ``shape`` (also used by other kinds to
    fill an output)."""
    n = numel(shape)
    if n == 0:
        return
    ndim = len(shape)
    defines = {"D0": DT_CODE[out.dtype.name]}
    bufs = [out.buf, be.dummy, be.dummy, be.dummy, be.dummy]
    modes, scalars = 0, [0, 0, 0]
    strided = view is not None
    in_meta = []
    reads, hold = [], [out.storage]
    # A scalar operand reads no buffer; its slot takes the dtype the listed variants give it
    # (the output's, or the first tensor's for bool results), so that `x * 2.0` runs the
    # SPIR-V of `x * y` instead of a variant of its own.
    tensors = [x for x in inputs if isinstance(x, VkArray)]
    slot = tensors[0].dtype if out.dtype is dtypes.bool_ and tensors else out.dtype
    for k in range(3):
        x = inputs[k] if k < len(inputs) else None
        if x is None:
            modes |= 3 << (2 * k)
            in_meta.append((0, (0,) * ndim))
        elif not isinstance(x, VkArray):
            modes |= 2 << (2 * k)
            scalars[k] = f32_bits(float(x))
            in_meta.append((0, (0,) * ndim))
            defines[f"D{k + 1}"] = DT_CODE[slot.name]
        else:
            defines[f"D{k + 1}"] = DT_CODE[x.dtype.name]
            bufs[1 + k] = x.buf
            reads.append(x.buf)
            hold.append(x.storage)
            if k == 0 and view is not None and not scatter:
                in_meta.append((view[2], tuple(view[1])))
            else:
                if x.size != n:
                    strided = True  # a real broadcast
                in_meta.append((0, broadcast_strides(x.shape, shape)))
    out_meta = (view[2], tuple(view[1])) if scatter else (0, contiguous_strides(shape))
    use_meta = 0
    if strided:
        check_dims(shader, shape)
        use_meta = 1
        words = padded(shape, 1)
        for off, st in [*in_meta, out_meta]:
            words += [off] + padded(st, 0)  # negative strides (flip) wrap, as the shader's
        bufs[4] = be.meta_buffer(tuple(words))
    f16_pairs = out.dtype is dtypes.float16 and not scatter
    items = (n + 1) // 2 if f16_pairs else n
    push = PUSH.words(
        n=n, modes=modes, scalars=scalars, ndim=ndim, use_meta=use_meta,
        scatter=int(scatter), attrs=attr_words,
    )  # fmt: skip
    be.dispatch(shader, defines, bufs, (be.groups(items), 1, 1), push, reads, [out.buf], hold)


def _dv(out: int, ins: list) -> dict:
    return {"D0": out, **{f"D{k + 1}": code for k, code in enumerate(ins)}}


def _codes(args) -> tuple:
    return tuple(DT_CODE[a] for a in args)


@variants("map")
def map_variants(op) -> list:
    n = op.nin
    if directive(op.name, "casts") is not None:
        every = (F32, F16, I32, BOOL)
        return [(op.name, _dv(o, [i])) for i in every for o in every]
    fixed = {}
    if (fb := fixed_binding(op.name)) is not None:
        fixed[int(fb[0][1:]) - 1] = fb[1][0]
    outs = _codes(directive(op.name, "out") or ("float32", "float16", "int32", "bool"))
    if n == 0:  # a fill: every dtype
        res = [_dv(o, []) for o in (F32, F16, I32, BOOL)]
    else:
        res = []
        for f in (F32, F16):
            ins = [fixed.get(k, f) for k in range(n)]
            res.append(_dv(BOOL if op.out_dtype == "bool" else f, ins))
        if op.out_dtype == "bool":
            res.append(_dv(BOOL, [I32] * n))  # integer comparisons (class indices, masks)
        if op.out_dtype in ("keep", "input0"):
            # integer arithmetic: int op int stays int (some kernels have an int32 branch)
            res += [_dv(I32, [I32] * n), _dv(BOOL, [BOOL] * n)]
    refused = {DT_CODE[name] for name in op.refuses if name in DT_CODE}
    return [(op.name, d) for d in res if d["D0"] in outs and d["D0"] not in refused]
