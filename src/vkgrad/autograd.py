"""Reverse-mode autograd: graph nodes, the backward engine, grad modes, Function and gradcheck.

Every op, built-in or user-defined, records one node. A node knows the nodes of its inputs
(``next_functions``) and how to turn the gradient of its output(s) into gradients of its
inputs. Built-in ops take that rule from their row in ``ops.py``.
"""

from __future__ import annotations

import functools
import sys
import threading
import traceback
import weakref
from collections import namedtuple
from collections.abc import Sequence
from typing import Any, Callable

import numpy as np

from . import autocasting, capturing, ops
from .device import Device, default_device

_state = threading.local()


def is_grad_enabled() -> bool:
    return getattr(_state, "enabled", True)


def _set_grad_enabled(mode: bool) -> None:
    _state.enabled = mode


class _GradMode:
    """Context manager and decorator that sets grad mode, restoring the previous one on exit."""

    mode = True

    def __enter__(self) -> None:
        self._prev = is_grad_enabled()
        _set_grad_enabled(self.mode)

    def __exit__(self, *exc: Any) -> None:
        _set_grad_enabled(self._prev)

    def __call__(self, fn: Callable) -> Callable:
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = is_grad_enabled()
            _set_grad_enabled(mode)
            try:
                return fn(*args, **kwargs)
            finally:
                _set_grad_enabled(prev)

        return wrapper


class no_grad(_GradMode):
    """Disable graph recording: ``with vkgrad.no_grad(): w -= lr * w.grad``."""

    mode = False


class enable_grad(_GradMode):
    """Re-enable graph recording inside ``no_grad``."""

    mode = True


class set_grad_enabled(_GradMode):
    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self._prev = is_grad_enabled()
        _set_grad_enabled(self.mode)


class inference_mode(_GradMode):
    """``no_grad`` under PyTorch's name for inference: ``with vkgrad.inference_mode():``, or
    as a decorator. ``mode=False`` leaves grad mode as it is. vkgrad has no separate inference
    tensors: tensors made inside may later be used in autograd, as under ``no_grad``."""

    mode = False

    def __init__(self, mode: bool = True) -> None:
        self.enabled = bool(mode)

    def __enter__(self) -> None:
        self._prev = is_grad_enabled()
        if self.enabled:
            _set_grad_enabled(False)

    def __call__(self, fn: Callable) -> Callable:
        return super().__call__(fn) if self.enabled else fn


# ---------------------------------------------------------------- anomaly detection

_ANOMALY = [False]  # a list: read on every recorded op, set by detect_anomaly


class detect_anomaly:
    """While active (context manager or decorator), every recorded op keeps the stack of
    its forward call, and backward checks each gradient it computes: the first op whose
    backward gives a nan or inf raises RuntimeError naming that op and showing where its
    forward ran. Slow (a host read per gradient): for debugging, as in PyTorch.

    >>> with vkgrad.autograd.detect_anomaly():
    ...     loss.backward()
    """

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = bool(check_nan)

    def __enter__(self) -> None:
        self._prev = _ANOMALY[0]
        _ANOMALY[0] = self.check_nan

    def __exit__(self, *exc: Any) -> None:
        _ANOMALY[0] = self._prev

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self:
                return fn(*args, **kwargs)

        return wrapper


def set_detect_anomaly(mode: bool) -> None:
    _ANOMALY[0] = bool(mode)


def is_anomaly_enabled() -> bool:
    return _ANOMALY[0]


def _check_anomaly(node, in_grads) -> None:
    for i, g in enumerate(in_grads):
        if g is None or not g.dtype.is_floating:
            continue
        if not np.isfinite(g.numpy()).all():
            where = "".join(getattr(node, "_forward_stack", None) or ["  (not recorded)\n"])
            raise RuntimeError(
                f"Function '{node.name()}' returned nan or inf values in its {i}th output "
                f"(detect_anomaly). Its forward call:\n{where}"
            )


# ---------------------------------------------------------------- saved tensors


