"""RMSprop, one fused in-place kernel per parameter."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Callable

from ..autograd import no_grad
from ..library.optim import update
from .optimizer import Optimizer, check_compat_flags, check_hyperparameters


class RMSprop(Optimizer):
    """PyTorch's RMSprop.

    g = -g if maximize; g += wd w; sq = alpha sq + (1-alpha) g^2; centered: gavg = alpha gavg
    + (1-alpha) g, avg = sqrt(sq - gavg^2) + eps, else avg = sqrt(sq) + eps; momentum > 0:
    buf = momentum buf + g / avg, w -= lr buf; else w -= lr g / avg.

    >>> opt = vkgrad.optim.RMSprop(model.parameters(), lr=1e-2, momentum=0.9)
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_hyperparameters(
            "RMSprop",
            named=False,
            lr=lr,
            eps=eps,
            momentum=momentum,
            weight_decay=weight_decay,
            alpha=alpha,
        )
        check_compat_flags("RMSprop", differentiable)
        defaults = dict(
            lr=lr,
            alpha=alpha,
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            centered=bool(centered),
            maximize=bool(maximize),
        )
        super().__init__(params, defaults)

    def step(self, closure: Callable | None = None) -> Any:
        loss = self._closure_loss(closure)
        with no_grad():
            for group in self.param_groups:
                momentum = float(group["momentum"])
                centered = bool(group["centered"])
                attrs = self._kernel_attrs(
                    group, "lr", "alpha", "eps", "weight_decay", "momentum", centered=int(centered)
                )
                buffers = ("square_avg",) + (("momentum_buffer",) if momentum > 0 else ())
                buffers += ("grad_avg",) if centered else ()
                for p, g in self._grads(group):
                    st = self._lazy_state(p, *buffers, step=0)
                    master = self._master(p, st)
                    st["step"] += 1
                    sq = st["square_avg"]
                    # State the kernel does not read (no centering / no momentum) aliases sq.
                    gavg = st["grad_avg"] if centered else sq
                    buf = st["momentum_buffer"] if momentum > 0 else sq
                    update("rmsprop_step", p, g, sq, gavg, buf, master, **attrs)
        return loss
