"""The Optimizer base class: param groups, per-parameter state, zero_grad, state_dict.

Updates run as one in-place kernel per parameter on the parameter's own device
(``vkgrad.functional.update``): weights are never copied to the host. State tensors
(moments, momentum buffers) live next to the parameter in float32; float16 parameters also
get a float32 master copy that the kernel updates and rounds back into the parameter.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from typing import Any, Callable

from .. import dtypes
from ..autograd import enable_grad, no_grad, zero_grads
from ..capturing import replayed_on_host
from ..tensor import Tensor, zeros


class _RequiredParameter:
    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


def check_compat_flags(name: str, differentiable: bool) -> None:
    """PyTorch's ``foreach``/``fused``/``capturable`` are accepted and ignored (every update is
    already one fused kernel per parameter on its device); ``differentiable`` is not offered."""
    if differentiable:
        raise NotImplementedError(f"{name}: differentiable=True is not supported in vkgrad")


def check_value(
    name: str,
    what: str,
    value: Any,
    low: float = 0.0,
    high: float | None = None,
    *,
    high_open: bool = False,
) -> float:
    """``value`` as a float, or PyTorch's ``Invalid <what>: <value>`` error prefixed with the
    optimizer's name when it lies outside [low, high] (or [low, high) with ``high_open``)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: {what} must be a number, got {value!r}") from None
    bad = not v >= low  # NaN fails every comparison: refused too
    if high is not None:
        bad = bad or (v >= high if high_open else v > high)
    if bad:
        raise ValueError(f"{name}: Invalid {what}: {value}")
    return v


def check_betas(name: str, betas: Any) -> tuple:
    """Adam-style ``(beta1, beta2)``, each in [0, 1), as PyTorch checks them."""
    try:
        b1, b2 = betas
    except (TypeError, ValueError):
        raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}") from None
    return (
        check_value(name, "beta parameter at index 0", b1, 0.0, 1.0, high_open=True),
        check_value(name, "beta parameter at index 1", b2, 0.0, 1.0, high_open=True),
    )


# How each hyper-parameter is checked, by its argument name: the words the error message
# calls it by, its lowest allowed value, and its highest (None: unbounded) with whether that
# end is open. Names with other rules (ASGD's, LBFGS's counts) are checked where they are used.
_RULES: dict[str, tuple[str, float, float | None, bool]] = {
    "lr": ("learning rate", 0.0, None, False),
    "eps": ("epsilon value", 0.0, None, False),
    "weight_decay": ("weight_decay value", 0.0, None, False),
    "momentum": ("momentum value", 0.0, None, False),
    "momentum_decay": ("momentum_decay value", 0.0, None, False),
    "lr_decay": ("lr_decay value", 0.0, None, False),
    "initial_accumulator_value": ("initial_accumulator_value value", 0.0, None, False),
    "alpha": ("alpha value", 0.0, None, False),
    "rho": ("rho value", 0.0, 1.0, False),
    "beta0": ("beta parameter at index 0", 0.0, 1.0, True),
    "beta1": ("beta parameter at index 1", 0.0, 1.0, True),
}


def check_hyperparameters(name: str, *, named: bool = True, **values: Any) -> None:
    """Checks each ``values`` entry, in the order given, by its rule in ``_RULES``
    (``betas`` stands for its two entries), raising ``ValueError: <name>: Invalid <what>:
    <value>`` for the first out of range.

    ``named=False`` keeps the messages and comparisons of the optimizers that follow
    PyTorch's text exactly (Adam, AdamW, Adagrad, RMSprop, SGD): no name in the message, and
    the raw value compared, so a NaN passes a lower bound and a non-number raises Python's
    own ``TypeError``, as those optimizers always have.
    """
    for arg, value in values.items():
        if arg == "betas":
            if named:
                check_betas(name, value)
            else:
                _check_raw("beta0", value[0])
                _check_raw("beta1", value[1])
            continue
        if named:
            what, low, high, high_open = _RULES[arg]
            check_value(name, what, value, low, high, high_open=high_open)
        else:
            _check_raw(arg, value)


def _check_raw(arg: str, value: Any) -> None:
    what, low, high, high_open = _RULES[arg]
    if high is None:
        bad = value < low
    else:
        bad = not (low <= value < high if high_open else low <= value <= high)
    if bad:
        raise ValueError(f"Invalid {what}: {value}")


