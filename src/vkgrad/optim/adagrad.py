"""Adagrad, one fused in-place kernel per parameter."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Callable

from ..autograd import no_grad
from ..library.optim import update
from ..tensor import full
from .optimizer import Optimizer, check_compat_flags, check_hyperparameters


class Adagrad(Optimizer):
    """PyTorch's Adagrad.

    g = -g if maximize; g += wd w; clr = lr / (1 + (t-1) lr_decay); sum += g^2;
    w -= clr g / (sqrt(sum) + eps). ``sum`` starts at ``initial_accumulator_value``.

    >>> opt = vkgrad.optim.Adagrad(model.parameters(), lr=1e-2)
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        check_hyperparameters(
            "Adagrad",
            named=False,
            lr=lr,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
        )
        check_compat_flags("Adagrad", differentiable)
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            eps=eps,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            maximize=bool(maximize),
        )
        super().__init__(params, defaults)
        # As PyTorch: the accumulators exist from construction on (state_dict shows them).
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, group)

    def _init_state(self, p, group: dict) -> dict:
        st = self.state.get(p)
        if st is None:
            value = float(group["initial_accumulator_value"])
            with no_grad():
                acc = full(p.shape, value, dtype=self._state_dtype(p), device=p.device)
            st = self.state[p] = {"step": 0, "sum": acc}
        return st

    def step(self, closure: Callable | None = None) -> Any:
        loss = self._closure_loss(closure)
        with no_grad():
            for group in self.param_groups:
                lr, lr_decay = float(group["lr"]), float(group["lr_decay"])
                attrs = self._kernel_attrs(group, "weight_decay", "eps")
                for p, g in self._grads(group):
                    st = self._init_state(p, group)
                    master = self._master(p, st)
                    t = st["step"] = st["step"] + 1
                    clr = lr / (1 + (t - 1) * lr_decay)
                    update("adagrad_step", p, g, st["sum"], master, clr=clr, **attrs)
        return loss
