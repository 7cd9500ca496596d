"""PyTorch's ``torch.utils`` path: ``vkgrad.utils.data`` is ``vkgrad.data``."""

from . import data
