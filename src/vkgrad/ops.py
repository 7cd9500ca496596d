"""The op table: one row per op, read by both backends and by the autograd engine.

A row names an op once. The same name is its NumPy kernel (``backends/numpy_kernels/``) and
its shader (``shaders/<name>.comp``). Rows are added by the op families in
``vkgrad/library/`` (one module each: the rows, their backward rules and the public
functions), with ``row(...)``; a user module can add rows the same way (docs/extending.md).

Backward rules are written with other ops, so that the gradient graph is itself
differentiable (double backward). Rules never undo broadcasting: the engine sums each
gradient down to its input's shape.

A row's ``kind`` says how its kernel walks its data (elementwise over a broadcast shape, a
reduction of the last axis, one row at a time, ...); each backend runs every row of a kind
the same way. docs/architecture.md lists the kinds and their contracts.

This module is the bottom of the package: it imports nothing of vkgrad but ``dtypes`` and
``shapes``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from . import dtypes
from .shapes import broadcast_shapes

Shape = tuple


@dataclass(frozen=True)
class Op:
    name: str
    kind: str
    nin: int  # -1: any number of inputs (rows of kinds that take a list, like cat)
    # (ctx, grad_out) -> one gradient (or None) per input. None: not differentiable.
    backward: Callable | None = None
    attrs: tuple = ()  # attribute names (a kind passes the scalar ones to its shader in order)
    # What backward needs: "i" the inputs, "o" the output.
    saves: str = ""
    # out dtype: "promote" (of the float inputs), "bool", "int32", "input0", or "keep" (of all
    # tensor inputs but no_grad_inputs, int32 and bool kept: int + int is int, as PyTorch).
    out_dtype: str = "promote"
    # For map rows with a strided view: (shape, attrs) -> (out shape, strides, offset),
    # in elements; with ``scatter``, the output is zero-filled and written through the view.
    view: Callable | None = None
    scatter: bool = False
    # Indices of inputs that are never differentiated (class indices, masks, ...).
    no_grad_inputs: tuple = ()
    # (in_shapes, attrs) -> out shape, raising the op's shape errors. None: the view's shape
    # (view rows), the ``in_shape`` attr (scatter rows), the ``shape`` attr (rows without
    # inputs), else the broadcast shape of the inputs.
    shape: Callable | None = None
    # Whether double backward works, for docs/ops.md: None infers it (a backward kernel row
    # must have a rule of its own); True or False where the rule decides otherwise.
    double_backward: bool | None = None
    # Rows that read int32 indices: (in_shapes, attrs) -> (input position, lo, hi, skip,
    # message). Valid values are lo <= v < hi, and v == skip unless skip is None; the
    # message is formatted with v, the bad value. Both backends check them before a kernel
    # runs (vkgrad/validate.py): the NumPy backend every value, the Vulkan backend the range
    # of indices uploaded from the host (checking indices made on the device would cost a
    # sync; its kernels skip bad ones).
    bounds: Callable | None = None
    # Output dtypes the row refuses (a TypeError naming the op, with ``hint``), as PyTorch
    # refuses -bool or bitwise ops on floats; no shader variant is built for them.
    refuses: tuple = ()
    hint: str = ""


OPS: dict[str, Op] = {}


def row(name: str, kind: str, nin: int, backward: Callable | None = None, **kw: Any) -> Op:
    """Add the row of op ``name`` to the table (fields: see ``Op``) and return it.

    >>> row("square_plus_one", "map", 1, saves="i")   # doctest: +SKIP
    """
    if name in OPS:
        raise ValueError(f"row: an op named {name!r} exists already (kind {OPS[name].kind})")
    op = OPS[name] = Op(name, kind, nin, backward, **kw)
    return op


def class_bounds(op: str, pos: int, skip: str | None = None) -> Callable:
    """``Op.bounds`` for class-index targets at input ``pos`` of an (N, C, ...) input 0;
    ``skip`` names the attr holding an ignored class index."""

    def bounds(in_shapes, attrs):
        c = in_shapes[0][1]
        ignore = int(attrs[skip]) if skip else None
        return pos, 0, c, ignore, f"{op}: target class index {{v}} out of range [0, {c})"

    return bounds


def get(name: str) -> Op:
    """The row of op ``name``, with an error that names it when there is none."""
    try:
        return OPS[name]
    except KeyError:
        raise KeyError(f"no op named {name!r} in the op table") from None


def out_shape(op: Op, in_shapes: list, attrs: dict) -> Shape:
    """The shape of an op's output from its inputs' shapes (() for Python scalars)."""
    if op.shape is not None:
        return tuple(op.shape(in_shapes, attrs))
    if op.scatter:
        return tuple(attrs["in_shape"])
    if op.view is not None:
        return tuple(op.view(in_shapes[0], attrs)[0])
    if op.nin == 0:
        return tuple(attrs["shape"])
    return broadcast_shapes(op.name, *in_shapes)


def out_dtype(op: Op, in_dtypes: list, attrs: dict) -> dtypes.DType:
    """The dtype of an op's output, from its inputs' dtypes (None for Python scalars)."""
    out = _infer_dtype(op, in_dtypes, attrs)
    if op.refuses and out.name in op.refuses:
        shown = ", ".join("scalar" if d is None else d.name for d in in_dtypes)
        hint = f"; {op.hint}" if op.hint else ""
        raise TypeError(f"{op.name}: not supported for {out.name} (inputs: {shown}){hint}")
    return out


def _infer_dtype(op: Op, in_dtypes: list, attrs: dict) -> dtypes.DType:
    if "dtype" in attrs:
        return dtypes.get(attrs["dtype"])
    real = [d for d in in_dtypes if d is not None]
    if op.out_dtype == "bool":
        return dtypes.bool_
    if op.out_dtype == "int32":
        return dtypes.int32
    if op.out_dtype == "input0":
        return real[0] if real else dtypes.float32
    if op.out_dtype == "keep":
        # Python scalars do not take part: the functional layer passes dtype= where a float
        # scalar meets integer tensors (``int_tensor * 2.5`` is float32, as PyTorch).
        kept = [d for i, d in enumerate(in_dtypes) if d is not None and i not in op.no_grad_inputs]
        out = kept[0] if kept else dtypes.float32
        for d in kept[1:]:
            out = dtypes.promote(out, d)
        return out
    floats = [d for d in real if d.is_floating]
    if not floats:
        return dtypes.float32
    out = floats[0]
    for d in floats[1:]:
        out = dtypes.promote(out, d)
    return out
