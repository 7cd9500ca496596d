"""The ``norm`` kind: the kernels of the norm family over an (M, K) view of input 0, on the
grid the shader declares (``// vkgrad: grid rows|cols|elements``; rows by default): one
workgroup per row, one per column, or one thread per element (f16: per word pair).

Inputs may be Python scalars (an absent weight or bias): the kernel then reads the scalar
from the push constants (``shaders/norm.glsl``). The row's attrs follow, ints as uint32 and
floats as f32 bits. The output may be input 0's own buffer (in place). Bindings are in the
op's dtype but where the shader fixes one (``// vkgrad: in D<k> <dtypes>``, ``same`` for the
op's dtype): statistics in f32, a mask that may be bool.
"""

from __future__ import annotations

from .. import DT_CODE, VkArray
from ..sources import directive
from . import F16, F32, f32_bits, fixed_binding, push_layout, runner, typed_attrs, variants

# scalar_inputs: bit k set = input k is a Python scalar, its f32 bits in scalars[k].
PUSH = push_layout("normalize", "M", "K", "scalar_inputs", "scalars[4]", "attrs[25]")
GRIDS = ("rows", "cols", "elements")


def grid(shader: str) -> str:
    (g,) = directive(shader, "grid") or ("rows",)
    if g not in GRIDS:
        raise ValueError(f"shaders/{shader}.comp: grid {g!r}, expected one of {GRIDS}")
    return g


@runner("normalize")
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
            bufs.append(be.dummy)
            scalar_bits |= 1 << i
            scalar_vals[i] = f32_bits(float(a))
    push = PUSH.words(
        M=m, K=k, scalar_inputs=scalar_bits, scalars=scalar_vals, attrs=typed_attrs(op, attrs)
    )
    g = grid(op.name)
    if g == "rows":
        groups = max(1, min(m, be.max_groups))
    elif g == "cols":
        groups = max(1, min(k, be.max_groups))
    else:
        n = m * k
        groups = be.groups((n + 1) // 2 if defines["D0"] == F16 else n)
    be.dispatch(op.name, defines, bufs, (groups, 1, 1), push, reads, [out.buf], hold)


@variants("normalize")
def norm_variants(op) -> list:
    fixed = fixed_binding(op.name)
    out = []
    for f in (F32, F16):
        base = {f"D{i}": f for i in range(op.nin + 1)}
        if fixed is None:
            out.append((op.name, base))
            continue
        binding, codes = fixed
        out += [(op.name, {**base, binding: f if c is None else c}) for c in codes]
    return out
