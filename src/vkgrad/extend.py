"""Ops from user code: a row, a NumPy kernel and a GLSL shader under one name, without touching
the package. The op runs on both backends, inside captured steps too, and its backward is
written with ops or as a kernel of its own (another op). docs/extending.md has the guide.

>>> scale_add = define_op(
...     "scale_add", "map", 2,
...     numpy=lambda a, b, alpha=1.0: a * alpha + b,
...     glsl=SCALE_ADD_GLSL,                        # defines float op(a, b, c), see map.glsl
...     backward=lambda ctx, g: (F.mul(g, ctx.attrs["alpha"]), g),
...     attrs=("alpha",),
... )                                               # doctest: +SKIP
>>> y = scale_add(x, y, alpha=2.0)                  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from . import ops
from .autograd import apply
from .backends import numpy_backend
from .backends.vulkan import compile as vulkan_compile
from .backends.vulkan.kinds import RUNNERS, SHADERS
from .device import _backends
from .library.rules import kernel_rule, second_derivative_rule, unary_rule

__all__ = [
    "define_op",
    "remove_op",
    "kernel_rule",
    "second_derivative_rule",
    "unary_rule",
]


def define_op(
    name: str,
    kind: str,
    nin: int,
    *,
    numpy: Callable,
    glsl: str | Path,
    backward: Callable | None = None,
    **fields,
) -> Callable:
    """Add op ``name`` and return a function that runs it: ``fn(*inputs, **attrs)``.

    - ``kind``: how its kernel walks its data, one of the Vulkan kinds whose rows run the
      shader named after the op (``"map"``: elementwise over broadcast inputs, the usual
      choice; ``"row"``, ``"reduce"``, ``"axis"``, ... see docs/architecture.md);
    - ``numpy``: the NumPy kernel, called with the inputs as arrays (f16 as f32) or Python
      floats, and the attrs as keywords;
    - ``glsl``: the shader, as GLSL text or a ``Path``, written against the kind's header
      (for ``map``: ``#include "map.glsl"`` and ``float op(float a, float b, float c)``);
    - ``backward``: ``(ctx, grad_out) -> one gradient per input``, written with ops
      (``vkgrad.functional``) or calling a backward kernel defined the same way
      (``kernel_rule``); None for an op without a gradient;
    - ``fields``: the rest of the row (``attrs``, ``saves``, ``out_dtype``, ``shape``, ...,
      see ``vkgrad.ops.Op``).

    Nothing is registered when an argument is wrong.
    """
    if name in ops.OPS:
        raise ValueError(f"define_op: an op named {name!r} exists already; remove_op it first")
    if kind not in RUNNERS:
        raise ValueError(f"define_op: {name}: unknown kind {kind!r}; kinds: {sorted(RUNNERS)}")
    if kind in SHADERS:
        raise ValueError(
            f"define_op: {name}: the {kind!r} kind runs shaders of its own, not one named "
            f"after the op; pick a kind whose rows run their own shader"
        )
    if not callable(numpy):
        raise TypeError(f"define_op: {name}: numpy must be a function, got {type(numpy).__name__}")
    if backward is not None and "saves" not in fields:
        fields["saves"] = "i"  # a rule usually reads the inputs; say saves="" to keep none
    vulkan_compile.register_shader(name, glsl)
    try:
        row = ops.row(name, kind, nin, backward, **fields)
    except Exception:
        vulkan_compile.unregister_shader(name)
        raise
    numpy_backend.KERNELS[name] = numpy

    def run(*inputs, **attrs):
        return apply(name, *inputs, **attrs)

    run.__name__ = run.__qualname__ = name
    run.__doc__ = f"The user op {name!r} (kind {row.kind}, {row.nin} inputs)."
    return run


def remove_op(name: str) -> None:
    """Remove an op added by ``define_op`` (its row, kernel, shader and compiled pipelines),
    so that the name can be defined again."""
    if name not in ops.OPS or name not in vulkan_compile.user_shaders():
        raise ValueError(f"remove_op: {name!r} is not an op added by define_op")
    del ops.OPS[name]
    numpy_backend.KERNELS.pop(name, None)
    vulkan_compile.unregister_shader(name)
    for backend in _backends.values():
        forget = getattr(backend, "forget_shader", None)  # only the Vulkan backend compiles
        if forget is not None:
            forget(name)
