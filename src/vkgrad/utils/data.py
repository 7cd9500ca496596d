"""``vkgrad.utils.data``: the objects of ``vkgrad.data`` under PyTorch's module path, so that
``from torch.utils.data import DataLoader`` ports by changing the import."""

from ..data import *  # noqa: F403
from ..data import __all__  # noqa: F401
