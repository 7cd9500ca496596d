"""L-BFGS, with an optional strong-Wolfe line search: PyTorch's algorithm (after minFunc),
on flat vectors of the parameters kept on their device.

Every vector operation (the two-loop recursion's dot products and axpys, the parameter
moves) is a tensor op on the parameters' device; the scalars that steer the algorithm (the
loss, curvature ys, step lengths, convergence tests) are read back to the host on every
iteration, as the algorithm branches on them. That is also why L-BFGS cannot run inside
``vkgrad.capture``: a replay could not repeat those reads.
"""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Iterable
from typing import Any, Callable

from .. import capturing, dtypes
from ..autograd import enable_grad, no_grad
from ..library.linalg import dot
from ..library.shape import cat
from ..tensor import Tensor, zeros
from .optimizer import Optimizer, check_value


def _count(v: Any) -> bool:
    """An int >= 1 (NumPy ints too; not bools)."""
    return isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1


def _dot(a: Tensor, b: Tensor) -> float:
    return float(dot(a, b).item())


def _max_abs(a: Tensor) -> float:
    return float(a.abs().max().item())


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None) -> float:
    """The minimiser of the cubic through (x1, f1) and (x2, f2) with slopes g1 and g2,
    clamped to ``bounds`` (default: between x1 and x2); the middle when it has none."""
    lo, hi = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    disc = d1 * d1 - g1 * g2
    if disc < 0:
        return (lo + hi) / 2.0
    d2 = math.sqrt(disc)
    if x1 <= x2:
        x = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        x = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(x, lo), hi)


def _strong_wolfe(evaluate, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """A step length along ``d`` meeting the strong Wolfe conditions (sufficient decrease
    c1, curvature c2), from ``t``: bracketing, then zooming with cubic interpolation
    (Nocedal & Wright, algorithms 3.5 and 3.6, as minFunc and PyTorch do it).

    ``evaluate(t)`` returns (loss, flat gradient) at x + t d with x left unchanged.
    Returns (loss, flat gradient, t, evaluations).
    """
    d_norm = _max_abs(d)
    f_new, g_new = evaluate(t)
    evals = 1
    gtd_new = _dot(g_new, d)

    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    ls_iter = 0
    # Bracketing: grow t until an interval surely holds a point meeting the conditions.
    while ls_iter < max_ls:
        if f_new > f + c1 * t * gtd or (ls_iter > 1 and f_new >= f_prev):
            bracket = [t_prev, t]
            bracket_f, bracket_g = [f_prev, f_new], [g_prev, g_new]
            bracket_gtd = [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket = [t_prev, t]
            bracket_f, bracket_g = [f_prev, f_new], [g_prev, g_new]
            bracket_gtd = [gtd_prev, gtd_new]
            break
        # Extrapolate: a cubic step, at least 1% past t and at most 10 t.
        lo, hi = t + 0.01 * (t - t_prev), t * 10
        t_prev, t = t, _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, (lo, hi))
        f_prev, g_prev, gtd_prev = f_new, g_new, gtd_new
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = _dot(g_new, d)
        ls_iter += 1
    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g = [0.0, t], [f, f_new], [g, g_new]

    # Zoom: shrink the bracket until a point meets the conditions.
    insufficient = False
    low, high = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break  # the bracket is too small to move the parameters
        t = _cubic_interpolate(
            bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1]
        )
        # A trial within 10% of the bracket's ends makes little progress: the second time in
        # a row (or at an end), move it to 10% inside the nearer end.
        b_lo, b_hi = min(bracket), max(bracket)
        margin = 0.1 * (b_hi - b_lo)
        if min(b_hi - t, t - b_lo) < margin:
            if insufficient or t >= b_hi or t <= b_lo:
                t = b_hi - margin if abs(t - b_hi) < abs(t - b_lo) else b_lo + margin
                insufficient = False
            else:
                insufficient = True
        else:
            insufficient = False
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = _dot(g_new, d)
        ls_iter += 1
        if f_new > f + c1 * t * gtd or f_new >= bracket_f[low]:
            # Not enough decrease, or not below the low end: t becomes the high end.
            bracket[high], bracket_f[high] = t, f_new
            bracket_g[high], bracket_gtd[high] = g_new, gtd_new
            low, high = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high] - bracket[low]) >= 0:
                # The minimum lies on the other side of t: the old low end becomes the high.
                bracket[high], bracket_f[high] = bracket[low], bracket_f[low]
                bracket_g[high], bracket_gtd[high] = bracket_g[low], bracket_gtd[low]
            bracket[low], bracket_f[low] = t, f_new
            bracket_g[low], bracket_gtd[low] = g_new, gtd_new
    return bracket_f[low], bracket_g[low], bracket[low], evals


