"""Record a training step once, then replay its kernels: ``step = vkgrad.capture(fn)``.

An eager step pays Python for every op: building tensors, inferring shapes, recording the
graph, walking it backwards. None of that changes from one step to the next. ``capture``
runs ``fn`` eagerly once (warm-up: optimizer state, shader compiles), records the second
call's kernels, and from the third call on replays them:

- on the cpu, as a flat list of NumPy kernel calls (no autograd, no tensor objects);
- on Vulkan, by submitting the recorded ``kp.Sequence`` objects again (buffers stay where
  they were at capture, so nothing is recorded or bound twice).

What a replay repeats: every kernel ``fn`` ran (forward, backward, in-place updates of
parameters, optimizer state and running statistics), and the host side of every
``Optimizer.step()`` and ``LRScheduler.step()`` called in ``fn``: step counts, bias
corrections and learning rates reach the kernels through small arrays that a replay
rewrites. Nothing else in ``fn`` runs again: Python code, prints, host-side counters.

What a replay returns: the same objects as the capture call did. Their values are the new
step's (like CUDA graphs' static outputs): clone a tensor to keep it past the next call.
``p.grad`` of every parameter likewise holds the latest step's gradient.

Random draws (dropout, ``rand``, ``randn``, ``bernoulli``, ``normal_``, ...) read their
generator's state on the device and advance it there (``vkgrad/random.py``): each replay
draws fresh numbers, the ones the same sequence of eager calls would draw.

Refused inside a captured function, with an error naming the reason: reading values on the
host (``.item()``, ``.numpy()``, printing a tensor; a replay could not repeat the read),
random draws finished on the host (``randperm``, ``multinomial``) and seeding the global
generators, tensor arguments that require grad, and optimizer/scheduler steps given
arguments. A call whose tensor shapes, dtypes or other arguments differ from every capture
so far is captured anew.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import traceback
import weakref
from typing import Any, Callable

from . import autograd, random
from .device import Device, default_device

_log = logging.getLogger("vkgrad")
_PKG = os.path.dirname(os.path.abspath(__file__))  # frames inside vkgrad are not the read's place
ACTIVE: _Graph | None = None  # the graph being recorded, or refreshed before a replay
_NOTED: list | None = None  # a non-strict warm-up's notes of what a replay could not repeat


class capture:
    """Wrap a training step: the first call runs eagerly, the second is recorded, and every
    later call with the same argument shapes replays the recording.

    With ``strict=False`` a step that capture would refuse runs eagerly instead, for good,
    and the reason is logged once: the warm-up call notes host reads (``.item()``, printing,
    data-dependent shapes) instead of refusing them, and arguments capture cannot key on
    (a tensor that requires grad, an unhashable value) make the call eager. This is how the
    examples capture their steps by default (``@vkgrad.capture(strict=False)``).

    >>> @vkgrad.capture
    ... def train_step(x, y):
    ...     opt.zero_grad()
    ...     loss = F.cross_entropy(model(x), y)
    ...     loss.backward()
    ...     opt.step()
    ...     return loss
    """

    def __new__(cls, fn: Callable | None = None, strict: bool = True):
        if fn is None:  # @vkgrad.capture(strict=False)
            return functools.partial(cls, strict=strict)
        return super().__new__(cls)

    def __init__(self, fn: Callable, strict: bool = True) -> None:
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.strict = bool(strict)
        self.graphs: dict = {}
        self.replays = 0
        self._warm = False
        self.eager_reason: str | None = None  # why a non-strict step runs eagerly
        self._devices: set = set()  # where the warm-up call made tensors, without tensor args

    def __call__(self, *args, **kwargs) -> Any:
        if self.eager_reason is not None:
            return self.fn(*args, **kwargs)
        try:
            key, tensors, device = _signature(self.fn, args, kwargs)
        except CaptureError as e:
            if self.strict:
                raise
            self._go_eager(str(e))
            return self.fn(*args, **kwargs)
        graph = self.graphs.get(key)
        if graph is not None:
            graph.replay(tensors)
            self.replays += 1
            return graph.result
        if not self._warm:
            self._warm = True
            # No tensor argument says where the step runs, and the default device may be
            # another one (the cpu beside a model on Vulkan): the warm-up call shows it.
            reads: list = []
            with contextlib.ExitStack() as stack:
                if not self.strict:
                    stack.enter_context(_noting_reads(reads))
                result, self._devices = _devices_used(self.fn, args, kwargs)
            if reads:
                self._go_eager(reads[0])
            return result
        if not tensors and self._devices:
            if len(self._devices) > 1:
                shown = ", ".join(sorted(str(d) for d in self._devices))
                raise CaptureError(
                    f"capture({getattr(self.fn, '__qualname__', self.fn)}): the step made "
                    f"tensors on {shown}; a captured function runs on one device"
                )
            (device,) = self._devices
        graph = _Graph(self.fn, args, kwargs, tensors, device)
        self.graphs[key] = graph
        return graph.result

    def _go_eager(self, reason: str) -> None:
        self.eager_reason = reason
        name = getattr(self.fn, "__qualname__", self.fn)
        _log.warning("vkgrad: capture(%s) runs eagerly: %s", name, reason)

    def __repr__(self) -> str:
        return f"vkgrad.capture({getattr(self.fn, '__qualname__', self.fn)!r})"


class CaptureError(RuntimeError):
    """Something in a captured function that a replay could not repeat."""


def _signature(fn, args: tuple, kwargs: dict) -> tuple:
    """(key, tensors, device) of a call: the key holds each argument's shape and dtype, or its
    value, and the structure of the tuples, lists and dicts around them (a DataLoader's
    ``[x, y]`` batch); ``tensors`` lists the tensor arguments in the order the key meets them."""
    name = getattr(fn, "__qualname__", "function")
    key, tensors, devices = [], [], []

    def walk(where, a) -> None:
        if isinstance(a, autograd.Tensor):
            if a.requires_grad:
                raise CaptureError(
                    f"capture({name}): tensor argument {where!r} requires grad; pass "
                    "parameters through the model (closure), not as arguments"
                )
            if devices and a.device != devices[0]:
                raise CaptureError(
                    f"capture({name}): tensor arguments on {devices[0]} and {a.device}; a "
                    "captured function runs on one device"
                )
            devices.append(a.device)
            key.append((where, "tensor", tuple(a.shape), a.dtype.name))
            tensors.append(a)
        elif isinstance(a, (tuple, list)) and _holds_tensors(a):
            key.append((where, type(a), len(a)))
            for i, x in enumerate(a):
                walk((*where, i) if isinstance(where, tuple) else (where, i), x)
        elif type(a) is dict and _holds_tensors(a.values()):
            key.append((where, dict, tuple(a)))
            for k, x in a.items():
                walk((*where, k) if isinstance(where, tuple) else (where, k), x)
        else:
            try:
                hash(a)
            except TypeError:
                raise CaptureError(
                    f"capture({name}): argument {where!r} of type {type(a).__name__} is neither "
                    "a tensor nor hashable; it would be baked into the recording"
                ) from None
            key.append((where, "value", a))

    for where, a in [(i, a) for i, a in enumerate(args)] + sorted(kwargs.items()):
        walk(where, a)
    device = devices[0] if devices else Device.parse(default_device())
    return (str(device), tuple(key)), tensors, device


def _holds_tensors(items) -> bool:
    """Whether a container holds a tensor, at any depth."""
    for x in items:
        if isinstance(x, autograd.Tensor):
            return True
        if isinstance(x, (tuple, list)) and _holds_tensors(x):
            return True
        if type(x) is dict and _holds_tensors(x.values()):
            return True
    return False


def _replaced(a, private: dict):
    """``a`` with each tensor that ``private`` names (by id) swapped for its private copy, the
    tuples, lists and dicts around them rebuilt (a named tuple as its own type)."""
    if isinstance(a, autograd.Tensor):
        return private.get(id(a), a)
    if isinstance(a, (tuple, list)) and _holds_tensors(a):
        items = [_replaced(x, private) for x in a]
        if isinstance(a, list):
            return type(a)(items)
        return type(a)._make(items) if hasattr(type(a), "_fields") else type(a)(items)
    if type(a) is dict and _holds_tensors(a.values()):
        return {k: _replaced(x, private) for k, x in a.items()}
    return a


@contextlib.contextmanager
def _on_new_tensors(note: Callable):
    """Calls ``note(t)`` for every tensor made inside the block (every tensor comes from
    ``Tensor._make``, wrapped for the block's duration)."""
    make = autograd.Tensor.__dict__["_make"]

    def tracked_make(cls, *a):
        t = make.__func__(cls, *a)
        note(t)
        return t

    autograd.Tensor._make = classmethod(tracked_make)
    try:
        yield
    finally:
        autograd.Tensor._make = make


@contextlib.contextmanager
def _noting_reads(reads: list):
    """Within the block, every backend's ``to_numpy`` and every refusal of the random module
    note what a recording would refuse, and where, instead of refusing."""
    from .backends.base import Backend

    def classes(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from classes(sub)

    patched = [(c, c.__dict__["to_numpy"]) for c in classes(Backend) if "to_numpy" in c.__dict__]

    def where() -> str:
        frames = [f for f in traceback.extract_stack()[:-2] if not f.filename.startswith(_PKG)]
        return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "inside vkgrad"

    def noting(read):
        def to_numpy(self, *a, **k):
            reads.append(
                f"it reads tensor values on the host (at {where()}); a replay could not repeat "
                "the read"
            )
            return read(self, *a, **k)

        return to_numpy

    class Refusals(list):
        """The random module's refusals (draws that finish on the host, seeding)."""

        def append(self, what: str) -> None:
            reads.append(f"{what} (at {where()}); a replay could not repeat it")

    global _NOTED
    for c, read in patched:
        c.to_numpy = noting(read)
    random.probing = Refusals()
    _NOTED = reads
    try:
        yield
    finally:
        random.probing = None
        _NOTED = None
        for c, read in patched:
            c.to_numpy = read


def _devices_used(fn, args, kwargs) -> tuple:
    """Run ``fn`` eagerly and return (its result, the devices of every tensor it made)."""
    seen: set = set()
    with _on_new_tensors(lambda t: seen.add(t._device)):
        result = fn(*args, **kwargs)
    return result, seen


class _Graph:
    """One recorded call: the backend's program plus the host calls and update arrays."""

    def __init__(self, fn, args, kwargs, tensors: list, device) -> None:
        self.backend = device.backend
        self.updates: list = []  # (row name, attrs array) of each optimizer update, in order
        # (unwrapped step, self, [(param, its .grad at the call)]) of each optimizer or
        # scheduler step: which parameters have a gradient decides which updates a step makes.
        self.host_calls: list = []
        self.grads: dict = {}  # id(leaf) -> leaf whose .grad the step set (or cleared)
        self.host_pass = False
        self.in_host_call = False
        self._next_update = 0
        # The function sees private copies of its tensor arguments: the recording reads
        # from (and on Vulkan, replays copy into) storage that no caller holds.
        private = {id(t): t.detach().clone() for t in tensors}
        args = [_replaced(a, private) for a in args]
        kwargs = {k: _replaced(v, private) for k, v in kwargs.items()}
        inputs = [private[id(t)]._data for t in tensors]
        created: list = []
        global ACTIVE
        random.begin_recording(device)  # before the program: the generator's state is outside
        try:
            self.program = self.backend.capture_program(inputs)
        except BaseException:
            random.end_recording()
            raise
        ACTIVE = self
        try:
            with _on_new_tensors(lambda t: created.append(weakref.ref(t))):
                self.result = fn(*args, **kwargs)
        finally:
            ACTIVE = None
            random.end_recording()
            self.program.stop()
        self.program.bind([t for t in (r() for r in created) if t is not None])
        # Another recording (another batch shape) may have set other .grad tensors since:
        # each replay puts back the ones this step leaves.
        self.final_grads = [(weakref.ref(t), t.grad) for t in self.grads.values()]
        self.grads = {}

    def replay(self, tensors: list) -> None:
        global ACTIVE
        ACTIVE, self.host_pass, self._next_update = self, True, 0
        try:
            for step, owner, grads in self.host_calls:
                # The grads as they were at the recorded call (a zero_grad after the step, as
                # the ag API writes it, would leave them None by now); then as they are.
                now = [(p, p.grad) for p, _ in grads]
                for p, g in grads:
                    p.grad = g
                try:
                    step(owner)
                finally:
                    for p, g in now:
                        p.grad = g
        finally:
            ACTIVE, self.host_pass = None, False
        if self._next_update != len(self.updates):
            raise CaptureError(
                f"capture: the optimizers made {self._next_update} updates on this replay's "
                f"host pass, {len(self.updates)} at capture; capture the step again"
            )
        self.program.replay([t._data for t in tensors], [t._version[0] for t in tensors])
        for ref, g in self.final_grads:
            leaf = ref()
            if leaf is not None:
                leaf.grad = g

    def refresh(self, name: str, values) -> None:
        k = self._next_update
        if k >= len(self.updates) or self.updates[k][0] != name:
            had = self.updates[k][0] if k < len(self.updates) else "nothing"
            raise CaptureError(
                f"capture: update {k} of this replay is {name}, but the recording has {had} "
                "there; capture the step again"
            )
        self.program.write(self.updates[k][1], values)
        self._next_update = k + 1


# ---------------------------------------------------------------- hooks for the rest of vkgrad


def note_update(name: str, attrs_array) -> None:
    """functional.update made ``attrs_array`` for row ``name``: remember it for replays."""
    if ACTIVE is not None:
        ACTIVE.updates.append((name, attrs_array))


def note_grad(leaf) -> None:
    """The engine (or zero_grad) is about to set ``leaf.grad``."""
    if not ACTIVE.host_pass:
        ACTIVE.grads[id(leaf)] = leaf


def refresh_update(name: str, attrs: dict, order: tuple) -> bool:
    """On a replay's host pass: write the update's new ``attrs`` (in row ``order``) into the
    recorded array, and tell functional.update to dispatch nothing (True)."""
    if ACTIVE is None or not ACTIVE.host_pass:
        return False
    ACTIVE.refresh(name, [float(attrs[a]) for a in order])
    return True


def replayed_on_host(step: Callable) -> Callable:
    """Decorate an optimizer's or scheduler's ``step``: called inside a capture, it is noted,
    and every replay calls it again (its kernels replaced by the recording's)."""
    if getattr(step, "_replayed_on_host", False):
        return step

    @functools.wraps(step)
    def noted(self, *args, **kwargs):
        cap = ACTIVE
        if cap is None or cap.host_pass or cap.in_host_call:
            return step(self, *args, **kwargs)
        if any(a is not None for a in (*args, *kwargs.values())):
            raise CaptureError(
                f"capture: {type(self).__name__}.step() was given arguments (a closure, an "
                "epoch or a metric); a replay cannot repeat them. Call it outside the "
                "captured function"
            )
        grads = [(p, p.grad) for g in getattr(self, "param_groups", ()) for p in g["params"]]
        cap.host_calls.append((step, self, grads))
        cap.in_host_call = True  # a subclass's step calling super().step() is one call
        try:
            return step(self, *args, **kwargs)
        finally:
            cap.in_host_call = False

    noted._replayed_on_host = True
    return noted


def note_host_step(what: str, why: str) -> None:
    """Host work that a replay could not repeat is about to run in ``what`` (an MPI
    collective, which also reads tensor values): inside a recording raise a CaptureError
    saying ``what`` and ``why``; in a non-strict capture's warm-up note the same, so that
    the step runs eagerly with it as the reason."""
    if ACTIVE is not None and not ACTIVE.host_pass:
        raise CaptureError(f"capture: {what} {why}")
    if _NOTED is not None:
        _NOTED.append(f"{what} {why}")


def refuse_read(op: str):
    """A backend's ``to_numpy`` while recording: reading values cannot be replayed."""

    def refused(*_a, **_k):
        raise CaptureError(
            f"capture: {op} reads tensor values on the host (.item(), .numpy(), print, or an "
            "op whose output size depends on values) inside a captured function; a replay "
            "could not repeat it. Return the tensor and read it after the call"
        )

    return refused
