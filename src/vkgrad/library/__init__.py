"""The op families: each module holds one family's rows, backward rules and public functions.

``ops.py`` imports this package so that every row is in the table before any op runs. A
family module must not import ``autograd`` or ``functional`` at import time (they import
``ops``): rules and functions reach other ops through ``ops.F``.
"""

from __future__ import annotations

from . import conv, elementwise, indexing, linalg, loss, norm, reduction, shape

FAMILIES = (elementwise, reduction, shape, indexing, linalg, conv, norm, loss)


def exported(*lists: str) -> dict:
    """``{name: function}`` over every family's ``lists`` (``"__all__"``, ``"NN_FUNCTIONAL"``),
    or the families' ``TENSOR_METHODS`` when ``lists`` is ``("TENSOR_METHODS",)``."""
    out = {}
    for fam in FAMILIES:
        for attr in lists:
            table = getattr(fam, attr)
            if isinstance(table, dict):
                out.update(table)
            else:
                out.update((name, getattr(fam, name)) for name in table)
    return out
