"""RAdam, one fused in-place kernel per parameter."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, Callable

from ..autograd import no_grad
from ..library.optim import update
from .optimizer import Optimizer, check_compat_flags, check_hyperparameters


def rectification(beta2: float, t: int) -> float | None:
    """RAdam's variance rectification factor r_t at step ``t``, or None while the
    approximated SMA length rho_t is at most 5 (too few steps to trust the variance)."""
    rho_inf = 2.0 / (1.0 - beta2) - 1.0
    rho_t = rho_inf - 2.0 * t * beta2**t / (1.0 - beta2**t)
    if rho_t <= 5.0:
        return None
    return math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))


class RAdam(Optimizer):
    """PyTorch's RAdam (rectified Adam).

    g = -g if maximize; g += wd w (or w *= 1 - lr wd with decoupled_weight_decay);
    m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; m_hat = m / (1-b1^t);
    rho_inf = 2/(1-b2) - 1, rho_t = rho_inf - 2 t b2^t / (1-b2^t); if rho_t > 5:
    w -= lr m_hat r_t sqrt(1-b2^t) / (sqrt(v) + eps), else w -= lr m_hat.
    The branch depends on the step count alone, so it is decided on the host.

    >>> opt = vkgrad.optim.RAdam(model.parameters(), lr=1e-3)
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        betas: tuple = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        name = "RAdam"
        check_hyperparameters(name, lr=lr, eps=eps, betas=betas, weight_decay=weight_decay)
        check_compat_flags(name, differentiable)
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            decoupled_weight_decay=bool(decoupled_weight_decay),
            maximize=bool(maximize),
        )
        super().__init__(params, defaults)

    def step(self, closure: Callable | None = None) -> Any:
        loss = self._closure_loss(closure)
        with no_grad():
            for group in self.param_groups:
                decoupled = int(bool(group.get("decoupled_weight_decay", False)))
                attrs = self._kernel_attrs(
                    group, "lr", "betas", "eps", "weight_decay", decoupled=decoupled
                )
                beta1, beta2 = attrs["beta1"], attrs["beta2"]
                for p, g in self._grads(group):
                    st = self._lazy_state(p, "exp_avg", "exp_avg_sq", step=0)
                    master = self._master(p, st)
                    t = st["step"] = st["step"] + 1
                    r = rectification(beta2, t)
                    update(
                        "radam_step",
                        p,
                        g,
                        st["exp_avg"],
                        st["exp_avg_sq"],
                        master,
                        bias1=1.0 - beta1**t,
                        rectified=int(r is not None),
                        rect=0.0 if r is None else r * math.sqrt(1.0 - beta2**t),
                        **attrs,
                    )
        return loss
