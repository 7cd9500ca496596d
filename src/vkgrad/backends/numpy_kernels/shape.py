"""NumPy kernels of the shape family (``vkgrad/library/shape.py``)."""

from __future__ import annotations

import numpy as np  # noqa: F401

from ..numpy_backend import kernel  # noqa: F401
