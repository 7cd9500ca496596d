"""The op families: each module holds one family's rows, backward rules and public functions.

``vkgrad.functional`` imports every family, so every row is in the table (``ops.OPS``) once
``vkgrad`` is imported. A family reaches the ops of other families through
``vkgrad.functional`` (``F``), looked up when a function runs, never at import.

Each family lists what it exports: ``__all__`` (``vkgrad.<name>`` and
``vkgrad.functional.<name>``), ``NN_FUNCTIONAL`` (``vkgrad.nn.functional``), ``FUNCTIONAL``
(``vkgrad.functional`` only) and ``TENSOR_METHODS`` (``Tensor.<name>``);
``scripts/gen_exports.py`` writes those imports out.
"""

from __future__ import annotations

from . import conv, elementwise, indexing, linalg, loss, norm, optim, random, reduction, shape

FAMILIES = (elementwise, reduction, shape, indexing, linalg, conv, norm, loss, optim, random)


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
