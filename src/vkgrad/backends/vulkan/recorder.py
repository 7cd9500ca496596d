"""Batches dispatches into one kp.Sequence, submitted when the host needs data.

Ordering (KOMPUTE_NOTES trap 1): stock kp 0.9.0 puts no compute->compute barrier between
dispatches. Our patched build (``kp.vkgrad_barriers``) records a global barrier before every
dispatch and upload, so a whole batch is one correct sequence ("barriers" mode). On a stock kp,
or with ``VKGRAD_BARRIER_MODE=levels``, a dispatch that touches a buffer written in the
pending batch (RAW/WAW), or writes one read in it (WAR), first submits the batch ("levels").
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
                "VKGRAD_BARRIER_MODE=barriers needs the patched kp build (scripts/patch_kp.py); "
                "this kp has no compute->compute barriers"
            )
        return env
    return "barriers" if getattr(kp, "vkgrad_barriers", 0) else "levels"


class Recorder:
    def __init__(self, kp, mgr, mode: str | None = None) -> None:
        self.kp = kp
        self.mgr = mgr
        self.mode = mode or barrier_mode(kp)
        self.seq = None
        self.ndispatch = 0  # in the pending batch
        self.held: list = []  # storages (and buffers) the pending batch uses
        self.written: set[int] = set()  # buffer uids written in the pending batch
        self.read: set[int] = set()
        self.submits = 0
        self.dispatches = 0
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

    def dispatch(
        self, algo, push, reads: list, writes: list, hold: list, label: str = "dispatch"
    ) -> None:
        """Record one dispatch; reads/writes are Buffers, hold what must outlive it, label
        names it in a profile."""
        if self.mode == "levels" and self.seq is not None:
            r = {b.uid for b in reads}
            w = {b.uid for b in writes}
            if (r | w) & self.written or w & self.read:
                self.flush()
        self._seq(label).record(self.kp.OpAlgoDispatch(algo, push))
        self.ndispatch += 1
        self.dispatches += 1
        self.held.extend(hold)
        if self.mode == "levels":
            self.read.update(b.uid for b in reads)
            self.written.update(b.uid for b in writes)
        if self.ndispatch >= BATCH_LIMIT:
            self.flush()

    def upload(self, buf, hold: list) -> None:
        """Copy the buffer's staging memory to the device, in order with the batch.

        kp's own transfer->shader barrier orders it before later dispatches (stock kp too);
        only an upload into a buffer the batch still uses needs a submit first (levels)."""
        if self.mode == "levels" and buf.uid in (self.written | self.read):
            self.flush()
        self._seq("upload").record(self.kp.OpTensorSyncDevice([buf.tensor]))
        self.held.extend(hold)

    def read_back(self) -> None:
        """Submit the batch and wait, so that the host may read the host-visible buffers its
        dispatches wrote."""
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
