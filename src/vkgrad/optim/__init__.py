"""``vkgrad.optim``: optimizers whose updates run as kernels on the parameters' device.

>>> opt = vkgrad.optim.Adam(model.parameters(), lr=1e-3)
"""

from .adam import Adam, AdamW
from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["SGD", "Adam", "AdamW", "Optimizer"]
