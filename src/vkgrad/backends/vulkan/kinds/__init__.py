"""Runners of the op kinds that the op families add.

``RUNNERS[kind](backend, op, inputs, attrs, out)`` dispatches a row of that kind, like the
backend's own ``_run_<kind>`` methods: it reads the row, never the op's name. Every module in
this package is imported, so a new kind is one new module with ``@runner("kind")``.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Callable

RUNNERS: dict[str, Callable] = {}


def runner(kind: str) -> Callable:
    def register(fn: Callable) -> Callable:
        if kind in RUNNERS:
            raise RuntimeError(f"kind {kind!r} has two runners")
        RUNNERS[kind] = fn
        return fn

    return register


for _m in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_m.name}")