class SavedTensor:
    """A tensor saved for backward, with the version it had; unpacking checks the version."""

    __slots__ = ("data", "shape", "dtype", "device", "version", "expected", "grad_fn", "tensor")

    def __init__(self, t, is_output: bool = False) -> None:
        self.version = t._version
        self.expected = t._version[0]
        if is_output:
            # Saving the output tensor itself would make a cycle (out -> node -> out) that keeps
            # device buffers alive until the garbage collector runs; keep its parts instead.
            self.tensor = None
            self.data, self.shape, self.dtype, self.device = t._data, t.shape, t.dtype, t.device
        else:
            self.tensor = t

    def unpack(self, node: Node):
        if self.version[0] != self.expected:
            raise RuntimeError(
                f"{node.name()}: one of the tensors saved for backward was modified by an in-place "
                f"operation: it is at version {self.version[0]}, expected version "
                f"{self.expected}. Use .clone() before the in-place op, or avoid it."
            )
        if self.tensor is not None:
            return self.tensor
        t = Tensor._make(self.data, self.shape, self.dtype, self.device)
        t._version = self.version
        t.grad_fn = node
        t.requires_grad = True
        return t


# ---------------------------------------------------------------- nodes


class Node:
    """A recorded operation in the graph, PyTorch's ``grad_fn``."""

    def __init__(self) -> None:
        self.next_functions: tuple = ()
        self._input_meta: list = []  # (shape, dtype) of each input, for sum-to-shape and casts
        self._released = False
        self._retained: list = []  # weakrefs to non-leaf outputs that called retain_grad
        self._pre_hooks: list = []
        self.n_outputs = 1

    def name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{self.name()} object>"

    def apply(self, grads: list) -> Sequence:
        raise NotImplementedError

    def register_hook(self, fn: Callable) -> None:
        self._pre_hooks.append(fn)

    def release(self) -> None:
        """Free what backward needed, once it ran without retain_graph. Nodes that keep
        nothing (views, splits) have nothing to free and may run again."""


class AccumulateGrad(Node):
    """The node of a leaf tensor that requires grad: accumulates into ``.grad``."""

    def __init__(self, variable) -> None:
        super().__init__()
        self._variable = weakref.ref(variable)

    @property
    def variable(self):
        return self._variable()

    def apply(self, grads: list) -> Sequence:
        return ()


class OpNode(Node):
    """The node of a built-in op: its backward rule comes from the op's row."""

    def __init__(self, op: ops.Op, attrs: dict) -> None:
        super().__init__()
        self.op = op
        self.attrs = attrs
        self._saved_inputs: list | None = None
        self._saved_out: SavedTensor | None = None
        self.needs_input_grad: tuple = ()

    def name(self) -> str:
        return "".join(p.capitalize() for p in self.op.name.split("_")) + "Backward0"

    @property
    def inputs(self) -> list:
        if self._released:
            raise released_error(self)
        return [s.unpack(self) if isinstance(s, SavedTensor) else s for s in self._saved_inputs]

    @property
    def out(self):
        if self._released:
            raise released_error(self)
        return self._saved_out.unpack(self)

    def apply(self, grads: list) -> Sequence:
        return self.op.backward(self, grads[0])

    def release(self) -> None:
        self._saved_inputs = None
        self._saved_out = None
        self._released = True


def released_error(node: Node) -> RuntimeError:
    return RuntimeError(
        f"{node.name()}: trying to backward through the graph a second time (or to use saved "
        "tensors after they were freed). Pass retain_graph=True to the first backward() or "
        "autograd.grad() if you need to backward through the graph again."
    )


def _edge(t) -> tuple:
    """The (node, output index) that gradients for tensor ``t`` flow into."""
    if not t.requires_grad:
        return (None, 0)
    if t.grad_fn is not None:
        return (t.grad_fn, t._output_nr)
    return (t._accumulate_node(), 0)


_NO_EDGE = (None, 0)


