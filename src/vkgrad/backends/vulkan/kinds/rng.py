"""The ``rng`` kind: draws from a generator state (``shaders/rng.glsl``, ``philox.glsl``).

A row's last input is the state: an int32 array of 4 words (key, 64-bit offset); the input
before it, if the row has one, is its data (dropout's x, bernoulli's p: an array of the
output's shape, or a Python scalar). The state is bound at 1 and the data at 2, so that every
shader of the kind finds the state in one place. One thread per output element; f16 outputs
one thread per pair of elements (a whole word each). The output may be the state itself (the
offset's advance, in place).
"""

from __future__ import annotations

from .... import dtypes
from .. import DT_CODE, VkArray
from . import F16, F32, I32, f32_bits, push_layout, runner, typed_attrs, variants

PUSH = push_layout("rng", "n", "scalar_input", "scalar_value", "attrs[29]")


@runner("rng")
def run(be, op, inputs, attrs, out) -> None:
    *data, state = inputs
    if not isinstance(state, VkArray) or state.dtype is not dtypes.int32 or state.size != 4:
        raise TypeError(f"{op.name}: the last input must be a generator state (4 int32 words)")
    if out.size == 0:
        return
    defines = {"D0": DT_CODE[out.dtype.name], "D1": I32}
    bufs, reads, hold = [out.buf, state.buf], [state.buf], [out.storage, state.storage]
    scalar, scalar_bits = 0, 0
    if data:
        (x,) = data
        if isinstance(x, VkArray):
            if x.size != out.size:
                raise ValueError(f"{op.name}: input of {x.size} elements for {out.size} outputs")
            defines["D2"] = DT_CODE[x.dtype.name]
            bufs.append(x.buf)
            reads.append(x.buf)
            hold.append(x.storage)
        else:
            defines["D2"] = defines["D0"]  # never loaded: one variant either way
            bufs.append(be.dummy)
            scalar, scalar_bits = 1, f32_bits(float(x))
    push = PUSH.words(
        n=out.size, scalar_input=scalar, scalar_value=scalar_bits, attrs=typed_attrs(op, attrs)
    )
    items = (out.size + 1) // 2 if out.dtype is dtypes.float16 else out.size
    be.dispatch(op.name, defines, bufs, (be.groups(items), 1, 1), push, reads, [out.buf], hold)


@variants("rng")
def rng_variants(op) -> list:
    # int32 rows (raw words, integers, the state's advance) have one variant; float rows one
    # per float dtype, with the data input (if any) in the output's dtype.
    codes = (I32,) if op.out_dtype == "int32" else (F32, F16)
    out = []
    for f in codes:
        d = {"D0": f, "D1": I32}
        if op.nin == 2:
            d["D2"] = f
        out.append((op.name, d))
    return out
