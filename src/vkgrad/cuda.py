"""The few ``torch.cuda`` functions that training scripts call around their device choice,
so that ``device = torch.device("cuda" if torch.cuda.is_available() else "cpu")`` ports by
changing the import. Here "cuda" means any Vulkan GPU; CPU Vulkan devices (lavapipe) are not
GPUs, as they are not for ``vkgrad.device("gpu")``.
"""

from __future__ import annotations

from . import random as _random
from .device import Device, _vulkan_devices
from .device import empty_cache as _empty_cache

__all__ = [
    "device_count",
    "empty_cache",
    "is_available",
    "manual_seed",
    "manual_seed_all",
    "synchronize",
]


def _gpus() -> list:
    return sorted(d["index"] for d in _vulkan_devices() if d["device_type"] != "cpu")


def is_available() -> bool:
    """Whether a Vulkan GPU is there (``torch.cuda.is_available``).

    >>> device = vkgrad.device("cuda" if vkgrad.cuda.is_available() else "cpu")
    """
    return bool(_gpus())


def device_count() -> int:
    """The number of Vulkan GPUs; ``"cuda:N"`` names the N-th of them."""
    return len(_gpus())


def manual_seed(seed) -> None:
    """Seed the default generator of the current GPU (``"cuda"``); without a GPU it does
    nothing, as PyTorch's does without CUDA."""
    if is_available():
        _random.default_generator(Device.parse("cuda")).manual_seed(seed)


def manual_seed_all(seed) -> None:
    """Seed the default generator of every GPU."""
    for index in _gpus():
        _random.default_generator(Device("vulkan", index)).manual_seed(seed)


def synchronize(device=None) -> None:
    """Wait for the work queued on ``device`` (every GPU when None)."""
    targets = (
        [Device.parse(device)] if device is not None else [Device("vulkan", i) for i in _gpus()]
    )
    for dev in targets:
        dev.backend.synchronize()


def empty_cache() -> None:
    """Release the buffers that the GPUs' pools keep for reuse (``torch.cuda.empty_cache``)."""
    _empty_cache()
