"""``vkgrad.nn``: modules, layers, functional and init, with PyTorch's names.

>>> from vkgrad import nn
>>> net = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
"""

from . import functional, init, utils
from .layers import GELU, Flatten, Identity, Linear, ReLU, Sequential, Sigmoid, SiLU, Tanh
from .module import Module, RemovableHandle
from .parameter import Parameter

__all__ = [
    "GELU",
    "Flatten",
    "Identity",
    "Linear",
    "Module",
    "Parameter",
    "ReLU",
    "RemovableHandle",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "Tanh",
    "functional",
    "init",
    "utils",
]