class LBFGS(Optimizer):
    """PyTorch's L-BFGS: ``step(closure)`` runs up to ``max_iter`` iterations, each calling
    ``closure`` (which zeroes the gradients, computes the loss, calls ``backward`` and
    returns the loss) once, or several times with ``line_search_fn="strong_wolfe"``.

    One parameter group only. The search direction, the gradient and the ``history_size``
    last curvature pairs are flat vectors on the parameters' device (float32, or float64
    for float64 parameters; float16 parameters are moved by steps rounded to float16).
    State (``state_dict``): ``func_evals``, ``n_iter``, ``d``, ``t``, ``old_dirs``,
    ``old_stps``, ``ro``, ``H_diag``, ``prev_flat_grad``, ``prev_loss`` and ``al``, kept
    under the first parameter as PyTorch does; scalars are Python floats.

    L-BFGS reads the loss and several dot products on the host every iteration, so it
    cannot be used inside ``vkgrad.capture`` (it raises a ``CaptureError``).

    >>> opt = vkgrad.optim.LBFGS(model.parameters(), line_search_fn="strong_wolfe")
    >>> def closure():
    ...     opt.zero_grad()
    ...     loss = F.mse_loss(model(x), y)
    ...     loss.backward()
    ...     return loss
    >>> opt.step(closure)
    """

    # step() needs its closure and reads values: a capture never records it (it refuses).
    _replayable = False

    def __init__(
        self,
        params: Iterable,
        lr: float = 1,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        history_size: int = 100,
        line_search_fn: str | None = None,
    ) -> None:
        name = "LBFGS"
        check_value(name, "learning rate", lr)
        if max_eval is None and _count(max_iter):
            max_eval = max_iter * 5 // 4
        for what, v in (
            ("max_iter", max_iter),
            ("max_eval", max_eval),
            ("history_size", history_size),
        ):
            if not _count(v):
                raise ValueError(f"{name}: Invalid {what}: {v!r} (expected an int >= 1)")
        check_value(name, "tolerance_grad", tolerance_grad)
        check_value(name, "tolerance_change", tolerance_change)
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(
                f"{name}: Invalid line_search_fn: {line_search_fn!r} (only None and "
                "'strong_wolfe' are supported)"
            )
        defaults = dict(
            lr=lr,
            max_iter=max_iter,
            max_eval=max_eval,
            tolerance_grad=tolerance_grad,
            tolerance_change=tolerance_change,
            history_size=history_size,
            line_search_fn=line_search_fn,
        )
        super().__init__(params, defaults)  # add_param_group refuses a second group
        self._params = self.param_groups[0]["params"]
        devices = {p.device for p in self._params}
        if len(devices) != 1:
            shown = ", ".join(sorted(str(d) for d in devices))
            raise ValueError(f"LBFGS: all parameters must be on one device, got {shown}")
        # f64 parameters keep f64 vectors; f32 and f16 ones work in f32.
        f64 = all(p.dtype is dtypes.float64 for p in self._params)
        self._dtype = dtypes.float64 if f64 else dtypes.float32
        self._device = self._params[0].device

    def add_param_group(self, param_group: dict) -> None:
        if self.param_groups:
            raise ValueError(
                "LBFGS doesn't support per-parameter options (parameter groups): it has one already"
            )
        super().add_param_group(param_group)

    # ------------------------------------------------------------ flat views

    def _numel(self) -> int:
        return sum(p.numel() for p in self._params)

    def _gather_flat_grad(self) -> Tensor:
        views = []
        for p in self._params:
            g = p.grad
            if g is None:
                views.append(zeros(p.numel(), dtype=self._dtype, device=self._device))
            else:
                views.append(g.reshape(-1).to(self._dtype))
        # A fresh vector: the closure may zero and refill the gradients in place later.
        return cat(views, 0) if len(views) > 1 else views[0].clone()

    def _add_grad(self, step: float, d: Tensor) -> None:
        """p += step * d, each parameter from its slice of the flat ``d``."""
        offset = 0
        for p in self._params:
            n = p.numel()
            move = (d[offset : offset + n] * step).reshape(p.shape)
            p.add_(move.to(p.dtype))
            offset += n

    def _clone_params(self) -> list:
        return [p.detach().clone() for p in self._params]

    def _set_params(self, saved: list) -> None:
        for p, x in zip(self._params, saved):
            p.copy_(x)

    def _loaded_state(self, p: Tensor, idx: Any, key: str, value: Any) -> Any:
        # The state holds flat vectors of all the parameters (and lists of them), not
        # tensors of p's shape.
        if isinstance(value, list):
            return [self._loaded_state(p, idx, key, v) for v in value]
        if not isinstance(value, Tensor):
            return copy.deepcopy(value)
        n = self._numel()
        if tuple(value.shape) != (n,):
            raise ValueError(
                f"LBFGS: loaded state '{key}' has shape {tuple(value.shape)}, expected a flat "
                f"vector of the parameters' {n} elements"
            )
        with no_grad():
            return value.detach().to(self._device, self._dtype).clone()

    # ------------------------------------------------------------ the step

    def step(self, closure: Callable | None = None) -> Any:  # type: ignore[override]
        if capturing.ACTIVE is not None:
            raise capturing.CaptureError(
                "capture: LBFGS.step() cannot run inside vkgrad.capture: it calls its closure "
                "several times and reads the loss and dot products on the host to choose its "
                "steps, which a replay could not repeat. Call it outside the captured function"
            )
        if closure is None or not callable(closure):
            raise TypeError(
                "LBFGS.step() needs a closure that zeroes the gradients, computes the loss, "
                f"calls backward() and returns the loss; got {closure!r}"
            )
        with no_grad():
            return self._step(closure)

    def _loss(self, closure: Callable) -> tuple:
        with enable_grad():
            out = closure()
        return out, float(out)

    def _step(self, closure: Callable) -> Any:
        group = self.param_groups[0]
        lr = float(group["lr"])
        max_iter, max_eval = int(group["max_iter"]), int(group["max_eval"])
        tolerance_grad = float(group["tolerance_grad"])
        tolerance_change = float(group["tolerance_change"])
        line_search_fn = group["line_search_fn"]
        history_size = int(group["history_size"])

        # L-BFGS's state is global; PyTorch keeps it under the first parameter.
        state = self._lazy_state(self._params[0])
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss, loss = self._loss(closure)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._gather_flat_grad()
        if _max_abs(flat_grad) <= tolerance_grad:
            return orig_loss  # already optimal

        d = state.get("d")
        t = state.get("t")
        old_dirs = state.get("old_dirs")
        old_stps = state.get("old_stps")
        ro = state.get("ro")
        H_diag = state.get("H_diag")
        prev_flat_grad = state.get("prev_flat_grad")
        prev_loss = state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1

            # ---- the search direction
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1.0
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = _dot(y, s)
                if ys > 1e-10:  # keep only pairs of positive curvature
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / _dot(y, y)  # the initial inverse Hessian's scale
                # The two-loop recursion: d = -H g with H the L-BFGS inverse Hessian.
                num_old = len(old_dirs)
                if "al" not in state:
                    state["al"] = [None] * history_size
                al = state["al"]
                q = -flat_grad
                for i in range(num_old - 1, -1, -1):
                    al[i] = _dot(old_stps[i], q) * ro[i]
                    q.add_(old_dirs[i], alpha=-al[i])
                d = r = q * H_diag
                for i in range(num_old):
                    be_i = _dot(old_dirs[i], r) * ro[i]
                    r.add_(old_stps[i], alpha=al[i] - be_i)

            if prev_flat_grad is None:
                prev_flat_grad = flat_grad.clone()
            else:
                prev_flat_grad.copy_(flat_grad)
            prev_loss = loss

            # ---- the step length
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / float(flat_grad.abs().sum().item())) * lr
            else:
                t = lr
            gtd = _dot(flat_grad, d)  # the directional derivative
            if gtd > -tolerance_change:
                break  # not a descent direction any more

            ls_func_evals = 0
            if line_search_fn == "strong_wolfe":
                x_init = self._clone_params()

                def evaluate(step: float, x_init=x_init, d=d) -> tuple:
                    self._add_grad(step, d)
                    _, f = self._loss(closure)
                    g = self._gather_flat_grad()
                    self._set_params(x_init)
                    return f, g

                loss, flat_grad, t, ls_func_evals = _strong_wolfe(
                    evaluate, t, d, loss, flat_grad, gtd, max_ls=max_eval - current_evals
                )
                self._add_grad(t, d)
                opt_cond = _max_abs(flat_grad) <= tolerance_grad
            else:
                self._add_grad(t, d)
                opt_cond = False
                if n_iter != max_iter:
                    # The last iteration does not re-evaluate: with a stochastic closure the
                    # value would not be used.
                    _, loss = self._loss(closure)
                    flat_grad = self._gather_flat_grad()
                    opt_cond = _max_abs(flat_grad) <= tolerance_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals

            # ---- stopping tests
            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if _max_abs(d * t) <= tolerance_change:
                break  # the parameters barely move
            if abs(loss - prev_loss) < tolerance_change:
                break  # the loss barely changes

        state["d"] = d
        state["t"] = t
        state["old_dirs"] = old_dirs
        state["old_stps"] = old_stps
        state["ro"] = ro
        state["H_diag"] = H_diag
        state["prev_flat_grad"] = prev_flat_grad
        state["prev_loss"] = prev_loss
        return orig_loss