def record(node: Node, inputs: Sequence, outputs: Sequence) -> None:
    """Connect ``node`` to its inputs and make it the grad_fn of its outputs."""
    edges, meta = [], []
    for x in inputs:  # _edge, inlined: this runs for every recorded op
        if isinstance(x, Tensor):
            if not x.requires_grad:
                edges.append(_NO_EDGE)
            elif x.grad_fn is not None:
                edges.append((x.grad_fn, x._output_nr))
            else:
                edges.append((x._accumulate_node(), 0))
            meta.append((x._shape, x._dtype))
        else:
            edges.append(_NO_EDGE)
            meta.append(None)
    node.next_functions = tuple(edges)
    node._input_meta = meta
    node.n_outputs = len(outputs)
    if _ANOMALY[0]:
        node._forward_stack = traceback.format_stack()[:-2]
    for i, out in enumerate(outputs):
        out.grad_fn = node
        out.requires_grad = True
        out._output_nr = i


# ---------------------------------------------------------------- applying ops


# (op name, input shapes, input dtypes, attrs) -> (out shape, out dtype). Inference reads
# nothing but these, and a training step asks the same questions every step.
_INFERRED: dict = {}
_INFERRED_MAX = 4096  # distinct signatures kept; a program making more starts afresh


def infer(op: ops.Op, in_shapes: list, in_dtypes: list, attrs: dict) -> tuple:
    """``(ops.out_shape(...), ops.out_dtype(...))``, cached per signature. Attrs that cannot
    be hashed (lists, arrays) skip the cache; errors are raised each time, never cached."""
    try:
        key = (op.name, tuple(in_shapes), tuple(in_dtypes), tuple(attrs.items()) if attrs else ())
        hit = _INFERRED.get(key)
    except TypeError:
        return ops.out_shape(op, in_shapes, attrs), ops.out_dtype(op, in_dtypes, attrs)
    if hit is None:
        hit = ops.out_shape(op, in_shapes, attrs), ops.out_dtype(op, in_dtypes, attrs)
        if len(_INFERRED) >= _INFERRED_MAX:
            _INFERRED.clear()
        _INFERRED[key] = hit
    return hit


def apply(name: str, *inputs, **attrs):
    """Run the op ``name`` on tensors / Python scalars and record it for autograd."""
    # This is the hot path of every op: keep it to plain loops and attribute reads.
    op = ops.OPS[name]
    if op.nin >= 0 and len(inputs) != op.nin:  # nin -1: any number of inputs (cat)
        raise TypeError(f"{name}: expected {op.nin} inputs, got {len(inputs)}")
    device = None
    in_shapes, in_dtypes, args = [], [], []
    requires = False
    for x in inputs:
        if isinstance(x, Tensor):
            if device is None:
                device = x._device
            elif x._device is not device and x._device != device:
                raise RuntimeError(
                    f"{name}: expected all tensors on one device, got {device} and {x.device}"
                )
            in_shapes.append(x._shape)
            in_dtypes.append(x._dtype)
            args.append(x._data)
            if x.requires_grad:
                requires = True
        else:
            in_shapes.append(())
            in_dtypes.append(None)
            args.append(float(x))
    if "device" in attrs:
        explicit = attrs.pop("device")
        if device is None:
            device = Device.parse(explicit or default_device())
    elif device is None:
        device = Device.parse(default_device())
    shape, dtype = infer(op, in_shapes, in_dtypes, attrs)
    data = device.backend.run(op, args, attrs, shape, dtype)
    out = Tensor._make(data, shape, dtype, device)
    # Integer and bool outputs are never differentiable (casts to int, floor_divide, ...).
    # Without an input that requires grad there is nothing to record: no node at all.
    if requires and op.backward is not None and dtype.is_floating and is_grad_enabled():
        no_grad_inputs = op.no_grad_inputs
        needs = tuple(
            isinstance(x, Tensor) and x.requires_grad and i not in no_grad_inputs
            for i, x in enumerate(inputs)
        )
        if True in needs:
            node = OpNode(op, attrs)
            node.needs_input_grad = needs
            saves = op.saves
            if "i" in saves:
                node._saved_inputs = [
                    SavedTensor(x) if isinstance(x, Tensor) else x for x in inputs
                ]
            if "o" in saves:
                node._saved_out = SavedTensor(out, is_output=True)
            record(node, inputs, [out])
    return out


