"""Time every kernel: ``with vkgrad.profiler.profile() as prof: ...``.

- Vulkan: each batch of recorded work is a kp sequence created with timestamp queries, one
  after each recorded op (dispatch, upload, download) and one at its start, so op ``i`` runs
  from timestamp ``i`` to ``i + 1`` on the device's clock. Ticks are converted to time with
  the device's ``timestamp_period`` (ns per tick), 1.0 where kp does not report one.
- cpu: each kernel call of the NumPy backend (``run``, and the kernels a captured replay calls
  directly) is timed with ``time.perf_counter_ns``: wall time on the host.

Rows of ``prof.key_averages()`` group the events by device and key (the op's name on the
cpu, the shader variant on Vulkan: ``matmul[D0=0, D1=0, D2=0]``). ``export_chrome_trace``
writes Chrome trace-event JSON (Perfetto, chrome://tracing), one process per device.

Off, the hot paths pay one ``ACTIVE is None`` test each (the NumPy backend's ``run``, the
Vulkan backend's ``dispatch``, the recorder's sequence creation). See docs/profiling.md.

>>> with vkgrad.profiler.profile() as prof:          # doctest: +SKIP
...     loss = model(x).sum(); loss.backward()
>>> print(prof.key_averages().table(row_limit=10))   # doctest: +SKIP
"""

from __future__ import annotations

import json
import sys
from typing import NamedTuple

# vkgrad.device imports the NumPy backend, which imports this module: only the module is
# bound here, its backends read when a profile starts or ends.
from . import device as device_module

__all__ = ["profile", "Event", "KernelStats", "KeyAverages", "ACTIVE", "TIMED_OPS"]

ACTIVE: profile | None = None  # the innermost profiler in effect

# Ops recorded per timed kp sequence: a sequence gets TIMED_OPS + 1 timestamp queries, and
# the recorder submits it when they are used up. Above the recorder's 256 dispatches per batch,
# so that timing rarely adds a submit (uploads and downloads count too).
TIMED_OPS = 512


class Event(NamedTuple):
    """One timed kernel: ``start``/``duration`` in ns, on ``device``'s clock (see module doc)."""

    key: str
    device: str
    start: float
    duration: float


class KernelStats(NamedTuple):
    """A row of ``key_averages``: times in microseconds."""

    key: str
    device: str
    count: int
    device_time_total: float
    device_time_avg: float


def _fmt_us(us: float) -> str:
    # As PyTorch's table prints times: the unit that keeps the number readable.
    if us >= 1e6:
        return f"{us / 1e6:.3f}s"
    if us >= 1e3:
        return f"{us / 1e3:.3f}ms"
    return f"{us:.3f}us"


class KeyAverages(list):
    """A list of ``KernelStats`` rows; ``table()`` prints them as PyTorch's profiler does."""

    SORT_KEYS = ("device_time_total", "device_time_avg", "count", "key", "device")

    def table(self, sort_by: str = "device_time_total", row_limit: int = 100) -> str:
        if sort_by not in self.SORT_KEYS:
            raise ValueError(
                f"table: sort_by must be one of {', '.join(self.SORT_KEYS)}, got {sort_by!r}"
            )
        # Numbers largest first, names in alphabetical order.
        rows = sorted(
            self, key=lambda r: getattr(r, sort_by), reverse=sort_by not in ("key", "device")
        )
        if row_limit is not None and row_limit >= 0:
            rows = rows[:row_limit]
        total = sum(r.device_time_total for r in self)
        head = ["Name", "Device", "Device total %", "Device total", "Device time avg", "# Calls"]
        body = [
            [
                r.key,
                r.device,
                f"{100 * r.device_time_total / total:.2f}%" if total else "-",
                _fmt_us(r.device_time_total),
                _fmt_us(r.device_time_avg),
                str(r.count),
            ]
            for r in rows
        ]
        widths = [max(len(c) for c in col) for col in zip(head, *body)]
        rule = "  ".join("-" * w for w in widths)

        def line(cells):
            first = cells[0].ljust(widths[0])
            return "  ".join([first] + [c.rjust(w) for c, w in zip(cells[1:], widths[1:])])

        out = [rule, line(head), rule, *map(line, body), rule]
        out.append(f"Device time total: {_fmt_us(total)}")
        return "\n".join(out)

    def __str__(self) -> str:
        return self.table()


def _synchronize_all() -> None:
    for b in list(device_module._backends.values()):
        b.synchronize()


