"""``vkgrad.optim``: optimizers whose updates run as kernels on the parameters' device.

>>> opt = vkgrad.optim.Adam(model.parameters(), lr=1e-3)
"""

from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "lr_scheduler"]
