"""Stochastic gradient descent with momentum, dampening, weight decay and Nesterov."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Callable

from ..autograd import no_grad
from ..library.optim import update
from .optimizer import Optimizer, check_compat_flags, check_hyperparameters


class SGD(Optimizer):
    """PyTorch's SGD: d = (-g if maximize else g) + wd*w; buf = momentum*buf + (1-dampening)*d
    (buf = d on the first step); d = d + momentum*buf if nesterov else buf; w -= lr*d.

    >>> opt = vkgrad.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        check_hyperparameters(
            "SGD", named=False, lr=lr, momentum=momentum, weight_decay=weight_decay
        )
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        check_compat_flags("SGD", differentiable)
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=bool(maximize),
        )
        super().__init__(params, defaults)

    def step(self, closure: Callable | None = None) -> Any:
        loss = self._closure_loss(closure)
        with no_grad():
            for group in self.param_groups:
                momentum = float(group["momentum"])
                nesterov = int(bool(group["nesterov"]))
                attrs = self._kernel_attrs(
                    group, "lr", "momentum", "dampening", "weight_decay", nesterov=nesterov
                )
                for p, g in self._grads(group):
                    st = self._lazy_state(p)
                    master = self._master(p, st)
                    if momentum != 0.0:
                        first = "momentum_buffer" not in st
                        buf = self._lazy_state(p, "momentum_buffer")["momentum_buffer"]
                    else:
                        # The kernel never touches the buffer without momentum; bind master.
                        buf, first = master, False
                    update("sgd_step", p, g, buf, master, first_step=int(first), **attrs)
        return loss