def apply_inplace(name: str, target, *inputs, include_target: bool = True, **attrs):
    """``target.<op>_(...)``: the result of ``name(target, *inputs)`` written into target.

    With ``include_target=False`` the op reads only ``inputs`` (``copy_``).
    """
    recording = is_grad_enabled() and (
        target.requires_grad or any(isinstance(x, Tensor) and x.requires_grad for x in inputs)
    )
    if recording and target.is_leaf and target.requires_grad:
        raise RuntimeError(
            f"{name}_: a leaf tensor that requires grad is being used in an in-place operation; "
            "wrap the update in `with vkgrad.no_grad():`"
        )
    if not recording:
        op = ops.OPS[name]
        all_in = (target, *inputs) if include_target else inputs
        in_shapes = [x.shape if isinstance(x, Tensor) else () for x in all_in]
        shape = ops.out_shape(op, in_shapes, attrs)
        if tuple(shape) != tuple(target.shape):
            raise RuntimeError(
                f"{name}_: output with shape {tuple(target.shape)} doesn't match the broadcast "
                f"shape {tuple(shape)}"
            )
        if (
            not target.dtype.is_floating
            and ops.out_dtype(
                op, [x.dtype if isinstance(x, Tensor) else None for x in all_in], attrs
            ).is_floating
            and "dtype" not in attrs
        ):
            raise RuntimeError(f"{name}_: result type float can't be cast to {target.dtype}")
        for x in inputs:
            if isinstance(x, Tensor) and x.device != target.device:
                raise RuntimeError(
                    f"{name}_: expected all tensors on one device, got {target.device} and "
                    f"{x.device}"
                )
        args = [x._data if isinstance(x, Tensor) else float(x) for x in all_in]
        attrs.setdefault("dtype", target.dtype)
        target.device.backend.run(op, args, attrs, shape, target.dtype, out=target._data)
    else:
        # The old value may be needed by backward: compute out of place from a clone, then
        # write the result into target's storage and move target's history onto the result.
        if include_target:
            saves = "i" in ops.OPS[name].saves
            old = apply("copy", target, dtype=target.dtype) if saves else target
            result = apply(name, old, *inputs, **attrs)
        else:
            result = apply(name, *inputs, **attrs)
        if tuple(result.shape) != tuple(target.shape):
            raise RuntimeError(
                f"{name}_: output with shape {tuple(target.shape)} doesn't match the broadcast "
                f"shape {tuple(result.shape)}"
            )
        with no_grad():
            apply_inplace("copy", target, result, include_target=False, dtype=target.dtype)
        target._version[0] -= 1  # the copy above counted; this op counts once below
        target.grad_fn = result.grad_fn
        target._output_nr = 0
        target.requires_grad = result.requires_grad
        if target.grad_fn is not None:
            target.grad_fn._retained = []
    target._version[0] += 1
    return target


# ---------------------------------------------------------------- the engine


def _toposort(roots: list) -> list:
    """Nodes reachable from roots, each before all nodes it feeds gradients into."""
    order, seen = [], set()
    for root in roots:
        if root is None or id(root) in seen:
            continue
        stack = [(root, iter(root.next_functions))]
        seen.add(id(root))
        while stack:
            node, it = stack[-1]
            for nxt, _ in it:
                if nxt is not None and id(nxt) not in seen:
                    seen.add(id(nxt))
                    stack.append((nxt, iter(nxt.next_functions)))
                    break
            else:
                stack.pop()
                order.append(node)
    order.reverse()
    return order


def _fit(grad, meta, node: Node):
    """Sum a gradient down to its input's shape (undoing broadcasting) and cast it back."""
    shape, dtype = meta
    if tuple(grad.shape) != tuple(shape):
        grad = F.sum_to(grad, shape)
    if grad.dtype is not dtype and dtype.is_floating:
        grad = F.to_dtype(grad, dtype)
    return grad


