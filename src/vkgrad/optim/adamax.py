"""Adamax, one fused in-place kernel per parameter."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Callable

from ..autograd import no_grad
from ..library.optim import update
from .optimizer import Optimizer, check_compat_flags, check_hyperparameters


class Adamax(Optimizer):
    """PyTorch's Adamax: Adam with the infinity norm in place of the second moment.

    g = -g if maximize; g += wd w; m = b1 m + (1-b1) g; u = max(b2 u, |g| + eps);
    w -= lr / (1 - b1^t) m / u. State: ``exp_avg`` (m) and ``exp_inf`` (u).

    >>> opt = vkgrad.optim.Adamax(model.parameters(), lr=2e-3)
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 2e-3,
        betas: tuple = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        name = "Adamax"
        check_hyperparameters(name, lr=lr, eps=eps, betas=betas, weight_decay=weight_decay)
        check_compat_flags(name, differentiable)
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            maximize=bool(maximize),
        )
        super().__init__(params, defaults)

    def step(self, closure: Callable | None = None) -> Any:
        loss = self._closure_loss(closure)
        with no_grad():
            for group in self.param_groups:
                lr = float(group["lr"])
                attrs = self._kernel_attrs(group, "betas", "eps", "weight_decay")
                beta1 = attrs["beta1"]
                for p, g in self._grads(group):
                    st = self._lazy_state(p, "exp_avg", "exp_inf", step=0)
                    master = self._master(p, st)
                    t = st["step"] = st["step"] + 1
                    clr = lr / (1.0 - beta1**t)
                    m, u = st["exp_avg"], st["exp_inf"]
                    update("adamax_step", p, g, m, u, master, clr=clr, **attrs)
        return loss
