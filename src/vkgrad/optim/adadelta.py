"""Adadelta, one fused in-place kernel per parameter."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Callable

from ..autograd import no_grad
from ..library.optim import update
from .optimizer import Optimizer, check_compat_flags, check_hyperparameters


class Adadelta(Optimizer):
    """PyTorch's Adadelta.

    g = -g if maximize; g += wd w; v = rho v + (1-rho) g^2;
    delta = sqrt(u + eps) / sqrt(v + eps) g; u = rho u + (1-rho) delta^2; w -= lr delta.
    State: ``square_avg`` (v) and ``acc_delta`` (u).

    >>> opt = vkgrad.optim.Adadelta(model.parameters())
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        capturable: bool = False,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        name = "Adadelta"
        check_hyperparameters(name, lr=lr, rho=rho, eps=eps, weight_decay=weight_decay)
        check_compat_flags(name, differentiable)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=bool(maximize))
        super().__init__(params, defaults)

    def step(self, closure: Callable | None = None) -> Any:
        loss = self._closure_loss(closure)
        with no_grad():
            for group in self.param_groups:
                attrs = self._kernel_attrs(group, "lr", "rho", "eps", "weight_decay")
                for p, g in self._grads(group):
                    st = self._lazy_state(p, "square_avg", "acc_delta", step=0)
                    master = self._master(p, st)
                    st["step"] += 1
                    sq, acc = st["square_avg"], st["acc_delta"]
                    update("adadelta_step", p, g, sq, acc, master, **attrs)
        return loss
