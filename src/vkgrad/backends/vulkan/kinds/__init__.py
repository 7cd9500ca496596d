"""Runners of the op kinds that the op families add.

``RUNNERS[kind](backend, op, inputs, attrs, out)`` dispatches a row of that kind, like the
backend's own ``_run_<kind>`` methods: it reads the row, never the op's name.
``VARIANTS[kind](op)`` lists the ``(shader name, defines)`` variants the runner dispatches,
so that ``compile --all`` and the compile test cover them. Every module in this package is
imported, so a new kind is one new module with ``@runner("kind")`` and ``@variants("kind")``.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Callable

from ....ops import row_loops

RUNNERS: dict[str, Callable] = {}
VARIANTS: dict[str, Callable] = {}


def _registrar(table: dict, kind: str) -> Callable:
    def register(fn: Callable) -> Callable:
        if kind in table:
            raise RuntimeError(f"kind {kind!r} is registered twice")
        table[kind] = fn
        return fn

    return register


def runner(kind: str) -> Callable:
    return _registrar(RUNNERS, kind)


def variants(kind: str) -> Callable:
    return _registrar(VARIANTS, kind)


# lavapipe ends an invocation after 65535 loop iterations in all (llvmpipe's loop limiter) and
# returns garbage without an error; a CPU Vulkan device gets a clear error instead.
LAVAPIPE_LOOP_LIMIT = 65535
_CPU_DEVICE: dict = {}


def check_loop_limit(be, op, its: int, work: Callable[[], str], remedy: str) -> None:
    """Refuse the work that ``work()`` describes when one thread would run ``its`` loop
    iterations on lavapipe (``work`` is called only then: the check runs on every dispatch)."""
    if its <= LAVAPIPE_LOOP_LIMIT:
        return
    if be.index not in _CPU_DEVICE:
        from .. import enumerate_devices

        _CPU_DEVICE[be.index] = enumerate_devices()[be.index]["device_type"] == "cpu"
    if _CPU_DEVICE[be.index]:
        raise RuntimeError(
            f"{op.name}: {work()} would take about {its} loop iterations per thread, beyond the "
            f"{LAVAPIPE_LOOP_LIMIT} that this CPU Vulkan device (lavapipe) runs; use the cpu "
            f"device for {remedy}"
        )


def check_row_loops(be, op, shapes: list, attrs: dict, m: int) -> None:
    """The loop-limit check of a kind that runs one workgroup per row, over ``m`` rows of
    input shapes ``shapes``."""
    from .. import WG

    groups = max(1, min(m, be.max_groups))
    its = -(-m // groups) * (op.loops or _ROW_LOOPS)(shapes, attrs, WG)

    def work():
        k = shapes[0][-1] if shapes[0] else 1
        return f"{m} {'row' if m == 1 else 'rows'} of {k} elements"

    check_loop_limit(be, op, its, work, "rows this long")


_ROW_LOOPS = row_loops(3)  # no row shader walks its row more than three times

for _m in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_m.name}")
