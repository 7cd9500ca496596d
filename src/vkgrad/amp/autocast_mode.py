"""``vkgrad.amp.autocast``: a region (context manager or decorator) in which the functions of
``autocasting.F16_OPS`` run in f16 and those of ``autocasting.F32_OPS`` in f32."""

from __future__ import annotations

import functools
from typing import Any, Callable

from .. import autocasting, dtypes

# PyTorch's device names map to vkgrad's two device types ("cuda": any Vulkan GPU, so that
# torch.autocast("cuda") ports unchanged).
_DEVICE_TYPES = {"cpu": "cpu", "vulkan": "vulkan", "gpu": "vulkan", "cuda": "vulkan"}


class autocast:
    """Run the matrix products of the region in f16 and the numerically sensitive ops in f32.

    ``device_type``: ``"vulkan"`` (also ``"gpu"``, ``"cuda"``) or ``"cpu"``: only tensors of
    that type are cast. ``dtype``: f16 (vkgrad has no bfloat16). ``enabled=False`` turns
    autocast off inside, also within an enabled region. Backward passes run without it, as
    the casts recorded in forward already give each gradient its dtype.

    >>> with vkgrad.amp.autocast(device_type="vulkan"):
    ...     logits = model(x)                     # linear/conv in f16
    ...     loss = F.cross_entropy(logits, y)     # in f32
    """

    def __init__(
        self,
        device_type: str = "vulkan",
        dtype: Any = dtypes.float16,
        enabled: bool = True,
        cache_enabled: bool = True,
    ) -> None:
        if str(device_type) not in _DEVICE_TYPES:
            raise ValueError(
                f"autocast: device_type must be one of {sorted(_DEVICE_TYPES)}, got {device_type!r}"
            )
        dt = dtypes.get(dtype)
        if dt is not dtypes.float16:
            raise ValueError(
                f"autocast: dtype must be float16 (vkgrad has no bfloat16), got {dt.name}"
            )
        self.device_type = _DEVICE_TYPES[str(device_type)]
        self.fast_dtype = dt
        self.enabled = bool(enabled)
        self.cache_enabled = bool(cache_enabled)

    def __enter__(self) -> autocast:
        region = (self.device_type, self.fast_dtype, self.cache_enabled)
        autocasting.push(region if self.enabled else None)
        return self

    def __exit__(self, *exc: Any) -> None:
        autocasting.pop()

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def autocast_region(*args: Any, **kwargs: Any) -> Any:
            with autocast(self.device_type, self.fast_dtype, self.enabled, self.cache_enabled):
                return fn(*args, **kwargs)

        return autocast_region


def is_autocast_enabled(device_type: str | None = None) -> bool:
    """Whether this thread is in an enabled autocast region (for ``device_type``, if given)."""
    region = autocasting.current()
    if region is None:
        return False
    return device_type is None or _DEVICE_TYPES.get(str(device_type)) == region[0]
