"""Averaged SGD, one fused in-place kernel per parameter."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Callable

from ..autograd import no_grad
from ..library.optim import update
from .optimizer import Optimizer, check_compat_flags, check_hyperparameters, check_value


class ASGD(Optimizer):
    """PyTorch's averaged SGD.

    g = -g if maximize; g += wd w; w *= 1 - lambd eta; w -= eta g;
    ax = w while mu == 1, else ax += mu (w - ax); then, with t the new step count,
    eta = lr / (1 + lambd lr t)^alpha and mu = 1 / max(1, t - t0).

    State: ``eta`` and ``mu`` (Python floats kept on the host, as PyTorch keeps them as
    scalars; they reach the kernel as attrs) and ``ax``, the averaged weights, on the
    parameter's device.

    >>> opt = vkgrad.optim.ASGD(model.parameters(), lr=1e-2)
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-2,
        lambd: float = 1e-4,
        alpha: float = 0.75,
        t0: float = 1e6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        name = "ASGD"
        check_hyperparameters(name, lr=lr, weight_decay=weight_decay)
        # PyTorch checks no more than these; lambd, alpha and t0 only need to be numbers.
        for what, v in (("lambd", lambd), ("alpha", alpha), ("t0", t0)):
            check_value(name, f"{what} value", v, -float("inf"))
        check_compat_flags(name, differentiable)
        defaults = dict(
            lr=lr,
            lambd=lambd,
            alpha=alpha,
            t0=t0,
            weight_decay=weight_decay,
            maximize=bool(maximize),
        )
        super().__init__(params, defaults)

    def step(self, closure: Callable | None = None) -> Any:
        loss = self._closure_loss(closure)
        with no_grad():
            for group in self.param_groups:
                lr, lambd = float(group["lr"]), float(group["lambd"])
                alpha, t0 = float(group["alpha"]), float(group["t0"])
                attrs = self._kernel_attrs(group, "weight_decay", lambd=lambd)
                for p, g in self._grads(group):
                    st = self._lazy_state(p, "ax", step=0, eta=lr, mu=1.0)
                    master = self._master(p, st)
                    t = st["step"] = st["step"] + 1
                    eta, mu = float(st["eta"]), float(st["mu"])
                    update("asgd_step", p, g, st["ax"], master, eta=eta, mu=mu, **attrs)
                    # The next step's values, from this step's count (PyTorch's order).
                    st["eta"] = lr / (1.0 + lambd * lr * t) ** alpha
                    st["mu"] = 1.0 / max(1.0, t - t0)
        return loss
