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


for _m in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_m.name}")
