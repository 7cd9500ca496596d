"""Indexing with integer and boolean tensors: gather/scatter/index_select/index_add/masked_*,
advanced __getitem__/__setitem__, one_hot, embedding.

The family's rows (added to ``ops.OPS``), their backward rules and the public functions.
"""

from __future__ import annotations

from ..ops import F, _row  # noqa: F401

# Public names: ``vkgrad.<name>`` and ``vkgrad.functional.<name>``.
__all__: list[str] = []
# Names exported by ``vkgrad.nn.functional``.
NN_FUNCTIONAL: list[str] = []
# Tensor methods: {method name: function(self, ...)}.
TENSOR_METHODS: dict = {}