def run_backward(
    roots: Sequence,
    grad_roots: Sequence,
    retain_graph: bool,
    create_graph: bool,
    capture: Sequence = (),
    accumulate: bool = True,
) -> list:
    """Propagate ``grad_roots`` back from ``roots``.

    With ``accumulate`` the gradients of leaves go into ``.grad``; the gradients of the
    tensors in ``capture`` are returned in order (None where no gradient reaches them).
    """
    edges = [_edge(t) for t in roots]
    grads: dict = {}
    for (node, nr), g in zip(edges, grad_roots):
        if node is None:
            continue
        slot = grads.setdefault(id(node), [None] * node.n_outputs)
        slot[nr] = g if slot[nr] is None else F.add(slot[nr], g)
    capture_edges = [_edge(t) for t in capture]
    captured: dict = {}
    want = {(id(n), nr) for n, nr in capture_edges if n is not None}
    order = _toposort([n for n, _ in edges])
    prev = is_grad_enabled()
    _set_grad_enabled(create_graph)
    # Backward runs without autocast: the casts recorded in forward give each gradient the
    # dtype of its input already.
    autocasting.push(None)
    try:
        for node in order:
            node_grads = grads.pop(id(node), None)
            if node_grads is None:
                continue
            n_out = node.n_outputs
            if n_out == 1:
                if node_grads[0] is None:
                    continue
            elif all(g is None for g in node_grads):
                continue
            for hook in node._pre_hooks:
                r = hook(node_grads)
                if r is not None:
                    node_grads = list(r)
            if want:
                for i in range(n_out):
                    if (id(node), i) in want:
                        captured[(id(node), i)] = node_grads[i]
            for ref in node._retained:
                t = ref()
                if t is not None and node_grads[t._output_nr] is not None:
                    g = node_grads[t._output_nr]
                    t.grad = g if create_graph else g.detach()
            if type(node) is AccumulateGrad:
                if accumulate:
                    # The list is the gradient's only holder in this frame: _accumulate may
                    # then keep it rather than copy it (see _accumulate).
                    g = None
                    _accumulate(node.variable, node_grads, create_graph)
                continue
            if node._released:
                raise released_error(node)
            in_grads = node.apply(node_grads)
            node_grads = None
            if not isinstance(in_grads, (tuple, list)):
                in_grads = (in_grads,)
            if _ANOMALY[0]:
                _check_anomaly(node, in_grads)
            if len(in_grads) != len(node.next_functions):
                raise RuntimeError(
                    f"{node.name()}: backward returned {len(in_grads)} gradients, expected "
                    f"{len(node.next_functions)}"
                )
            if not retain_graph:
                node.release()
            for (nxt, nr), g, meta in zip(node.next_functions, in_grads, node._input_meta):
                if nxt is None or g is None:
                    continue
                if g._shape != meta[0] or g._dtype is not meta[1]:
                    g = _fit(g, meta, node)
                slot = grads.get(id(nxt))
                if slot is None:
                    slot = grads[id(nxt)] = [None] * nxt.n_outputs
                slot[nr] = g if slot[nr] is None else F.add(slot[nr], g)
            # Drop this frame's references, so that a leaf's gradient is held by its slot alone.
            in_grads = g = slot = None
    finally:
        autocasting.pop()
        _set_grad_enabled(prev)
    return [captured.get((id(n), nr)) if n is not None else None for n, nr in capture_edges]


def _accumulate(leaf, slot: list, create_graph: bool) -> None:
    """Add ``slot[0]``, a leaf's gradient, into ``leaf.grad``."""
    if leaf is None:
        return
    if capturing.ACTIVE is not None:
        capturing.note_grad(leaf)
    g = slot[0]
    hooks = leaf._hooks
    for hook in hooks:
        r = hook(g)
        if r is not None:
            g = r
    if create_graph:
        leaf.grad = g if leaf.grad is None else F.add(leaf.grad, g)
    elif leaf.grad is None:
        # Later accumulation writes into .grad in place, so a gradient that is also held
        # elsewhere (the root's ones, a user's tensor, a hook's, another input's: add's rule
        # passes one gradient to both inputs) is copied first. A fresh one nothing else
        # holds is kept as it is. References to g: g, and getrefcount's argument.
        slot[0] = None
        if not hooks and sys.getrefcount(g) <= 2 and g._device.backend.sole_holder(g._data):
            leaf.grad = g.detach()
        else:
            leaf.grad = g.detach().clone()
    else:
        leaf.grad.add_(g.detach())
    # Set only by register_post_accumulate_grad_hook: a dict lookup keeps the common case cheap.
    for hook in leaf.__dict__.get("_post_accumulate_hooks", ()):
        hook(leaf)


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
):
    """Gradients of ``outputs`` with respect to ``inputs``, without touching ``.grad``.

    >>> x = vkgrad.tensor([2.0], requires_grad=True)
    >>> (gx,) = vkgrad.autograd.grad((x * x).sum(), x)   # gx == [4.]
    """
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError("grad: one of the inputs does not require grad")
    for t in outputs:
        if not t.requires_grad:
            raise RuntimeError("grad: one of the outputs does not require grad and has no grad_fn")
    gouts = [_root_grad(o, g, "grad") for o, g in zip(outputs, grad_outputs)]
    if retain_graph is None:
        retain_graph = create_graph
    res = run_backward(outputs, gouts, retain_graph, create_graph, capture=inputs, accumulate=False)
    for g in res:
        if g is None and not allow_unused:
            raise RuntimeError(
                "grad: one of the inputs was not used in the graph; pass allow_unused=True"
            )
    return tuple(res)


