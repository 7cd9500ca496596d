"""``vkgrad.nn``: modules, layers, functional and init, with PyTorch's names.

>>> from vkgrad import nn
>>> net = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
"""

from . import functional, init, utils
from .containers import ModuleDict, ModuleList, ParameterDict, ParameterList
from .layers import (
    GELU,
    Bilinear,
    Flatten,
    Identity,
    Linear,
    LogSoftmax,
    ReLU,
    Sequential,
    Sigmoid,
    SiLU,
    Softmax,
    Tanh,
    Unflatten,
)
from .module import Module, RemovableHandle
from .parameter import Parameter
from .summary import summary

__all__ = [
    "GELU",
    "Bilinear",
    "LogSoftmax",
    "ModuleDict",
    "ModuleList",
    "ParameterDict",
    "ParameterList",
    "Softmax",
    "Unflatten",
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
    "summary",
    "utils",
]
