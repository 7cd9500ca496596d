"""Adam and AdamW, one fused in-place kernel per parameter, dispatched together."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Callable

from ..autograd import no_grad
from ..library.optim import update_many
from .optimizer import Optimizer, check_compat_flags


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
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if eps < 0.0:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        check_compat_flags(type(self).__name__, differentiable)
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
                beta1, beta2 = (float(b) for b in group["betas"])
                lr, eps = float(group["lr"]), float(group["eps"])
                wd = float(group["weight_decay"])
                amsgrad = bool(group.get("amsgrad", False))
                maximize = int(bool(group.get("maximize", False)))
                # Parameters at the same step share their attrs: one update_many per step
                # count (mostly one per group) instead of one update per parameter.
                by_step: dict = {}
                for p in group["params"]:
                    g = p.grad
                    if g is None:
                        continue
                    st = self.state.get(p)
                    if st is None:
                        st = self.state[p] = {
                            "step": 0,
                            "exp_avg": self._zeros_state(p),
                            "exp_avg_sq": self._zeros_state(p),
                        }
                    if amsgrad and "max_exp_avg_sq" not in st:
                        st["max_exp_avg_sq"] = self._zeros_state(p)
                    master = self._master(p, st)
                    t = st["step"] = st["step"] + 1
                    v = st["exp_avg_sq"]
                    vmax = st["max_exp_avg_sq"] if amsgrad else v  # unread without amsgrad
                    tensors = (p, g, st["exp_avg"], v, vmax, master)
                    sets = by_step.get(t)
                    if sets is None:
                        by_step[t] = [tensors]
                    else:
                        sets.append(tensors)
                for t, sets in by_step.items():
                    update_many(
                        "adam_step",
                        sets,
                        lr=lr,
                        beta1=beta1,
                        beta2=beta2,
                        eps=eps,
                        weight_decay=wd,
                        bias1=1.0 - beta1**t,
                        bias2=1.0 - beta2**t,
                        decoupled=decoupled,
                        amsgrad=int(amsgrad),
                        maximize=maximize,
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
