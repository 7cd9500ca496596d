"""Batches dispatches into one kp.Sequence, submitted when the host needs data.

Ordering (KOMPUTE_NOTES trap 1): stock kp 0.9.0 puts no compute->compute barrier between
dispatches. Our patched build (``kp.vkgrad_barriers``) binds ``kp.OpVkgradBarrier``, a global
compute|transfer -> compute|transfer memory barrier, and the recorder puts one only where an op
depends on an earlier op of the batch ("barriers" mode): before an op that reads or overwrites a
buffer written since the last barrier (RAW, WAW), or overwrites one read since then (WAR).
Uploads write their buffer, downloads read theirs. A barrier orders everything before it
against everything after it, so the tracked sets start empty again after one.

On a stock kp, or with ``VKGRAD_BARRIER_MODE=levels``, the same test submits the batch instead
("levels"). The first patched build (``vkgrad_barriers == 1``, no ``OpVkgradBarrier``) recorded a
barrier before every dispatch itself; it still works, in barriers mode, without tracking.

``VKGRAD_UNSAFE_NO_BARRIERS=1`` (or ``Recorder.unsafe_no_barriers``) drops the barriers while
still tracking and counting them: it plants the hazards that tests/test_sync_validation.py
requires the synchronization validation layer to report. Never use it otherwise.
"""

from __future__ import annotations

import os

from ... import profiler

BATCH_LIMIT = 256  # dispatches per submit: bounds latency and the storages kept alive


def barrier_mode(kp) -> str:
    env = os.environ.get("VKGRAD_BARRIER_MODE", "").strip().lower()
    if env in ("levels", "barriers"):
        if env == "barriers" and not getattr(kp, "vkgrad_barriers", 0):
            raise RuntimeError(
                "VKGRAD_BARRIER_MODE=barriers needs the patched kp build (vkgrad-setup-vulkan); "
                "this kp has no compute->compute barriers"
            )
        return env
    return "barriers" if getattr(kp, "vkgrad_barriers", 0) else "levels"


class Recorder:
    def __init__(self, kp, mgr, mode: str | None = None) -> None:
        self.kp = kp
        self.mgr = mgr
        self.mode = mode or barrier_mode(kp)
        # Dependency barriers recorded here (the current patched build), or none to record:
        # levels mode submits instead; the first patched build ordered every dispatch itself.
        self.explicit = self.mode == "barriers" and hasattr(kp, "OpVkgradBarrier")
        self.tracking = self.explicit or self.mode == "levels"
        self.unsafe_no_barriers = os.environ.get("VKGRAD_UNSAFE_NO_BARRIERS", "") == "1"
        self.seq = None
        self.ndispatch = 0  # in the pending batch
        self.held: list = []  # storages (and buffers) the pending batch uses
        self.written: set[int] = set()  # buffer uids written since the last barrier / submit
        self.read: set[int] = set()  # buffer uids read since then
        self.submits = 0
        self.dispatches = 0
        self.barriers = 0
        # Set to a list to keep every submitted sequence (capture / replay: a kp.Sequence
        # can be eval()ed again; nothing recorded depends on the moment of recording).
        self.captured: list | None = None
        self.kept: list = []  # while capturing: storages the captured sequences use
        self.labels: list | None = None  # while profiling: the pending sequence's op names

    def _seq(self, label: str):
        if self.labels is not None and len(self.labels) == profiler.TIMED_OPS:
            self.flush()  # its timestamp queries are used up
        if self.seq is None:
            if profiler.ACTIVE is None:
                self.seq = self.mgr.sequence()
            else:
                self.seq, self.labels = profiler.ACTIVE.timed_sequence(self.mgr)
        if self.labels is not None:
            self.labels.append(label)
        return self.seq

    def _order(self, reads: set, writes: set) -> None:
        """Order an op reading ``reads`` and writing ``writes`` after the batch's earlier ops
        it depends on: a barrier (barriers mode) or a submit (levels mode)."""
        if (reads | writes) & self.written or writes & self.read:
            if self.mode == "levels":
                self.flush()
            else:
                self._barrier()

    def _barrier(self) -> None:
        if not self.unsafe_no_barriers:
            self._seq("barrier").record(self.kp.OpVkgradBarrier())
        self.barriers += 1
        self.written.clear()
        self.read.clear()

    def dispatch(
        self, algo, push, reads: list, writes: list, hold: list, label: str = "dispatch"
    ) -> None:
        """Record one dispatch; reads/writes are Buffers, hold what must outlive it, label
        names it in a profile."""
        if self.tracking:
            r = {b.uid for b in reads}
            w = {b.uid for b in writes}
            if self.seq is not None:
                self._order(r, w)
        self._seq(label).record(self.kp.OpAlgoDispatch(algo, push))
        self.ndispatch += 1
        self.dispatches += 1
        self.held.extend(hold)
        if self.tracking:
            self.read |= r
            self.written |= w
        if self.ndispatch >= BATCH_LIMIT:
            self.flush()

    def upload(self, buf, hold: list) -> None:
        """Copy the buffer's staging memory to the device, in order with the batch.

        Barriers mode: the upload writes its buffer, so it waits (a barrier) for earlier ops
        of the batch that read or write it, and later readers wait for it. Levels mode: kp's
        own transfer->shader barrier orders it before later dispatches (stock kp too); only an
        upload into a buffer the batch still uses needs a submit first."""
        if self.seq is not None and self.tracking:
            self._order(set(), {buf.uid})
        self._seq("upload").record(self.kp.OpTensorSyncDevice([buf.tensor]))
        if self.explicit:
            self.written.add(buf.uid)
        self.held.extend(hold)

    def read_back(self) -> None:
        """Submit the batch and wait, so that the host may read the host-visible buffers its
        dispatches wrote (after a barrier that makes those writes visible to the host)."""
        if self.seq is not None and self.explicit and not self.unsafe_no_barriers:
            self._seq("barrier").record(self.kp.OpVkgradBarrier())  # not counted: no device op
        self.flush()

    def flush(self) -> None:
        if self.seq is None:
            return
        seq, self.seq = self.seq, None
        labels, self.labels = self.labels, None
        seq.eval()
        self.submits += 1
        if self.captured is not None:
            self.captured.append(seq)
            self.kept.extend(self.held)
        self.ndispatch = 0
        self.written.clear()
        self.read.clear()
        # After the bookkeeping: dropping these may return buffers to the pool (their work
        # is done now).
        self.held.clear()
        if labels is not None and profiler.ACTIVE is not None:
            profiler.ACTIVE.sequence_done(self.mgr, seq, labels)
