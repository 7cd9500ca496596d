"""``vkgrad.amp.GradScaler``: dynamic loss scaling, with the overflow check, the skipped step
and the new scale computed on the device.

Why on the device: a captured training step (``vkgrad.capture``) cannot read values on the
host, and an eager step on a GPU would stall its queue for every read. Outside a capture,
``step`` still reads one number (whether any gradient overflowed), as PyTorch does, so that a
skipped step does not call ``optimizer.step()`` at all. Inside a capture, the step always
runs and a device-side select puts back the parameters and every optimizer state tensor where
an overflow happened; only the optimizer's host-side step count (a Python number that a
replay cannot branch on) still advances. docs/amp.md says what this changes.
"""

from __future__ import annotations

from typing import Any

from .. import capturing, dtypes
from ..autograd import Tensor, no_grad
from ..library.elementwise import maximum, where
from ..tensor import full

_READY, _UNSCALED, _STEPPED = "ready", "unscaled", "stepped"


def _walk(obj: Any, fn) -> Any:
    if isinstance(obj, Tensor):
        return fn(obj)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_walk(o, fn) for o in obj)
    if isinstance(obj, dict):
        return {k: _walk(v, fn) for k, v in obj.items()}
    raise TypeError(f"GradScaler.scale: expected tensors (or lists of them), got {type(obj)}")


def _params_with_grad(optimizer) -> list:
    return [p for g in optimizer.param_groups for p in g["params"] if p.grad is not None]


