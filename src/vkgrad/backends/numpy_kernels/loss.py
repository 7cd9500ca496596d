"""NumPy kernels of the loss family (``vkgrad/library/loss.py``)."""

from __future__ import annotations

import numpy as np  # noqa: F401

from ..numpy_backend import kernel  # noqa: F401
