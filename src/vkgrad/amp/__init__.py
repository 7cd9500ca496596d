"""Mixed precision with PyTorch's names: ``autocast`` runs the matrix products in f16 and
keeps softmax, the losses, the norms and the reductions in f32; ``GradScaler`` scales the
loss so that small f16 gradients do not flush to zero, and skips steps whose gradients
overflowed. See docs/amp.md.

>>> scaler = vkgrad.amp.GradScaler()
>>> with vkgrad.amp.autocast(device_type="vulkan"):
...     loss = F.cross_entropy(model(x), y)
>>> scaler.scale(loss).backward()
>>> scaler.step(opt)
>>> scaler.update()
"""

from .autocast_mode import autocast, is_autocast_enabled
from .grad_scaler import GradScaler

__all__ = ["GradScaler", "autocast", "is_autocast_enabled"]