class profile:
    """Context manager that times every kernel run inside it, on every device.

    Entering and leaving waits for queued Vulkan work (like ``vkgrad.synchronize()``), so
    that the profile holds exactly the work submitted inside it. Profilers nest: an inner
    one's events are also the outer one's.
    """

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.parent: profile | None = None
        self._periods: dict = {}  # id(kp manager) -> (device name, ns per tick, timestamps?)
        self._active = False

    def __enter__(self) -> profile:
        global ACTIVE
        if self._active:
            raise RuntimeError("profile: this profiler is already active; make a new one")
        _synchronize_all()  # work queued before is not part of this profile
        self.parent, ACTIVE, self._active = ACTIVE, self, True
        return self

    def __exit__(self, *exc) -> None:
        global ACTIVE
        try:
            _synchronize_all()  # time what was queued inside, while this profiler is active
        finally:
            ACTIVE, self._active = self.parent, False

    # ---------------------------------------------------------------- hooks

    def _add(self, event: Event) -> None:
        p = self
        while p is not None:
            p.events.append(event)
            p = p.parent

    def cpu_kernel(self, key: str, t0: int, t1: int) -> None:
        """A kernel ran on the host from perf_counter_ns ``t0`` to ``t1``."""
        self._add(Event(key, "cpu", float(t0), float(t1 - t0)))

    def host_span(self, key: str, device: str, t0: int, t1: int) -> None:
        """Host wall time spent on work that is not timed per kernel (a captured replay)."""
        self._add(Event(key, f"{device} (host)", float(t0), float(t1 - t0)))

    def _device(self, mgr) -> tuple:
        info = self._periods.get(id(mgr))
        if info is None:
            vk = sys.modules.get("vkgrad.backends.vulkan")
            managers = getattr(vk, "_MANAGERS", {})
            index = next((i for i, m in managers.items() if m is mgr), 0)
            props = mgr.get_device_properties()
            # kp reports timestampPeriod only once patched to; lavapipe's period is 1 ns.
            period = float(props.get("timestamp_period", 1.0) or 1.0)
            info = (f"vulkan:{index}", period, bool(props.get("timestamps_supported", True)))
            self._periods[id(mgr)] = info
        return info

    def timed_sequence(self, mgr) -> tuple:
        """A kp sequence with a timestamp after each of up to TIMED_OPS ops, and the list
        the recorder fills with their names; (untimed sequence, None) without timestamps."""
        if not self._device(mgr)[2]:
            return mgr.sequence(), None
        return mgr.sequence(total_timestamps=TIMED_OPS + 1), []

    def sequence_done(self, mgr, seq, labels: list) -> None:
        """``seq`` was evaluated: one event per recorded op, from its timestamps."""
        device, period, _ = self._device(mgr)
        ts = seq.get_timestamps()
        if len(ts) != len(labels) + 1:
            raise RuntimeError(
                f"profile: a sequence of {len(labels)} ops returned {len(ts)} timestamps, "
                f"expected {len(labels) + 1}"
            )
        for i, key in enumerate(labels):
            # A barrier is no kernel: the time it waits shows as a gap before the next op.
            if key != "barrier":
                self._add(Event(key, device, ts[i] * period, (ts[i + 1] - ts[i]) * period))

    # ---------------------------------------------------------------- results

    def key_averages(self) -> KeyAverages:
        """One row per (device, key): call count and device time in microseconds."""
        groups: dict = {}
        for e in self.events:
            g = groups.setdefault((e.device, e.key), [0, 0.0])
            g[0] += 1
            g[1] += e.duration
        rows = (KernelStats(k, d, n, ns / 1e3, ns / 1e3 / n) for (d, k), (n, ns) in groups.items())
        return KeyAverages(rows)

    def trace_events(self) -> list[dict]:
        """The Chrome trace events: one process per device, times in microseconds from the
        device's first event (clocks of different devices are not aligned)."""
        tracks = sorted({e.device for e in self.events}, key=lambda d: (d != "cpu", d))
        pid = {d: i for i, d in enumerate(tracks)}
        first = {d: min(e.start for e in self.events if e.device == d) for d in tracks}
        out: list[dict] = [
            {"name": "process_name", "ph": "M", "pid": pid[d], "tid": 0, "args": {"name": d}}
            for d in tracks
        ]
        for e in sorted(self.events, key=lambda e: (pid[e.device], e.start)):
            out.append(
                {
                    "name": e.key,
                    "ph": "X",
                    "ts": (e.start - first[e.device]) / 1e3,
                    "dur": e.duration / 1e3,
                    "pid": pid[e.device],
                    "tid": 0,
                    "args": {"device": e.device},
                }
            )
        return out

    def export_chrome_trace(self, path) -> None:
        """Write the events as Chrome trace-event JSON (open it in https://ui.perfetto.dev)."""
        with open(path, "w") as f:
            json.dump({"traceEvents": self.trace_events(), "displayTimeUnit": "ms"}, f)

    def __repr__(self) -> str:
        return f"<vkgrad.profiler.profile: {len(self.events)} events>"
