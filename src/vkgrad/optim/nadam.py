"""NAdam, one fused in-place kernel per parameter."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Callable

from ..autograd import no_grad
from ..library.optim import update
from .optimizer import Optimizer, check_compat_flags, check_hyperparameters


class NAdam(Optimizer):
    """PyTorch's NAdam: Adam with Nesterov momentum and a momentum warm-up schedule.

    mu_t = b1 (1 - 0.5 * 0.96^(t psi)) with psi = momentum_decay; g = -g if maximize;
    g += wd w (or w *= 1 - lr wd with decoupled_weight_decay); m = b1 m + (1-b1) g;
    v = b2 v + (1-b2) g^2; d = sqrt(v / (1-b2^t)) + eps;
    w -= lr (1-mu_t) / (1 - prod_{i<=t} mu_i) g / d + lr mu_{t+1} / (1 - prod_{i<=t+1} mu_i) m / d.

    State: ``exp_avg`` (m), ``exp_avg_sq`` (v) and ``mu_product`` (the running product of
    the mu's, a Python float kept on the host: it reaches the kernel inside the two step
    sizes, which a captured step recomputes on every replay).

    >>> opt = vkgrad.optim.NAdam(model.parameters(), lr=2e-3)
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 2e-3,
        betas: tuple = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        name = "NAdam"
        check_hyperparameters(
            name,
            lr=lr,
            eps=eps,
            betas=betas,
            weight_decay=weight_decay,
            momentum_decay=momentum_decay,
        )
        check_compat_flags(name, differentiable)
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            momentum_decay=momentum_decay,
            decoupled_weight_decay=bool(decoupled_weight_decay),
            maximize=bool(maximize),
        )
        super().__init__(params, defaults)

    def step(self, closure: Callable | None = None) -> Any:
        loss = self._closure_loss(closure)
        with no_grad():
            for group in self.param_groups:
                psi = float(group["momentum_decay"])
                decoupled = int(bool(group.get("decoupled_weight_decay", False)))
                attrs = self._kernel_attrs(
                    group, "lr", "betas", "eps", "weight_decay", decoupled=decoupled
                )
                lr, beta1, beta2 = attrs["lr"], attrs["beta1"], attrs["beta2"]
                for p, g in self._grads(group):
                    st = self._lazy_state(p, "exp_avg", "exp_avg_sq", step=0, mu_product=1.0)
                    master = self._master(p, st)
                    t = st["step"] = st["step"] + 1
                    mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * psi))
                    mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
                    prod = st["mu_product"] = float(st["mu_product"]) * mu
                    update(
                        "nadam_step",
                        p,
                        g,
                        st["exp_avg"],
                        st["exp_avg_sq"],
                        master,
                        bias2=1.0 - beta2**t,
                        gcoef=lr * (1.0 - mu) / (1.0 - prod),
                        mcoef=lr * mu_next / (1.0 - prod * mu_next),
                        **attrs,
                    )
        return loss