class GradScaler:
    """Scale the loss before backward, unscale the gradients before the optimizer step, skip
    steps whose gradients hold inf or nan, and adapt the scale: times ``backoff_factor`` after
    an overflow, times ``growth_factor`` after ``growth_interval`` steps without one.

    >>> scaler = vkgrad.amp.GradScaler()
    >>> scaler.scale(loss).backward()
    >>> scaler.unscale_(opt)                  # optional: to clip the true gradients
    >>> scaler.step(opt)                      # skipped if a gradient overflowed
    >>> scaler.update()
    """

    def __init__(
        self,
        device: Any = None,
        init_scale: float = 2.0**16,
        growth_factor: float = 2.0,
        backoff_factor: float = 0.5,
        growth_interval: int = 2000,
        enabled: bool = True,
    ) -> None:
        if growth_factor <= 1.0:
            raise ValueError(f"GradScaler: growth_factor must be > 1, got {growth_factor}")
        if not 0.0 < backoff_factor < 1.0:
            raise ValueError(f"GradScaler: backoff_factor must be in (0, 1), got {backoff_factor}")
        if int(growth_interval) <= 0:
            raise ValueError(f"GradScaler: growth_interval must be > 0, got {growth_interval}")
        self._enabled = bool(enabled)
        self._init_scale = float(init_scale)
        self._growth_factor = float(growth_factor)
        self._backoff_factor = float(backoff_factor)
        self._growth_interval = int(growth_interval)
        # Device tensors, made on first use on the loss's device: the scale, and the number
        # of steps since the last overflow (f32: exact far past any growth_interval).
        self._scale: Tensor | None = None
        self._growth_tracker: Tensor | None = None
        self._per_optimizer: dict = {}  # id(optimizer) -> {"stage", "found_inf"}
        self._pending_tracker = 0.0  # from load_state_dict before the first scale()

    # ------------------------------------------------------------ scaling

    def is_enabled(self) -> bool:
        return self._enabled

    def _lazy_init(self, device) -> None:
        if self._scale is None:
            f32 = dtypes.float32
            self._scale = full((), self._init_scale, dtype=f32, device=device)
            self._growth_tracker = full((), self._pending_tracker, dtype=f32, device=device)

    def scale(self, outputs: Any) -> Any:
        """``outputs`` (a tensor, or lists/tuples/dicts of them) times the current scale."""
        if not self._enabled:
            return outputs

        def times_scale(t: Tensor) -> Tensor:
            self._lazy_init(t.device)
            return t * self._scale

        return _walk(outputs, times_scale)

    def _state(self, optimizer) -> dict:
        return self._per_optimizer.setdefault(id(optimizer), {"stage": _READY, "found_inf": None})

    def unscale_(self, optimizer) -> None:
        """Divide ``optimizer``'s gradients by the scale in place, and note on the device
        whether any holds inf or nan. At most once per optimizer between two ``update``s."""
        if not self._enabled:
            return
        st = self._state(optimizer)
        if st["stage"] == _UNSCALED:
            raise RuntimeError(
                "GradScaler.unscale_: already called on this optimizer since the last update()"
            )
        if st["stage"] == _STEPPED:
            raise RuntimeError("GradScaler.unscale_: called after step(); call update() first")
        params = _params_with_grad(optimizer)
        if self._scale is None:
            raise RuntimeError("GradScaler.unscale_: scale() was never called")
        with no_grad():
            inv = self._scale.reciprocal()
            inv_by_dtype: dict = {}
            # g * 0 is 0 for every finite g and nan for inf or nan, and cannot overflow as
            # a sum of the gradients could: one sum per tensor says whether it is finite.
            bad = None
            for p in params:
                g = p.grad
                s = (g * 0.0).sum(dtype=dtypes.float32)
                bad = s if bad is None else bad + s
                k = inv_by_dtype.get(g.dtype)
                if k is None:
                    k = inv_by_dtype[g.dtype] = inv.to(g.dtype)
                g.mul_(k)
            found = full((), 0.0, dtype=dtypes.float32, device=self._scale.device)
            if bad is not None:
                found = (bad != bad).to(dtypes.float32)  # nan != nan
        st["found_inf"] = found
        st["stage"] = _UNSCALED

    def step(self, optimizer, *args: Any, **kwargs: Any) -> Any:
        """``optimizer.step()`` unless a gradient overflowed (unscaling first if needed)."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs or args:
            raise RuntimeError("GradScaler.step: a closure is not supported with loss scaling")
        st = self._state(optimizer)
        if st["stage"] == _STEPPED:
            raise RuntimeError("GradScaler.step: already called since the last update()")
        if st["stage"] == _READY:
            self.unscale_(optimizer)
        st["stage"] = _STEPPED
        found = st["found_inf"]
        if capturing.ACTIVE is None:
            # Eager: one read decides, as in PyTorch; a skipped step touches nothing.
            if found.item() != 0.0:
                return None
            return optimizer.step()
        return self._step_or_restore(optimizer, found)

    def _step_or_restore(self, optimizer, found: Tensor) -> Any:
        # Captured: no host read. Keep every tensor the step may change, step, and put the
        # kept values back where an overflow happened.
        params = [p for g in optimizer.param_groups for p in g["params"]]
        with no_grad():
            kept = [(p, p.detach().clone()) for p in params]
            for p in params:
                for v in optimizer.state.get(p, {}).values():
                    if isinstance(v, Tensor):
                        kept.append((v, v.clone()))
            had = {id(v) for v, _ in kept}
            out = optimizer.step()
            skip = found != 0.0
            for t, old in kept:
                t.copy_(where(skip, old, t))
            # State the step created: as it would start (moments zero, the f32 master copy of
            # the restored parameter) where the step is skipped.
            for p in params:
                for key, v in optimizer.state.get(p, {}).items():
                    if isinstance(v, Tensor) and id(v) not in had:
                        start = p.detach().to(v.dtype) if key == "master" else v * 0.0
                        v.copy_(where(skip, start, v))
        return out

    # ------------------------------------------------------------ the scale

    def update(self, new_scale: Any = None) -> None:
        """Adapt the scale to this iteration's overflows (or set ``new_scale``)."""
        if not self._enabled:
            return
        if self._scale is None:
            raise RuntimeError("GradScaler.update: scale() was never called")
        with no_grad():
            if new_scale is not None:
                value = new_scale.to(dtypes.float32) if isinstance(new_scale, Tensor) else None
                if value is None:
                    self._scale.fill_(float(new_scale))
                else:
                    self._scale.copy_(value.reshape(()))
            else:
                founds = [s["found_inf"] for s in self._per_optimizer.values()]
                founds = [f for f in founds if f is not None]
                if not founds:
                    raise RuntimeError("GradScaler.update: no optimizer step was recorded")
                f = founds[0]
                for other in founds[1:]:
                    f = maximum(f, other)
                ok = 1.0 - f
                tracker = (self._growth_tracker + 1.0) * ok  # reset by an overflow
                grow = (tracker >= float(self._growth_interval)).to(dtypes.float32)
                factor = f * self._backoff_factor + ok * (1.0 + grow * (self._growth_factor - 1.0))
                self._scale.copy_(self._scale * factor)
                self._growth_tracker.copy_(tracker * (1.0 - grow))
        self._per_optimizer = {}

    def get_scale(self) -> float:
        """The current scale (a host read), or 1.0 when disabled."""
        if not self._enabled:
            return 1.0
        return self._init_scale if self._scale is None else float(self._scale.item())

    def get_growth_factor(self) -> float:
        return self._growth_factor

    def set_growth_factor(self, new_factor: float) -> None:
        self._growth_factor = float(new_factor)

    def get_backoff_factor(self) -> float:
        return self._backoff_factor

    def set_backoff_factor(self, new_factor: float) -> None:
        self._backoff_factor = float(new_factor)

    def get_growth_interval(self) -> int:
        return self._growth_interval

    def set_growth_interval(self, new_interval: int) -> None:
        self._growth_interval = int(new_interval)

    def _get_growth_tracker(self) -> int:
        if self._growth_tracker is None:
            return int(self._pending_tracker)
        return int(self._growth_tracker.item())

    def state_dict(self) -> dict:
        """PyTorch's keys: scale, growth_factor, backoff_factor, growth_interval and
        _growth_tracker (empty when disabled)."""
        if not self._enabled:
            return {}
        return {
            "scale": self.get_scale(),
            "growth_factor": self._growth_factor,
            "backoff_factor": self._backoff_factor,
            "growth_interval": self._growth_interval,
            "_growth_tracker": self._get_growth_tracker(),
        }

    def load_state_dict(self, state_dict: dict) -> None:
        if not self._enabled:
            return
        if not state_dict:
            raise RuntimeError("GradScaler.load_state_dict: the state dict is empty")
        self._init_scale = float(state_dict["scale"])
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        if self._scale is not None:
            with no_grad():
                self._scale.fill_(self._init_scale)
                self._growth_tracker.fill_(float(state_dict["_growth_tracker"]))
        else:
            self._pending_tracker = float(state_dict["_growth_tracker"])
