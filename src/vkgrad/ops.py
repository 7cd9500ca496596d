"""The op table: one row per op, read by both backends and by the autograd engine.

A row names an op once. The same name is its NumPy kernel (``backends/numpy_backend.py``)
and its shader (``shaders/<name>.comp``). The Vulkan backend has no code per op: one
generic dispatch path per ``kind`` reads the row.

Backward rules are written with other ops, through ``vkgrad.functional``, so that the
gradient graph is itself differentiable (double backward). Rules never undo broadcasting:
the engine sums each gradient down to its input's shape.

The rows of the core ops are below; each op family in ``vkgrad/library/`` adds its rows to the
same table (``OPS``) when this module is imported.

Kinds, and what the generic paths assume of a row of that kind (families may add kinds; the
Vulkan backend runs those from ``backends/vulkan/kinds/``):

``map``      elementwise over the broadcast shape of the inputs (tensors or Python scalars);
             with ``view`` set, input 0 is read through a strided view (permute, expand,
             slice); with ``scatter`` set, the output is zero-filled and the result written
             through a strided view of it (slice_backward).
``reduce``   reduces the last axis: ``(M, K) -> (M,)``. The functional layer moves the
             reduced dims last.
``row``      one row of the last axis at a time: ``(M, K)`` inputs, softmax-like.
``loss_row`` per-row loss from ``(N, C)`` logits and a target: ``-> (N,)``, or its backward.
``matmul``   batched ``(B, M, K) @ (B, K, N)`` with optional transposes and batch
             broadcasting (a batch of 1 is reused).
``update``   optimizer step, in place on all its tensor inputs; no output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from . import dtypes

Shape = tuple


def broadcast_shapes(op: str, *shapes: Shape) -> Shape:
    """NumPy/PyTorch broadcasting, with an error that names the op and the shapes."""
    first = shapes[0] if shapes else ()
    if all(s == first for s in shapes):
        return tuple(first)
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(ndim):
        size = 1
        for s in shapes:
            d = s[i - ndim + len(s)] if i - ndim + len(s) >= 0 else 1
            if d != 1:
                if size not in (1, d):
                    shown = " and ".join(str(tuple(s)) for s in shapes)
                    raise ValueError(f"{op}: shapes {shown} cannot be broadcast together")
                size = d
        out.append(size)
    return tuple(out)


@dataclass(frozen=True)
class Op:
    name: str
    kind: str
    nin: int  # -1: any number of inputs (rows of kinds that take a list, like cat)
    # (ctx, grad_out) -> one gradient (or None) per input. None: not differentiable.
    backward: Callable | None = None
    attrs: tuple = ()  # attribute names, in the order the shader reads them
    # What backward needs: "i" the inputs, "o" the output.
    saves: str = ""
    # out dtype: "promote" (of the float inputs), "bool", "int32", "input0", or "keep" (of all
    # tensor inputs but no_grad_inputs, int32 and bool kept: int + int is int, as PyTorch).
    out_dtype: str = "promote"
    # For map rows with a strided view: (shape, attrs) -> (out shape, strides, offset),
    # in elements; see the module docstring.
    view: Callable | None = None
    scatter: bool = False
    # Indices of inputs that are never differentiated (class indices, masks, ...).
    no_grad_inputs: tuple = ()
    # (in_shapes, attrs) -> out shape, for rows whose shape the kind alone does not fix
    # (new kinds, reductions with int32 indices, ...). It raises the op's shape errors.
    shape: Callable | None = None
    # Whether double backward works, for docs/ops.md: None infers it (a backward kernel row
    # must have a rule of its own); True or False where the rule decides otherwise.
    double_backward: bool | None = None
    # Rows that read int32 indices: (in_shapes, attrs) -> (input position, lo, hi, skip,
    # message). Valid values are lo <= v < hi, and v == skip unless skip is None; the
    # message is formatted with v, the bad value. NumPy kernels check every value; the
    # Vulkan backend checks the value range of indices uploaded from the host (checking
    # indices made on the device would cost a sync; its kernels skip bad ones).
    bounds: Callable | None = None
    # Output dtypes the row refuses (a TypeError naming the op, with ``hint``), as PyTorch
    # refuses -bool or bitwise ops on floats; no shader variant is built for them.
    refuses: tuple = ()
    hint: str = ""


OPS: dict[str, Op] = {}


def _row(name: str, kind: str, nin: int, backward=None, **kw: Any) -> None:
    OPS[name] = Op(name, kind, nin, backward, **kw)


def class_bounds(op: str, pos: int, skip: str | None = None) -> Callable:
    """``Op.bounds`` for class-index targets at input ``pos`` of an (N, C, ...) input 0;
    ``skip`` names the attr holding an ignored class index."""

    def bounds(in_shapes, attrs):
        c = in_shapes[0][1]
        ignore = int(attrs[skip]) if skip else None
        return pos, 0, c, ignore, f"{op}: target class index {{v}} out of range [0, {c})"

    return bounds


def get(name: str) -> Op:
    return OPS[name]


# ---------------------------------------------------------------- backward rules


def _unary(deriv: Callable) -> Callable:
    """A rule for f(x): g * deriv(ctx)."""

    def rule(ctx, g):
        return (F.mul(g, deriv(ctx)),)

    return rule


def _kernel_rule(kernel: str, use_out: bool = False) -> Callable:
    """A rule that calls a dedicated backward kernel ``kernel(x_or_y, g, **attrs)``."""

    def rule(ctx, g):
        saved = ctx.out if use_out else ctx.inputs[0]
        return (F.call(kernel, saved, g, **ctx.attrs),)

    return rule


def _add(ctx, g):
    return g, g


def _sub(ctx, g):
    return g, F.neg(g)


def _mul(ctx, g):
    a, b = ctx.inputs
    return F.mul(g, b), F.mul(g, a)


def _div(ctx, g):
    a, b = ctx.inputs
    ga = F.div(g, b)
    if not ctx.needs_input_grad[1]:
        return ga, None
    return ga, F.neg(F.mul(ga, F.div(a, b)))


def _pow(ctx, g):
    a, b = ctx.inputs
    # d/da a^b = b a^(b-1); d/db a^b = a^b log a (only where a > 0, as in PyTorch for a >= 0).
    if isinstance(b, float):
        return F.mul(g, F.mul(F.pow(a, b - 1.0), b)) if b != 1.0 else g, None
    if isinstance(a, float):
        return None, F.mul(g, F.mul(ctx.out, math.log(a) if a > 0 else 0.0))
    ga = F.mul(g, F.mul(b, F.pow(a, F.sub(b, 1.0))))
    gb = None
    if ctx.needs_input_grad[1]:
        gb = F.mul(g, F.mul(ctx.out, F.log(F.where(F.call("gt", a, 0.0), a, 1.0))))
    return ga, gb


def _tie_split(ctx, g, pick: str):
    """Gradient of maximum/minimum: to the winner, split evenly on ties (as PyTorch)."""
    a, b = ctx.inputs
    wins_a = F.add(F.call(pick, a, b), F.mul(F.call("eq", a, b), 0.5))
    wins_b = F.sub(1.0, wins_a)
    return F.mul(g, wins_a), F.mul(g, wins_b)


def _where(ctx, g):
    cond = ctx.inputs[0]
    return None, F.where(cond, g, 0.0), F.where(cond, 0.0, g)


def _sum(ctx, g):
    (x,) = ctx.inputs
    return (F.expand(F.unsqueeze(g, -1), x.shape),)


def _max(ctx, g):
    # The gradient goes to every maximal element of the row, split evenly (PyTorch's rule
    # for max over all elements; for max(dim) PyTorch picks one index, see docs/porting).
    (x,) = ctx.inputs
    y = F.unsqueeze(ctx.out, -1)
    hit = F.to_dtype(F.call("eq", x, y), x.dtype)
    share = F.div(hit, F.unsqueeze(F.call("sum", hit), -1))
    return (F.mul(share, F.unsqueeze(g, -1)),)


def _matmul(ctx, g):
    a, b = ctx.inputs
    ta, tb = ctx.attrs["ta"], ctx.attrs["tb"]
    # C = op(A) op(B), so d op(A) = G op(B)^T and d op(B) = op(A)^T G; each gradient is laid
    # out as its operand is stored (transposed back when ta / tb).
    ga = gb = None
    if ctx.needs_input_grad[0]:
        if ta:
            ga = F.call("matmul", b, g, ta=tb, tb=1)
        else:
            ga = F.call("matmul", g, b, ta=0, tb=1 - tb)
        ga = F.sum_to(ga, a.shape)
    if ctx.needs_input_grad[1]:
        if tb:
            gb = F.call("matmul", g, a, ta=1, tb=ta)
        else:
            gb = F.call("matmul", a, g, ta=1 - ta, tb=0)
        gb = F.sum_to(gb, b.shape)
    return ga, gb


def _permute(ctx, g):
    dims = ctx.attrs["dims"]
    inverse = [0] * len(dims)
    for i, d in enumerate(dims):
        inverse[d] = i
    return (F.permute(g, inverse),)


def _expand(ctx, g):
    return (F.sum_to(g, ctx.inputs[0].shape),)


def _slice(ctx, g):
    x = ctx.inputs[0]
    return (F.call("slice_backward", g, in_shape=tuple(x.shape), **ctx.attrs),)


def _slice_backward(ctx, g):
    a = ctx.attrs
    return (F.call("slice", g, starts=a["starts"], steps=a["steps"], out_shape=a["out_shape"]),)


def _softmax_bw_rule(ctx, g):
    # y' = y * (g - sum(g y)); inputs (y, g). Differentiate the composed form.
    y, go = ctx.inputs
    s = F.unsqueeze(F.call("sum", F.mul(go, y)), -1)
    gy = F.mul(g, F.sub(go, s))
    gy = F.sub(gy, F.mul(F.unsqueeze(F.call("sum", F.mul(g, y)), -1), go))
    ggo = F.call("softmax_backward", y, g)
    return gy, ggo


def _log_softmax_bw_rule(ctx, g):
    # out = go - exp(y) * sum(go); inputs (y, go).
    y, go = ctx.inputs
    p = F.exp(y)
    s = F.unsqueeze(F.call("sum", go), -1)
    gy = F.neg(F.mul(F.mul(g, p), s))
    ggo = F.sub(g, F.unsqueeze(F.call("sum", F.mul(g, p)), -1))
    return gy, ggo


def _ce_index(ctx, g):
    x, t = ctx.inputs
    return F.call("cross_entropy_index_backward", x, t, g), None


def _ce_prob(ctx, g):
    x, p = ctx.inputs
    # d/dp of sum(-p * log_softmax(x)) = -log_softmax(x)
    gp = None
    if ctx.needs_input_grad[1]:
        gp = F.mul(F.neg(F.call("log_softmax", x)), F.unsqueeze(g, -1))
    return F.call("cross_entropy_prob_backward", x, p, g), gp


def _ce_index_bw(ctx, h):
    # out = (softmax(x) - onehot(t)) * g[:, None]; inputs (x, t, g).
    x, t, g = ctx.inputs
    y = F.call("softmax", x)
    gx = F.call("softmax_backward", y, F.mul(h, F.unsqueeze(g, -1)))
    gg = F.call("sum", F.mul(h, F.call(ctx.op.name, x, t, F.ones_like(g))))
    return gx, None, gg


def _ce_prob_bw(ctx, h):
    # out = (softmax(x) * sum(p) - p) * g[:, None]; inputs (x, p, g).
    x, p, g = ctx.inputs
    y = F.call("softmax", x)
    sp = F.unsqueeze(F.call("sum", p), -1)
    gx = F.call("softmax_backward", y, F.mul(F.mul(h, F.unsqueeze(g, -1)), sp))
    hg = F.mul(h, F.unsqueeze(g, -1))
    gp = F.sub(F.unsqueeze(F.call("sum", F.mul(hg, y)), -1), hg)
    gg = F.call("sum", F.mul(h, F.call(ctx.op.name, x, p, F.ones_like(g))))
    return gx, gp, gg


def _relu_bw(ctx, h):
    x, g = ctx.inputs
    return None, F.call("relu_backward", x, h)


def _sigmoid_bw(ctx, h):
    # out = g y (1 - y); inputs (y, g)
    y, g = ctx.inputs
    return F.mul(F.mul(h, g), F.sub(1.0, F.mul(y, 2.0))), F.call("sigmoid_backward", y, h)


def _tanh_bw(ctx, h):
    # out = g (1 - y^2); inputs (y, g)
    y, g = ctx.inputs
    return F.mul(F.mul(h, g), F.mul(y, -2.0)), F.call("tanh_backward", y, h)


def _second_derivative(kernel: str) -> Callable:
    """Rule for ``<f>_backward(x, g) = g f'(x)``: d/dx = h g f''(x), d/dg = h f'(x)."""

    def rule(ctx, h):
        x, g = ctx.inputs
        return F.mul(F.mul(h, g), F.call(kernel, x, **ctx.attrs)), F.call(
            ctx.op.name, x, h, **ctx.attrs
        )

    return rule


def _clamp_bw(ctx, h):
    x, g = ctx.inputs
    return None, F.call("clamp_backward", x, h, **ctx.attrs)


# ---------------------------------------------------------------- the table

# Elementwise, any broadcastable inputs; Python scalars are accepted as inputs.
_row("add", "map", 2, _add, out_dtype="keep")
_row("sub", "map", 2, _sub, out_dtype="keep", refuses=("bool",),
     hint="use ^ or logical_xor() for bool tensors")  # fmt: skip
_row("mul", "map", 2, _mul, saves="i", out_dtype="keep")
_row("div", "map", 2, _div, saves="i")
_row("pow", "map", 2, _pow, saves="io")
_row("maximum", "map", 2, lambda c, g: _tie_split(c, g, "gt"), saves="i", out_dtype="keep")
_row("minimum", "map", 2, lambda c, g: _tie_split(c, g, "lt"), saves="i", out_dtype="keep")
_row("where", "map", 3, _where, saves="i", no_grad_inputs=(0,), out_dtype="keep")
_row("neg", "map", 1, lambda c, g: (F.neg(g),), out_dtype="keep", refuses=("bool",),
     hint="use ~ or logical_not() to invert a mask")  # fmt: skip
_row("exp", "map", 1, _unary(lambda c: c.out), saves="o")
_row("log", "map", 1, lambda c, g: (F.div(g, c.inputs[0]),), saves="i")
_row("sqrt", "map", 1, lambda c, g: (F.div(g, F.mul(c.out, 2.0)),), saves="o")
_row("abs", "map", 1, _unary(lambda c: F.call("sign", c.inputs[0])), saves="i", out_dtype="keep")
_row("sign", "map", 1, out_dtype="input0")
_row("relu", "map", 1, _kernel_rule("relu_backward"), saves="i")
_row("relu_backward", "map", 2, _relu_bw, saves="i")
_row("sigmoid", "map", 1, _kernel_rule("sigmoid_backward", use_out=True), saves="o")
_row("sigmoid_backward", "map", 2, _sigmoid_bw, saves="i")
_row("tanh", "map", 1, _kernel_rule("tanh_backward", use_out=True), saves="o")
_row("tanh_backward", "map", 2, _tanh_bw, saves="i")
# approximate: 0 = exact (erf), 1 = tanh approximation
_row("gelu", "map", 1, _kernel_rule("gelu_backward"), attrs=("approximate",), saves="i")
_row("gelu_backward", "map", 2, _second_derivative("gelu_grad2"), attrs=("approximate",), saves="i")
_row("gelu_grad2", "map", 1, attrs=("approximate",))
_row("silu", "map", 1, _kernel_rule("silu_backward"), saves="i")
_row("silu_backward", "map", 2, _second_derivative("silu_grad2"), saves="i")
_row("silu_grad2", "map", 1)
# has_min/has_max: 0 or 1; an absent bound is ignored.
_CLAMP = ("min", "max", "has_min", "has_max")
_row("clamp", "map", 1, _kernel_rule("clamp_backward"), attrs=_CLAMP, saves="i")
_row("clamp_backward", "map", 2, _clamp_bw, attrs=_CLAMP, saves="i")
for _cmp in ("eq", "ne", "lt", "le", "gt", "ge"):
    _row(_cmp, "map", 2, out_dtype="bool")
_row("fill", "map", 0, attrs=("value",), out_dtype="input0")
# Casts and copies: the output dtype is the attribute's.
# Backward needs only the input's dtype (from the node's input metadata), not its values: a
# saved input would make every in-place op on a non-leaf fail its version check.
_row("copy", "map", 1, lambda c, g: (F.to_dtype(g, c._input_meta[0][1]),))


def _permute_view(shape, attrs):
    dims = attrs["dims"]
    strides = _contiguous_strides(shape)
    return tuple(shape[d] for d in dims), tuple(strides[d] for d in dims), 0


def _expand_view(shape, attrs):
    out = tuple(attrs["shape"])
    lead = len(out) - len(shape)
    strides = _contiguous_strides(shape)
    st = [0] * lead + [
        0 if shape[i] == 1 and out[lead + i] != 1 else strides[i] for i in range(len(shape))
    ]
    return out, tuple(st), 0


def _slice_view(shape, attrs):
    strides = _contiguous_strides(shape)
    offset = sum(s * st for s, st in zip(attrs["starts"], strides))
    st = tuple(s * step for s, step in zip(strides, attrs["steps"]))
    return tuple(attrs["out_shape"]), st, offset


def _contiguous_strides(shape) -> tuple:
    strides, acc = [], 1
    for d in reversed(shape):
        strides.append(acc)
        acc *= d
    return tuple(reversed(strides))


# Views keep their input's dtype: an int32 tensor sliced or permuted stays int32.
_VIEW = dict(out_dtype="input0")
_row("permute", "map", 1, _permute, attrs=("dims",), view=_permute_view, **_VIEW)
_row("expand", "map", 1, _expand, attrs=("shape",), saves="i", view=_expand_view, **_VIEW)
_SLICE = ("starts", "steps", "out_shape")
_row("slice", "map", 1, _slice, attrs=_SLICE, saves="i", view=_slice_view, **_VIEW)
_row(
    "slice_backward",
    "map",
    1,
    _slice_backward,
    attrs=("in_shape",) + _SLICE,
    view=_slice_view,
    scatter=True,
    refuses=("int32", "bool"),  # gradients only
    **_VIEW,
)

_row("sum", "reduce", 1, _sum, saves="i")
_row("max", "reduce", 1, _max, saves="io")

_row("softmax", "row", 1, _kernel_rule("softmax_backward", use_out=True), saves="o")
_row("softmax_backward", "row", 2, _softmax_bw_rule, saves="i")
_row("log_softmax", "row", 1, _kernel_rule("log_softmax_backward", use_out=True), saves="o")
_row("log_softmax_backward", "row", 2, _log_softmax_bw_rule, saves="i")

_CE_BOUNDS = class_bounds("cross_entropy", 1)
_row(
    "cross_entropy_index",
    "loss_row",
    2,
    _ce_index,
    saves="i",
    no_grad_inputs=(1,),
    bounds=_CE_BOUNDS,
)
_row("cross_entropy_prob", "loss_row", 2, _ce_prob, saves="i")
_row(
    "cross_entropy_index_backward",
    "loss_row",
    3,
    _ce_index_bw,
    saves="io",
    no_grad_inputs=(1,),
    bounds=_CE_BOUNDS,
)
_row("cross_entropy_prob_backward", "loss_row", 3, _ce_prob_bw, saves="io")

_row("matmul", "matmul", 2, _matmul, attrs=("ta", "tb"), saves="i")

# Optimizer updates, in place. Inputs in binding order; see each shader's header.
_ADAM = ("lr", "beta1", "beta2", "eps", "weight_decay", "bias1", "bias2", "decoupled")
_row("adam_step", "update", 6, attrs=(*_ADAM, "amsgrad", "maximize"))
_SGD = ("lr", "momentum", "dampening", "weight_decay", "nesterov", "first_step")
_row("sgd_step", "update", 4, attrs=(*_SGD, "maximize"))
_RMSPROP = ("lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize")
_row("rmsprop_step", "update", 6, attrs=_RMSPROP)
_row("adagrad_step", "update", 4, attrs=("clr", "weight_decay", "eps", "maximize"))


def out_shape(op: Op, in_shapes: list, attrs: dict) -> Shape:
    """The shape of an op's output from its inputs' shapes (() for Python scalars)."""
    name = op.name
    if op.shape is not None:
        return tuple(op.shape(in_shapes, attrs))
    if op.kind == "map":
        if op.scatter:
            return tuple(attrs["in_shape"])
        if op.view is not None:
            return tuple(op.view(in_shapes[0], attrs)[0])
        if op.nin == 0:
            return tuple(attrs["shape"])
        return broadcast_shapes(name, *in_shapes)
    x = in_shapes[0]
    if op.kind in ("reduce", "row", "loss_row") and len(x) != 2 and op.kind != "reduce":
        raise ValueError(f"{name}: expected a 2-D (rows, cols) input, got shape {tuple(x)}")
    if op.kind == "reduce":
        if len(x) < 1:
            raise ValueError(f"{name}: cannot reduce the last axis of a 0-d tensor")
        return tuple(x[:-1])
    if op.kind == "row":
        for s in in_shapes[1:]:
            if tuple(s) != tuple(x):
                raise ValueError(f"{name}: shapes {tuple(x)} and {tuple(s)} must match")
        return tuple(x)
    if op.kind == "loss_row":
        n = x[0]
        t = in_shapes[1]
        want = (n,) if name.startswith("cross_entropy_index") else tuple(x)
        if tuple(t) != want:
            raise ValueError(
                f"{name}: target shape {tuple(t)} does not match {want} for input {tuple(x)}"
            )
        if op.nin == 3:
            if tuple(in_shapes[2]) != (n,):
                raise ValueError(f"{name}: grad shape {tuple(in_shapes[2])}, expected {(n,)}")
            return tuple(x)
        return (n,)
    if op.kind == "matmul":
        a, b = in_shapes
        if len(a) != 3 or len(b) != 3:
            raise ValueError(f"{name}: expected 3-D inputs, got {tuple(a)} and {tuple(b)}")
        m, k = (a[2], a[1]) if attrs["ta"] else (a[1], a[2])
        k2, n = (b[2], b[1]) if attrs["tb"] else (b[1], b[2])
        if k != k2:
            raise ValueError(f"matmul: shapes {tuple(a)} and {tuple(b)} do not align ({k} != {k2})")
        if a[0] != b[0] and 1 not in (a[0], b[0]):
            raise ValueError(f"matmul: batch sizes {a[0]} and {b[0]} do not broadcast")
        return (max(a[0], b[0]), m, n)
    if op.kind == "update":
        return ()
    raise AssertionError(f"unknown kind {op.kind}")


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


class _Functional:
    """``vkgrad.functional``, imported on first use: rules run at backward time only, and
    functional itself imports this table."""

    def __getattr__(self, name: str):
        from . import functional

        return getattr(functional, name)


F = _Functional()


from . import library  # noqa: E402,F401  (registers the op families' rows)