def _root_grad(out, g, where: str):
    if g is None:
        if out.numel() != 1:
            raise RuntimeError(
                f"{where}: grad can be implicitly created only for scalar outputs, got an output "
                f"of shape {tuple(out.shape)}; pass a gradient of that shape"
            )
        return F.ones_like(out)
    if tuple(g.shape) != tuple(out.shape):
        raise RuntimeError(
            f"{where}: gradient of shape {tuple(g.shape)} does not match output shape "
            f"{tuple(out.shape)}"
        )
    return g


def backward(tensor, gradient=None, retain_graph=None, create_graph=False, inputs=None) -> None:
    if not tensor.requires_grad:
        raise RuntimeError(
            "backward: element 0 of tensors does not require grad and does not have a grad_fn"
        )
    g = _root_grad(tensor, gradient, "backward")
    if retain_graph is None:
        retain_graph = create_graph
    run_backward([tensor], [g], retain_graph, create_graph)


def zero_grads(params, set_to_none: bool = True) -> None:
    """Clear the gradients of ``params``: drop them, or zero them in place."""
    for p in params:
        if p.grad is None:
            continue
        if capturing.ACTIVE is not None:
            capturing.note_grad(p)
        if set_to_none:
            p.grad = None
        else:
            with no_grad():
                p.grad.zero_()


# ---------------------------------------------------------------- custom functions


class FunctionCtx:
    """The ``ctx`` of a custom Function."""

    def __init__(self) -> None:
        self._saved: list = []
        self.needs_input_grad: tuple = ()
        self._dirty: set = set()
        self._non_diff: set = set()
        self._node: Node | None = None

    def save_for_backward(self, *tensors) -> None:
        self._saved = [SavedTensor(t) if t is not None else None for t in tensors]

    @property
    def saved_tensors(self) -> tuple:
        node = self._node() if self._node is not None else None
        if node is not None and node._released:
            raise released_error(node)
        return tuple(s.unpack(node) if s is not None else None for s in self._saved)

    def mark_dirty(self, *tensors) -> None:
        self._dirty.update(id(t) for t in tensors)

    def mark_non_differentiable(self, *tensors) -> None:
        self._non_diff.update(id(t) for t in tensors)


class BackwardCFunction(Node):
    def __init__(self, fn_cls, ctx: FunctionCtx) -> None:
        super().__init__()
        self._cls = fn_cls
        self.ctx = ctx

    def name(self) -> str:
        return f"{self._cls.__name__}Backward"

    def release(self) -> None:
        self.ctx._saved = []
        self._released = True

    def apply(self, grads: list) -> Sequence:
        grads = [
            g if g is not None else F.zeros_like_meta(*self._out_meta[i])
            for i, g in enumerate(grads)
        ]
        res = self._cls.backward(self.ctx, *grads)
        if not isinstance(res, tuple):
            res = (res,)
        n = len(self.next_functions)
        if len(res) < n:
            raise RuntimeError(
                f"{self.name()}: backward returned {len(res)} gradients, expected {n}"
            )
        return res[:n]


