"""``docs/ops.md``: the op coverage table, generated from the op table.

    python -m vkgrad.opdoc > docs/ops.md      (``make docs``)

One line per row of ``ops.OPS``: where its NumPy kernel lives, its shader(s), how its
backward is done, whether double backward works, and the dtypes each backend runs it in.
``tests/test_opdoc.py`` fails when the file is stale.
"""

from __future__ import annotations

import sys

from . import ops
from .backends import numpy_backend
from .backends.vulkan import compile as vkcompile

_DT = {"0": "f32", "1": "f16", "2": "i32", "3": "bool"}


def _family(op: ops.Op) -> str:
    mod = numpy_backend.KERNELS[op.name].__module__
    return mod.rsplit(".", 1)[-1] if ".numpy_kernels." in mod else "core"


def _kernel_file(op: ops.Op) -> str:
    fam = _family(op)
    return "numpy_backend.py" if fam == "core" else f"numpy_kernels/{fam}.py"


def _backward(op: ops.Op) -> tuple:
    """(how the gradient is computed, whether it is itself differentiable)."""
    if op.backward is None:
        return "none (no gradient)", "-"
    kernels = sorted(n for n in ops.OPS if n.startswith(op.name + "_backward"))
    twice = op.double_backward
    if kernels:
        if twice is None:
            twice = all(ops.OPS[k].backward is not None for k in kernels)
        how = "kernel " + ", ".join(f"`{k}`" for k in kernels)
    else:
        how = "composed of other rows"
    return how, "no" if twice is False else "yes"


def _vulkan_dtypes(op: ops.Op) -> str:
    seen = []
    for _, defines in vkcompile.variants_for(op):
        # The first input's dtype (the output's for rows without inputs).
        d = _DT.get(str(defines.get("D1" if op.nin else "D0", "0")), "?")
        if d not in seen:
            seen.append(d)
    return " ".join(seen)


def _cpu_dtypes(op: ops.Op) -> str:
    return "f64 f32 f16 i32 bool" if op.nin == 0 else "f64 f32 f16"


def table() -> str:
    head = [
        "# Op coverage",
        "",
        "Generated from the op table by `python -m vkgrad.opdoc` (`make docs`); a test fails",
        "when this file is stale. One line per op row: its NumPy kernel (under",
        "`src/vkgrad/backends/`), its shader(s) (under `shaders/`), how its backward is done,",
        "whether double backward (`create_graph=True`) works, and the dtypes of its inputs",
        "(of the first input) that each backend runs. f16 is stored as f16 and computed in",
        "f32 on both backends; f64 is CPU-only.",
        "Public functions that compose rows (`mean`, `var`, `linear`, ...) are not listed:",
        "their gradients come from the rows they use.",
        "",
        "| op | family | kind | NumPy kernel | shader(s) | backward | double backward "
        "| cpu dtypes | vulkan dtypes | output |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows = []

    def order(name: str) -> tuple:
        fam = _family(ops.OPS[name])
        return (fam != "core", fam, name)

    for name in sorted(ops.OPS, key=order):
        op = ops.OPS[name]
        how, twice = _backward(op)
        shaders = ", ".join(f"`{s}.comp`" for s in vkcompile.shader_names(op))
        rows.append(
            f"| `{name}` | {_family(op)} | {op.kind} | `{_kernel_file(op)}` | {shaders} | {how} "
            f"| {twice} | {_cpu_dtypes(op)} | {_vulkan_dtypes(op)} | {op.out_dtype} |"
        )
    return "\n".join(head + rows) + "\n"


if __name__ == "__main__":
    sys.stdout.write(table())
