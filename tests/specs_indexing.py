"""Op specs of the indexing family (``vkgrad/library/indexing.py``); see op_specs.py."""

from __future__ import annotations

import numpy as np  # noqa: F401
from op_specs import U, away, spec  # noqa: F401

import vkgrad  # noqa: F401

# Public op names this family must cover with at least one spec (test_ops checks).
WANTED: list[str] = []
