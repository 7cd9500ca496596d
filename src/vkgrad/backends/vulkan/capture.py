"""The Vulkan backend's recording of a captured step: the kp sequences it submitted.

Recording submits as usual (so the capture call computes its results) but keeps every
sequence, and every storage those sequences touch, so no buffer is handed out again. A
kp.Sequence can be evaluated again; nothing in it depends on the moment of recording, so a
replay is: copy new inputs into the recorded input buffers, then ``eval()`` each sequence.
Uploads recorded in the sequences (constants, optimizer attrs) are repeated from their
staging memory, which is where ``write`` puts a replay's new optimizer attrs.
"""

from __future__ import annotations

import time

import numpy as np

from ... import profiler
from ...capturing import refuse_read
from ...validate import check_known_range
from .kinds.gather import gather_call


class VulkanProgram:
    def __init__(self, backend, inputs: list) -> None:
        self.be = backend
        self.inputs = inputs
        self.last: list = [None] * len(inputs)
        rec = backend.recorder
        rec.flush()  # earlier work is not part of the step
        self.seqs: list = []
        rec.captured, rec.kept = self.seqs, []
        backend.to_numpy = refuse_read("to_numpy")
        backend.bounds_checked = []
        self.checks: list = []

    def stop(self) -> None:
        rec = self.be.recorder
        try:
            rec.flush()
        finally:
            self.storages = rec.kept + [x.storage for x in self.inputs]
            rec.captured, rec.kept = None, []
            self.be.__dict__.pop("to_numpy", None)
            # Index bounds checked on an input's own storage are checked again on the new
            # inputs of each replay (the replay runs no row, so nothing else would).
            position = {id(x.storage): i for i, x in enumerate(self.inputs)}
            for storage, *rule in self.be.bounds_checked:
                if id(storage) in position:
                    self.checks.append((position[id(storage)], *rule))
            self.be.bounds_checked = None

    def bind(self, tensors: list) -> None:
        pass  # outputs live in recorded buffers: the same arrays hold each replay's values

    def write(self, array, values) -> None:
        words = np.asarray(values, dtype=np.float32).view(np.uint32)
        # Into the staging array its recorded upload reads: the replay copies it in.
        array.storage.staging.buf.tensor.data()[: words.size] = words

    def replay(self, inputs: list, versions: list) -> None:
        be = self.be
        for i, *rule in self.checks:
            check_known_range(inputs[i].storage.host_range, *rule)
        # Copying the inputs in costs a submit of its own; skip arrays copied last time and
        # not written since (a loop over one fixed batch replays with a single submit).
        seen = [(id(a), v) for a, v in zip(inputs, versions)]
        for static, new, key, last in zip(self.inputs, inputs, seen, self.last):
            if key != last:
                # A capture is replayed with inputs of its shapes and dtypes: a flat copy of
                # the words (the gather shader without an index).
                static.storage.host_range = None  # overwritten on the device: no longer known
                flat = (static.size,)
                gather_call(be, be.reshape(new, flat), None, be.reshape(static, flat), 0, 0)
        self.last = seen
        self.held = inputs  # ids in self.last stay unique while these live
        be.recorder.flush()
        prof = profiler.ACTIVE
        t0 = time.perf_counter_ns()
        for seq in self.seqs:
            seq.eval()
        if prof is not None:
            # Not timed per kernel: the sequences were recorded without their ops' names
            # (and, unless captured while profiling, without timestamps). The host's wall
            # time around the submits is the replay's.
            prof.host_span("capture_replay", f"vulkan:{be.index}", t0, time.perf_counter_ns())
        be.recorder.submits += len(self.seqs)
