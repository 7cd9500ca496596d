"""Adam and AdamW, one fused in-place kernel per parameter."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Callable

from ..autograd import no_grad
from ..library.optim import update_many
from .optimizer import Optimizer, check_compat_flags, check_hyperparameters


class Adam(Optimizer):
    """PyTorch's Adam (L2 weight decay added to the gradient), with amsgrad and maximize.

    g = -g if maximize; g += wd w; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
    v_max = max(v_max, v) if amsgrad; w -= lr (m / (1-b1^t)) / (sqrt(v[_max] / (1-b2^t)) + eps)

    >>> opt = vkgrad.optim.Adam(model.parameters(), lr=1e-3)
    """

    _decoupled = False

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        betas: tuple = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        name = type(self).__name__
        check_hyperparameters(
            name, named=False, lr=lr, eps=eps, betas=betas, weight_decay=weight_decay
        )
        check_compat_flags(name, differentiable)
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=bool(amsgrad),
            maximize=bool(maximize),
        )
        super().__init__(params, defaults)

    def step(self, closure: Callable | None = None) -> Any:
        loss = self._closure_loss(closure)
        decoupled = int(self._decoupled)
        with no_grad():
            for group in self.param_groups:
                amsgrad = bool(group.get("amsgrad", False))
                attrs = self._kernel_attrs(
                    group, "lr", "betas", "eps", "weight_decay", decoupled=decoupled
                )
                beta1, beta2 = attrs["beta1"], attrs["beta2"]
                attrs["amsgrad"] = int(amsgrad)
                moments = ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if amsgrad else ())
                # Parameters at the same step share their attrs: one update_many per step
                # count (mostly one per group) instead of one update per parameter.
                by_step: dict = {}
                for p, g in self._grads(group):
                    st = self._lazy_state(p, *moments, step=0)
                    master = self._master(p, st)
                    t = st["step"] = st["step"] + 1
                    v = st["exp_avg_sq"]
                    vmax = st["max_exp_avg_sq"] if amsgrad else v  # unread without amsgrad
                    by_step.setdefault(t, []).append((p, g, st["exp_avg"], v, vmax, master))
                for t, sets in by_step.items():
                    update_many(
                        "adam_step",
                        sets,
                        bias1=1.0 - beta1**t,
                        bias2=1.0 - beta2**t,
                        **attrs,
                    )
        return loss


class AdamW(Adam):
    """Adam with decoupled weight decay: w *= 1 - lr*wd before the Adam update.

    >>> opt = vkgrad.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
    """

    _decoupled = True

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        betas: tuple = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            maximize=maximize,
            differentiable=differentiable,
        )