class Optimizer:
    """Base class: subclasses implement ``step``.

    >>> opt = vkgrad.optim.SGD(model.parameters(), lr=0.1)
    >>> opt.zero_grad(); loss.backward(); opt.step()
    """

    def __init__(self, params: Iterable, defaults: dict) -> None:
        self.defaults = dict(defaults)
        self.state: dict = {}
        self.param_groups: list = []
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or "
                f"dicts, but got {type(params).__name__}"
            )
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def add_param_group(self, param_group: dict) -> None:
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"optimizer can only optimize Tensors, but one of the params is "
                    f"{type(p).__name__}"
                )
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        group["params"] = params
        for k, v in self.defaults.items():
            if v is required and k not in group:
                raise ValueError(f"parameter group didn't specify a value of required {k}")
            group.setdefault(k, v)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params) or len({id(p) for p in params}) != len(params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        zero_grads((p for g in self.param_groups for p in g["params"]), set_to_none)

    # Whether a capture may record step() and replay its host part (see __init_subclass__).
    _replayable = True

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "step" in cls.__dict__ and cls._replayable:
            # Inside vkgrad.capture, a replay re-runs the host part of step() (step counts,
            # bias corrections, the current lr) and writes it where the kernels read it.
            cls.step = replayed_on_host(cls.__dict__["step"])

    def step(self, closure: Callable | None = None) -> Any:
        raise NotImplementedError

    def _closure_loss(self, closure: Callable | None) -> Any:
        if closure is None:
            return None
        with enable_grad():
            return closure()

    # ------------------------------------------------------------ state helpers

    def _lazy_state(self, p: Tensor, *tensors: str, **scalars: Any) -> dict:
        """``p``'s state, made on its first step: ``scalars`` as given, then a zeroed state
        tensor (on ``p``'s device, in its state dtype) under each name in ``tensors``. A name
        in ``tensors`` that an existing state lacks is added then: optional buffers (amsgrad's,
        a momentum buffer) appear on the first step that uses them."""
        st = self.state.get(p)
        if st is None:
            st = self.state[p] = dict(scalars)
        for name in tensors:
            if name not in st:
                st[name] = self._zeros_state(p)
        return st

    @staticmethod
    def _kernel_attrs(group: dict, *names: str, **values: Any) -> dict:
        """An update kernel's attrs: the group's ``names`` as floats (``betas`` as ``beta1``
        and ``beta2``), its ``maximize`` flag as 0 or 1, and ``values`` as given."""
        attrs = {}
        for n in names:
            if n == "betas":
                attrs["beta1"], attrs["beta2"] = (float(b) for b in group["betas"])
            else:
                attrs[n] = float(group[n])
        attrs["maximize"] = int(bool(group.get("maximize", False)))
        attrs.update(values)
        return attrs

    def _grads(self, group: dict) -> Iterator[tuple[Tensor, Tensor]]:
        """``(p, p.grad)`` for the parameters of ``group`` that have a gradient."""
        for p in group["params"]:
            g = p.grad
            if g is not None:
                yield p, g

    @staticmethod
    def _state_dtype(p: Tensor) -> dtypes.DType:
        # f64 params (cpu only) keep f64 state; everything else is f32.
        return dtypes.float64 if p.dtype is dtypes.float64 else dtypes.float32

    def _zeros_state(self, p: Tensor) -> Tensor:
        return zeros(p.shape, dtype=self._state_dtype(p), device=p.device)

    def _master(self, p: Tensor, st: dict) -> Tensor:
        """The full-precision weights the kernel updates: p itself unless p is f16."""
        if p.dtype is not dtypes.float16:
            return p
        m = st.get("master")
        if m is None:
            with no_grad():
                m = st["master"] = p.detach().to(dtypes.float32).clone()
        return m

    # ------------------------------------------------------------ state_dict

    def state_dict(self) -> dict:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [index, ...]}]}``.

        State tensors are returned as they are (on the parameters' devices), as in PyTorch.
        """
        index: dict = {}
        groups = []
        for g in self.param_groups:
            packed = {k: v for k, v in g.items() if k != "params"}
            ids = []
            for p in g["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            packed["params"] = ids
            groups.append(packed)
        state = {}
        for g in self.param_groups:
            for p in g["params"]:
                if p in self.state:
                    state[index[id(p)]] = dict(self.state[p])
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(
                f"loaded state dict has {len(groups)} parameter groups, this optimizer has "
                f"{len(self.param_groups)}"
            )
        for i, (mine, saved) in enumerate(zip(self.param_groups, groups)):
            if len(mine["params"]) != len(saved["params"]):
                raise ValueError(
                    f"loaded state dict's group {i} has {len(saved['params'])} parameters, this "
                    f"optimizer's has {len(mine['params'])}"
                )
        by_index = {}
        for mine, saved in zip(self.param_groups, groups):
            for p, idx in zip(mine["params"], saved["params"]):
                by_index[idx] = p
        self.state = {}
        for idx, st in state_dict["state"].items():
            p = by_index.get(int(idx))
            if p is None:
                continue
            self.state[p] = {k: self._loaded_state(p, idx, k, v) for k, v in st.items()}
        for mine, saved in zip(self.param_groups, groups):
            for k, v in saved.items():
                if k != "params":
                    mine[k] = copy.deepcopy(v)

    def _loaded_state(self, p: Tensor, idx: Any, key: str, value: Any) -> Any:
        """One loaded state entry of parameter ``p``, made this optimizer's own: tensors of
        the parameter's shape are copied to its device and state dtype."""
        if not isinstance(value, Tensor):
            return copy.deepcopy(value)
        if tuple(value.shape) != tuple(p.shape):
            raise ValueError(
                f"loaded state '{key}' of parameter {idx} has shape {tuple(value.shape)}, "
                f"the parameter has shape {tuple(p.shape)}"
            )
        with no_grad():
            # A fresh copy on the parameter's device: the loaded dict stays intact.
            return value.detach().to(p.device, self._state_dtype(p)).clone()

    def __repr__(self) -> str:
        lines = [type(self).__name__ + " ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(g):
                if k != "params":
                    lines.append(f"    {k}: {g[k]}")
        lines.append(")")
        return "\n".join(lines)
