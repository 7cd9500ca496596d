"""The NumPy backend's recording of a captured step: a flat list of kernel calls.

While recording, every array an op makes gets a slot number; inputs are slots too, and every
other array (parameters, optimizer state, constants) is referenced as it is. A replay calls
the same kernels with the slots' arrays of this replay, so the only Python left per op is
the backend's own ``run``. Kernels called directly get their row's index bounds checked
first, as ``run`` checks them: a bad index in a new batch raises the row's IndexError on
replay, before the step has changed anything. Afterwards the tensors that outlived the
recording (the returned loss, ``p.grad``) are pointed at their slots' new arrays.
"""

from __future__ import annotations

import time
import weakref

import numpy as np

from .. import profiler
from ..capturing import refuse_read
from ..validate import check_index_values
from .numpy_backend import finish, kernel_call

# Step kinds. _KERNEL: a kernel whose result needed no conversion at capture (no f16 input,
# no out=, a fresh array of the right dtype), so a replay calls it directly. _ALIAS: a copy
# whose source is dead afterwards, replaced by the source itself.
_RUN, _KERNEL, _RESHAPE, _HOST, _ALIAS = 0, 1, 2, 3, 4


class NumpyProgram:
    def __init__(self, backend, inputs: list) -> None:
        self.be = backend
        self.slot: dict = {}  # id(array) -> slot, for arrays made while recording
        self.keep: list = []  # those arrays, alive so that their ids stay unique
        self.steps: list = []
        self.host: dict = {}  # slot -> host copy, for arrays made from host data
        self.binds: list = []  # (weakref to a tensor, slot)
        self.n_inputs = len(inputs)
        for a in inputs:
            self._new(a)
        backend.run, backend.reshape = self._run, self._reshape
        backend.from_numpy, backend.to_numpy = self._from_numpy, refuse_read("to_numpy")

    def _new(self, array) -> int:
        k = self.slot[id(array)] = len(self.keep)
        self.keep.append(array)
        return k

    def _ref(self, x) -> tuple:
        k = self.slot.get(id(x)) if isinstance(x, np.ndarray) else None
        return (k, None) if k is not None else (None, x)

    def _run(self, op, inputs, attrs, shape, dtype, out=None):
        refs = tuple(self._ref(x) for x in inputs)
        if op.kind == "update":
            type(self.be).run(self.be, op, inputs, attrs, shape, dtype)
            self.steps.append((_RUN, op, refs, dict(attrs), shape, dtype, None, None))
            return None
        if op.bounds is not None:
            check_index_values(op, inputs, attrs)
        fn, args, kw = kernel_call(op, inputs, attrs, dtype)
        raw = fn(*args, **kw)
        res = finish(raw, inputs, shape, dtype, out)
        direct = all(a is x for a, x in zip(args, inputs) if isinstance(x, np.ndarray))
        if out is None and res is raw and direct:
            # Constants as the kernel took them (Python floats already made f32).
            refs = tuple((k, a) if k is None else (k, None) for (k, _), a in zip(refs, args))
            self.steps.append((_KERNEL, fn, refs, kw, self._new(res), op))
            return res
        oref = None if out is None else self._ref(out)
        made = None if out is not None else self._new(res)
        self.steps.append((_RUN, op, refs, dict(attrs), shape, dtype, oref, made))
        return res

    def _reshape(self, array, shape):
        res = type(self.be).reshape(self.be, array, shape)
        k = self.slot.get(id(array))
        if k is not None:  # a view of a recorded array: made again on each replay
            self.steps.append((_RESHAPE, k, tuple(shape), self._new(res)))
        return res

    def _from_numpy(self, data, dtype):
        res = type(self.be).from_numpy(self.be, data, dtype)
        k = self._new(res)
        # Copied again on each replay: ops later in the step may write into the array.
        self.host[k] = res.copy()
        self.steps.append((_HOST, k))
        return res

    def stop(self) -> None:
        for name in ("run", "reshape", "from_numpy", "to_numpy"):
            self.be.__dict__.pop(name, None)

    def bind(self, tensors: list) -> None:
        for t in tensors:
            k = self.slot.get(id(t._data))
            if k is not None and k >= self.n_inputs:
                self.binds.append((weakref.ref(t), k))
        self.prefill = [None] * len(self.keep)
        self._optimize()
        # Arrays made from host data are looked up again (write), folded constants are
        # reused; the rest may go.
        self.slot = {i: k for i, k in self.slot.items() if k in self.host}
        self.keep = [a if k in self.host else None for k, a in enumerate(self.keep)]

    def _optimize(self) -> None:
        """Fold constants and drop dead copies.

        Slots that share memory (a reshape views its source) form one group. A step whose
        inputs are only Python scalars and folded arrays makes the same values every time:
        unless its group is written in place later or outlives the step, the array made at
        capture is reused (the ones and zeros that backward rules build, and what follows
        from them alone). A ``copy`` whose source group is never used again
        (typically a gradient cloned into ``.grad``) hands over the source instead.
        """
        group: dict = {}

        def find(k):
            return group.get(k, k)

        uses: dict = {}  # group -> index of its last use
        written, bound = set(), {find(k) for _, k in self.binds}
        for i, st in enumerate(self.steps):
            if st[0] == _RESHAPE:
                group[st[3]] = find(st[1])
                slots = (st[1], st[3])
            elif st[0] == _HOST:
                slots = (st[1],)
            else:
                refs, made = st[2], st[4] if st[0] == _KERNEL else st[7]
                slots = [k for k, _ in refs if k is not None] + [made]
                if st[0] == _RUN:
                    oref = st[6]
                    if oref is not None and oref[0] is not None:
                        written.add(find(oref[0]))
                        slots.append(oref[0])
                    if st[1].kind == "update":
                        written.update(find(k) for k, _ in refs if k is not None)
            for k in slots:
                if k is not None:
                    uses[find(k)] = i

        def constant(ref) -> bool:
            # Arrays from outside the step (parameters, optimizer state) change between
            # replays; only Python scalars and arrays folded already are constants.
            k, v = ref
            return self.prefill[k] is not None if k is not None else not isinstance(v, np.ndarray)

        steps = []
        for i, st in enumerate(self.steps):
            if st[0] == _KERNEL or (st[0] == _RUN and st[6] is None and st[7] is not None):
                made = st[4] if st[0] == _KERNEL else st[7]
                if all(map(constant, st[2])) and find(made) not in written | bound:
                    self.prefill[made] = self.keep[made]
                    continue
            if st[0] == _RESHAPE and self.prefill[st[1]] is not None:
                self.prefill[st[3]] = self.keep[st[3]]
                continue
            if st[0] == _KERNEL and st[5].name == "copy":
                (src, _), made = st[2][0], st[4]
                same = src is not None and self.keep[src].dtype == self.keep[made].dtype
                if same and uses[find(src)] == i and find(src) not in bound:
                    steps.append((_ALIAS, src, made))
                    continue
            steps.append(st)
        self.steps = steps

    def write(self, array, values) -> None:
        """Set the host copy behind ``array`` (made from host data while recording)."""
        self.host[self.slot[id(array)]][...] = values

    def replay(self, inputs: list, versions: list) -> None:
        s = list(self.prefill)
        s[: self.n_inputs] = inputs
        be, run, host = self.be, type(self.be).run, self.host
        prof = profiler.ACTIVE  # kernels called here are timed as run() times them
        for step in self.steps:
            kind = step[0]
            if kind == _KERNEL:
                _, fn, refs, kw, made, op = step
                args = [v if k is None else s[k] for k, v in refs]
                t0 = 0 if prof is None else time.perf_counter_ns()
                if op.bounds is not None:
                    check_index_values(op, args, kw)
                s[made] = fn(*args, **kw)
                if prof is not None:
                    prof.cpu_kernel(op.name, t0, time.perf_counter_ns())
            elif kind == _RUN:
                _, op, refs, attrs, shape, dtype, oref, made = step
                args = [v if k is None else s[k] for k, v in refs]
                out = None if oref is None else oref[1] if oref[0] is None else s[oref[0]]
                res = run(be, op, args, attrs, shape, dtype, out)
                if made is not None:
                    s[made] = res
            elif kind == _RESHAPE:
                s[step[3]] = s[step[1]].reshape(step[2])
            elif kind == _ALIAS:
                s[step[2]] = s[step[1]]
            else:
                s[step[1]] = host[step[1]].copy()
        for ref, k in self.binds:
            t = ref()
            if t is not None:
                t._data = s[k]