class Function:
    """Extend autograd with a custom op.

    >>> class Square(vkgrad.autograd.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x * x
    ...     @staticmethod
    ...     def backward(ctx, g):
    ...         (x,) = ctx.saved_tensors
    ...         return 2 * x * g
    >>> y = Square.apply(vkgrad.tensor([3.0], requires_grad=True))
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx = FunctionCtx()
        ctx.needs_input_grad = needs = tuple(
            isinstance(a, Tensor) and a.requires_grad for a in args
        )
        prev = is_grad_enabled()
        _set_grad_enabled(False)  # no_grad, without a context manager object per call
        try:
            out = cls.forward(ctx, *args, **kwargs)
        finally:
            _set_grad_enabled(prev)
        if prev and True in needs:
            outs = out if isinstance(out, tuple) else (out,)
            node = BackwardCFunction(cls, ctx)
            # A weak link back (node -> ctx -> node would be a cycle: the graph, and the
            # buffers it saved, would live until the garbage collector runs).
            ctx._node = weakref.ref(node)
            node._out_meta = [(o.shape, o.dtype, o.device) for o in outs]
            # Dirty outputs were modified in place by forward, whose in-place ops already
            # counted the change in their version; they get this node as their history.
            record(node, args, outs)
            if ctx._non_diff:
                for o in outs:
                    if id(o) in ctx._non_diff:
                        o.requires_grad = False
                        o.grad_fn = None
            # Saved outputs keep the version they have after forward, and only their parts
            # (out -> node -> ctx -> out would be a cycle too).
            for k, s in enumerate(ctx._saved):
                if s is not None:
                    if any(s.tensor is o and o.grad_fn is node for o in outs):
                        ctx._saved[k] = s = SavedTensor(s.tensor, is_output=True)
                    s.expected = s.version[0]
        return out


# ---------------------------------------------------------------- gradcheck


GradcheckResult = namedtuple("GradcheckResult", "ok max_abs_err")


def gradcheck(
    fn: Callable,
    inputs,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """Compare autograd's gradients of ``fn`` with central finite differences.

    Inputs should be float64 tensors on the CPU for tight tolerances. Returns True, or raises
    (with ``raise_exception``) naming the input and the largest mismatch.
    """
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    diff_inputs = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    out = fn(*inputs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    for k, o in enumerate(outs):
        n_out = o.numel()
        for j in range(n_out):
            onehot = np.zeros(n_out)
            onehot[j] = 1.0
            go = tensor(onehot.reshape(o.shape), dtype=o.dtype, device=o.device)
            analytic = grad([o], diff_inputs, [go], retain_graph=True, allow_unused=True)
            for idx, (t, ga) in enumerate(zip(diff_inputs, analytic)):
                ga_np = np.zeros(t.shape) if ga is None else ga.numpy().astype(np.float64)
                num = _numeric_row(fn, inputs, t, k, j, eps)
                err = np.abs(ga_np - num)
                bad = err > atol + rtol * np.abs(num)
                if bad.any():
                    if raise_exception:
                        raise GradcheckError(
                            f"gradcheck: mismatch for input {idx} (shape {tuple(t.shape)}), output "
                            f"{k} element {j}: max abs error {err.max():.3g}\n"
                            f"analytic:\n{ga_np}\nnumerical:\n{num}"
                        )
                    return False
    return True


class GradcheckError(RuntimeError):
    pass


def _numeric_row(fn, inputs, t, k, j, eps):
    """d out[k].flat[j] / d t, by central differences on t's values."""
    base = t.numpy().astype(np.float64)
    num = np.zeros(base.shape)
    flat = num.reshape(-1)
    for i in range(base.size):
        vals = []
        for sign in (1, -1):
            pert = base.copy().reshape(-1)
            pert[i] += sign * eps
            with no_grad():
                t._set_values(pert.reshape(base.shape))
                out = fn(*inputs)
            outs = out if isinstance(out, (tuple, list)) else (out,)
            vals.append(outs[k].numpy().astype(np.float64).reshape(-1)[j])
        flat[i] = (vals[0] - vals[1]) / (2 * eps)
    with no_grad():
        t._set_values(base)
    return num


# The engine builds Tensors and sums gradients with ops, and both of those modules import
# this one: they are bound here, once everything above exists.
from . import functional as F  # noqa: E402
from .tensor import Tensor, tensor  # noqa: E402
