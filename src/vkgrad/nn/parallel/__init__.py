"""``vkgrad.nn.parallel``: ``DistributedDataParallel`` (one process per device, over MPI)."""

from .distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
