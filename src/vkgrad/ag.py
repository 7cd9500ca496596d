"""The ggml-style API: ggmlR's autograd vignette, name for name, over vkgrad's core.

Tensors are column-major in spirit, as in ggmlR: a batch is ``[features, batch]`` (one
column per example), so a linear layer computes ``W @ x + b`` with ``W`` of shape
``[out, in]`` and ``b`` of shape ``[out, 1]``, and softmax runs down each column.

Everything here is a thin layer over vkgrad's tensors, ``nn``, ``optim`` and ``data``: there
are no ops of its own. The differences from R that Python forces:

* Python cannot see a variable's name, so ``ag_param(data, name="W")`` is what keys the
  gradient; an unnamed param gets a stable generated name (``param0``, ``param1``, ... in
  creation order) and ``ag_sequential`` names its own (``0.weight``, ``0.bias``, ...).
* ``with_grad_tape():`` is a context manager; outside one, ``ag_*`` ops record nothing.
* ``backward(loss)`` returns a read-only mapping from parameter name to gradient, each value a
  NumPy array (read from the device when asked for). The gradients stay on the device for
  ``opt.step(grads)``, ``clip_grad_norm`` and ``clip_grad_value``.

>>> W = ag_param([[1.0, 2.0], [3.0, 4.0]], name="W")
>>> x = ag_tensor([[1.0], [1.0]])
>>> with with_grad_tape():
...     loss = ag_sum(ag_matmul(W, x))
>>> backward(loss)["W"].tolist()
[[1.0, 1.0], [1.0, 1.0]]
"""

from __future__ import annotations

import itertools
import math
import warnings
import weakref
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from . import autograd, distributed, nn, optim
from . import functional as F
from .device import Device
from .device import device as _set_device
from .device import dtype as _set_dtype
from .library.random import rand, randperm
from .nn import functional as NF
from .nn.parameter import Parameter
from .tensor import Tensor, tensor

__all__ = [
    "ag_tensor",
    "ag_param",
    "with_grad_tape",
    "backward",
    "ag_matmul",
    "ag_add",
    "ag_sub",
    "ag_mul",
    "ag_scale",
    "ag_relu",
    "ag_sigmoid",
    "ag_tanh",
    "ag_softmax",
    "ag_sum",
    "ag_mean",
    "ag_log",
    "ag_exp",
    "ag_pow",
    "ag_clamp",
    "ag_transpose",
    "ag_reshape",
    "ag_slice_rows",
    "ag_concat_rows",
    "ag_softmax_cross_entropy_loss",
    "ag_mse_loss",
    "ag_sequential",
    "ag_linear",
    "ag_batch_norm",
    "ag_layer_norm",
    "ag_dropout",
    "optimizer_adam",
    "optimizer_sgd",
    "lr_scheduler_cosine",
    "lr_scheduler_step",
    "lr_scheduler_onecycle",
    "lr_scheduler_cyclic",
    "lr_scheduler_warmup_cosine",
    "clip_grad_norm",
    "clip_grad_value",
    "check_grad_anomaly",
    "ag_dataloader",
    "ag_train",
    "ag_eval",
    "ag_device",
    "ag_dtype",
    "dp_train",
]


# ---------------------------------------------------------------- tensors, params, the tape

_names = itertools.count()
# Every live ag_param, so that backward() finds the ones a loss depends on.
_params: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
_tape_depth = 0


def ag_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """A non-trainable tensor (data), ``[features, batch]``: ``ag_tensor(x[:, idx])``."""
    if isinstance(data, Tensor):
        return data.detach()
    return tensor(np.asarray(data, dtype=np.float64), dtype=dtype, device=device)


def ag_param(data: Any, name: str | None = None, dtype: Any = None, device: Any = None):
    """A trainable tensor; ``name`` keys its gradient in ``backward()``'s result.

    >>> W = ag_param(np.zeros((2, 3)), name="W")
    """
    return _register(Parameter(ag_tensor(data, dtype=dtype, device=device)), name)


def _register(p: Parameter, name: str | None = None) -> Parameter:
    p.ag_name = name if name is not None else f"param{next(_names)}"
    _params[id(p)] = p
    return p


class with_grad_tape:
    """Record the ``ag_*`` ops run inside, so that ``backward(loss)`` can differentiate them.

    >>> with with_grad_tape():
    ...     loss = ag_mean(ag_mul(h, h))           # doctest: +SKIP
    """

    def __enter__(self) -> with_grad_tape:
        global _tape_depth
        _tape_depth += 1
        self._mode = autograd.enable_grad()
        self._mode.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        global _tape_depth
        self._mode.__exit__(*exc)
        _tape_depth -= 1


def _taped(fn):
    """Run an ag op with grad recording only inside a tape, as ggmlR's ops do."""

    def run(*args, **kwargs):
        if _tape_depth:
            return fn(*args, **kwargs)
        with autograd.no_grad():
            return fn(*args, **kwargs)

    run.__name__, run.__doc__ = fn.__name__, fn.__doc__
    return run


class Gradients(Mapping):
    """``backward()``'s result: parameter name -> gradient as a NumPy array.

    The gradients live on the device in each parameter's ``.grad``; indexing reads one back.
    """

    def __init__(self, params: dict) -> None:
        self._params = params  # name -> param

    def __getitem__(self, name: str) -> np.ndarray:
        g = self._params[name].grad
        if g is None:
            raise KeyError(f"backward: no gradient for parameter {name!r}")
        return g.numpy()

    def __iter__(self) -> Iterator:
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def params(self) -> dict:
        """name -> parameter (whose ``.grad`` holds the gradient on the device)."""
        return dict(self._params)

    def __repr__(self) -> str:
        return f"Gradients({', '.join(self._params)})"


def backward(loss: Tensor) -> Gradients:
    """Gradients of ``loss`` for every ag_param it depends on, keyed by parameter name.

    Each call computes fresh gradients (they replace, not add to, earlier ones).
    """
    if not isinstance(loss, Tensor) or not loss.requires_grad:
        raise RuntimeError(
            "backward: the loss has no graph; compute it inside `with with_grad_tape():` "
            "from ag_param tensors"
        )
    live = [p for p in _params.values() if p.requires_grad]
    grads = autograd.grad(loss, live, allow_unused=True) if live else ()
    named: dict = {}
    for p, g in zip(live, grads):
        if g is not None:
            if p.ag_name in named:
                raise RuntimeError(
                    f"backward: two parameters of this loss are both named {p.ag_name!r}; "
                    "give them distinct names (ag_param(..., name=...))"
                )
            p.grad = g
            named[p.ag_name] = p
    return Gradients(named)


# ---------------------------------------------------------------- the ops table


@_taped
def ag_matmul(A: Tensor, B: Tensor) -> Tensor:
    """Matrix product ``A @ B``."""
    return F.matmul(A, B)


@_taped
def ag_add(A: Tensor, B: Tensor) -> Tensor:
    """Elementwise sum; a ``[n, 1]`` bias broadcasts over the batch columns."""
    return F.add(A, B)


@_taped
def ag_sub(A: Tensor, B: Tensor) -> Tensor:
    return F.sub(A, B)


@_taped
def ag_mul(A: Tensor, B: Tensor) -> Tensor:
    """Elementwise product."""
    return F.mul(A, B)


@_taped
def ag_scale(x: Tensor, s: float) -> Tensor:
    return F.mul(x, float(s))


@_taped
def ag_relu(x: Tensor) -> Tensor:
    return F.relu(x)


@_taped
def ag_sigmoid(x: Tensor) -> Tensor:
    return F.sigmoid(x)


@_taped
def ag_tanh(x: Tensor) -> Tensor:
    return F.tanh(x)


@_taped
def ag_softmax(x: Tensor) -> Tensor:
    """Softmax down each column (over the features of each example)."""
    return F.softmax(x, 0)


@_taped
def ag_sum(x: Tensor) -> Tensor:
    return F.sum(x)


@_taped
def ag_mean(x: Tensor) -> Tensor:
    return F.mean(x)


@_taped
def ag_log(x: Tensor) -> Tensor:
    return F.log(x)


@_taped
def ag_exp(x: Tensor) -> Tensor:
    return F.exp(x)


@_taped
def ag_pow(x: Tensor, p: float) -> Tensor:
    return F.pow(x, float(p))


@_taped
def ag_clamp(x: Tensor, lo: float | None = None, hi: float | None = None) -> Tensor:
    return F.clamp(x, lo, hi)


@_taped
def ag_transpose(x: Tensor) -> Tensor:
    """``[m, n] -> [n, m]``."""
    return F.transpose(x, 0, 1)


@_taped
def ag_reshape(x: Tensor, dims) -> Tensor:
    """Reshape as R does: the elements keep their column-major (first index fastest) order."""
    rev = tuple(range(x.ndim - 1, -1, -1))
    dims = tuple(int(d) for d in dims)
    y = F.reshape(F.permute(x, rev), dims[::-1])
    return F.permute(y, tuple(range(len(dims) - 1, -1, -1)))


@_taped
def ag_slice_rows(x: Tensor, start: int, n: int) -> Tensor:
    """Rows ``start .. start + n - 1`` (0-based ``start``); gradient zero outside them."""
    return x[int(start) : int(start) + int(n)]


@_taped
def ag_concat_rows(a: Tensor, b: Tensor) -> Tensor:
    """``rbind(a, b)``: same number of columns; the gradient splits back by rows."""
    return F.cat([a, b], 0)


def _target(y: Any, like: Tensor) -> Tensor:
    if isinstance(y, Tensor):
        return y.detach().to(like.dtype)
    return tensor(np.asarray(y, dtype=np.float64), dtype=like.dtype, device=like.device)


@_taped
def ag_softmax_cross_entropy_loss(logits: Tensor, y: Any) -> Tensor:
    """Fused softmax + cross entropy, averaged over the batch; ``y`` is one-hot (or
    probabilities), ``[classes, batch]`` like the logits."""
    target = _target(y, logits)
    if tuple(target.shape) != tuple(logits.shape):
        raise ValueError(
            f"ag_softmax_cross_entropy_loss: targets of shape {tuple(target.shape)} do not "
            f"match logits of shape {tuple(logits.shape)} ([classes, batch])"
        )
    return NF.cross_entropy(F.transpose(logits, 0, 1), F.transpose(target, 0, 1))


@_taped
def ag_mse_loss(pred: Tensor, y: Any) -> Tensor:
    return NF.mse_loss(pred, _target(y, pred))


# ---------------------------------------------------------------- layers and models


_ACTIVATIONS = {
    None: None,
    "none": None,
    "relu": F.relu,
    "sigmoid": F.sigmoid,
    "tanh": F.tanh,
    "gelu": F.gelu,
    "silu": F.silu,
    "softmax": lambda x: F.softmax(x, 0),
}


class _Layer(nn.Module):
    """An ag layer: an nn.Module whose parameters are ag_params, with ``.forward(x)`` and
    ``.parameters()`` returning a list (R's list)."""

    def parameters(self, recurse: bool = True) -> list:  # type: ignore[override]
        return list(super().parameters(recurse))

    def __call__(self, x):
        return _taped(super().__call__)(x)


class ag_linear(_Layer):
    """``activation(W @ x + b)``: ``W`` ``[out, in]`` (He uniform for relu, else Glorot
    uniform), ``b`` ``[out, 1]`` zeros."""

    def __init__(self, in_features: int, out_features: int, activation: str | None = None):
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"ag_linear: unknown activation {activation!r}; "
                f"choose from {sorted(k for k in _ACTIVATIONS if k)}"
            )
        gain = math.sqrt(2.0) if activation == "relu" else 1.0
        bound = gain * math.sqrt(6.0 / (in_features + out_features))
        # Drawn by the cpu's default generator (vkgrad.manual_seed), as nn.Linear's init draws.
        w = rand(out_features, in_features, dtype="f64", device="cpu").numpy() * 2 * bound - bound
        self.weight = ag_param(w)
        self.bias = ag_param(np.zeros((out_features, 1)))
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        y = F.add(F.matmul(self.weight, x), self.bias)
        act = _ACTIVATIONS[self.activation]
        return act(y) if act is not None else y

    def extra_repr(self) -> str:
        out_f, in_f = self.weight.shape
        return f"{in_f} -> {out_f}, activation={self.activation}"


class ag_batch_norm(_Layer):
    """Normalizes each feature (row) across the batch; running statistics for eval."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        self.bn = nn.BatchNorm1d(num_features, eps=eps, momentum=momentum)
        _register(self.bn.weight)
        _register(self.bn.bias)

    def forward(self, x: Tensor) -> Tensor:
        return F.transpose(self.bn(F.transpose(x, 0, 1)), 0, 1)


class ag_layer_norm(_Layer):
    """Normalizes each example (column) across its features; the same in train and eval."""

    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__()
        self.ln = nn.LayerNorm(num_features, eps=eps)
        _register(self.ln.weight)
        _register(self.ln.bias)

    def forward(self, x: Tensor) -> Tensor:
        return F.transpose(self.ln(F.transpose(x, 0, 1)), 0, 1)


class ag_dropout(_Layer):
    """Zeroes each element with probability ``p`` in training (scaling the rest by
    ``1 / (1 - p)``); the identity in eval."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        self.drop = nn.Dropout(p)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(x)


class ag_sequential(_Layer):
    """Layers applied in order; parameters named by position (``0.weight``, ``0.bias``, ...;
    a batch norm's are ``1.bn.weight``).

    >>> model = ag_sequential(ag_linear(4, 8, activation="relu"), ag_linear(8, 3))
    >>> [p.ag_name for p in model.parameters()]
    ['0.weight', '0.bias', '1.weight', '1.bias']
    """

    def __init__(self, *layers: nn.Module):
        super().__init__()
        for i, layer in enumerate(layers):
            self.add_module(str(i), layer)
        for name, p in super().named_parameters():
            p.ag_name = name

    def forward(self, x: Tensor) -> Tensor:
        for layer in self._modules.values():
            x = layer(x)
        return x


def ag_train(model: nn.Module) -> nn.Module:
    """Training mode: dropout active, batch norm on batch statistics."""
    return model.train()


def ag_eval(model: nn.Module) -> nn.Module:
    """Eval mode: dropout off, batch norm on its running statistics."""
    return model.eval()


# ---------------------------------------------------------------- optimizers, schedulers


def _param_list(params: Any) -> list:
    if isinstance(params, Mapping):
        for name, p in params.items():
            if getattr(p, "ag_name", None) is None or p.ag_name.startswith("param"):
                p.ag_name = name
        return list(params.values())
    return list(params)


class _Optimizer:
    """An ag optimizer: ``opt.step(grads)`` with ``backward()``'s gradients, ``zero_grad()``."""

    def __init__(self, params: Any, inner: optim.Optimizer) -> None:
        self.params = _param_list(params)
        self.inner = inner

    @property
    def param_groups(self) -> list:
        return self.inner.param_groups

    @property
    def lr(self) -> float:
        return self.inner.param_groups[0]["lr"]

    def step(self, grads: Mapping | None = None) -> None:
        if grads is not None and not isinstance(grads, Gradients):
            # Plain name -> array dicts: put the values where the optimizer reads them.
            by_name = {p.ag_name: p for p in self.params}
            for name, g in grads.items():
                p = by_name.get(name)
                if p is None:
                    raise KeyError(f"optimizer.step: no parameter named {name!r}")
                p.grad = tensor(np.asarray(g), dtype=p.dtype, device=p.device)
        self.inner.step()

    def zero_grad(self) -> None:
        self.inner.zero_grad(set_to_none=True)


def optimizer_adam(
    params: Any, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0
) -> _Optimizer:
    ps = _param_list(params)
    return _Optimizer(ps, optim.Adam(ps, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))


def optimizer_sgd(
    params: Any,
    lr: float = 0.01,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
) -> _Optimizer:
    ps = _param_list(params)
    inner = optim.SGD(ps, lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov)
    return _Optimizer(ps, inner)


def lr_scheduler_cosine(
    opt: _Optimizer, T_max: int, lr_min: float = 0.0, restart: bool = False, T_mult: int = 1
):
    """Cosine annealing from the current lr to ``lr_min`` over ``T_max`` steps; with
    ``restart``, warm restarts (SGDR) whose cycles grow ``T_mult`` times."""
    sched = optim.lr_scheduler
    if restart:
        return sched.CosineAnnealingWarmRestarts(
            opt.inner, T_0=int(T_max), T_mult=int(T_mult), eta_min=lr_min
        )
    return sched.CosineAnnealingLR(opt.inner, T_max=int(T_max), eta_min=lr_min)


def lr_scheduler_step(opt: _Optimizer, step_size: int, gamma: float = 0.1):
    """Multiply the lr by ``gamma`` every ``step_size`` steps."""
    return optim.lr_scheduler.StepLR(opt.inner, step_size=int(step_size), gamma=gamma)


def lr_scheduler_onecycle(opt: _Optimizer, max_lr: float, total_steps: int):
    """1cycle: the lr rises to ``max_lr`` then falls; momentum (Adam's beta1) moves inversely."""
    return optim.lr_scheduler.OneCycleLR(opt.inner, max_lr=max_lr, total_steps=int(total_steps))


def lr_scheduler_cyclic(
    opt: _Optimizer,
    base_lr: float,
    max_lr: float,
    step_size_up: int = 2000,
    mode: str = "triangular",
):
    """Cyclic lr between ``base_lr`` and ``max_lr`` ("triangular", "triangular2", "exp_range")."""
    return optim.lr_scheduler.CyclicLR(
        opt.inner,
        base_lr=base_lr,
        max_lr=max_lr,
        step_size_up=int(step_size_up),
        mode=mode,
        cycle_momentum=False,
    )


def lr_scheduler_warmup_cosine(
    opt: _Optimizer, warmup_steps: int, total_steps: int, lr_min: float = 0.0
):
    """Linear warmup over ``warmup_steps``, then cosine decay to ``lr_min``."""
    s = optim.lr_scheduler
    warm = s.LinearLR(
        opt.inner, start_factor=1.0 / max(int(warmup_steps), 1), total_iters=int(warmup_steps)
    )
    cos = s.CosineAnnealingLR(
        opt.inner, T_max=max(int(total_steps) - int(warmup_steps), 1), eta_min=lr_min
    )
    return s.SequentialLR(opt.inner, [warm, cos], milestones=[int(warmup_steps)])


# ---------------------------------------------------------------- gradient utilities


def _grad_params(params: Any, grads: Mapping) -> list:
    if isinstance(grads, Gradients):
        return list(grads.params().values())
    return [p for p in _param_list(params) if p.grad is not None]


def clip_grad_norm(params: Any, grads: Mapping, max_norm: float) -> float:
    """Rescale every gradient by one factor so their global L2 norm is at most ``max_norm``;
    returns the norm before clipping."""
    total = nn.utils.clip_grad_norm_(_grad_params(params, grads), max_norm)
    return float(total.item())


def clip_grad_value(params: Any, grads: Mapping, clip_value: float) -> None:
    """Clamp every gradient element into ``[-clip_value, clip_value]``."""
    nn.utils.clip_grad_value_(_grad_params(params, grads), clip_value)


def check_grad_anomaly(
    params: Any, grads: Mapping, action: str = "warn", max_abs: float | None = None
) -> list:
    """Names of the parameters whose gradient holds NaN/Inf (or exceeds ``max_abs``);
    ``action`` "warn" (default), "stop" (raise) or "silent"."""
    if action not in ("warn", "stop", "silent"):
        raise ValueError(f"check_grad_anomaly: action must be warn, stop or silent, got {action!r}")
    bad = []
    for p in _grad_params(params, grads):
        g = p.grad.numpy()
        if not np.isfinite(g).all() or (max_abs is not None and np.abs(g).max() > max_abs):
            bad.append(p.ag_name)
    if bad and action == "stop":
        raise FloatingPointError(f"check_grad_anomaly: anomalous gradients in {bad}")
    if bad and action == "warn":
        warnings.warn(f"check_grad_anomaly: anomalous gradients in {bad}", stacklevel=2)
    return bad


# ---------------------------------------------------------------- data


class _Batch:
    def __init__(self, x: Tensor, y: Tensor) -> None:
        self.x, self.y = x, y


class ag_dataloader:
    """Column-major batches: ``for batch in dl.epoch(): batch.x, batch.y`` (ag_tensors)."""

    def __init__(
        self,
        x: Any,
        y: Any,
        batch_size: int = 32,
        shuffle: bool = True,
        dtype: Any = None,
        device: Any = None,
    ):
        self.x, self.y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        if self.x.shape[-1] != self.y.shape[-1]:
            raise ValueError(
                f"ag_dataloader: x has {self.x.shape[-1]} columns (examples) but y has "
                f"{self.y.shape[-1]}"
            )
        self.batch_size, self.shuffle = int(batch_size), shuffle
        self.dtype, self.device = dtype, device

    def __len__(self) -> int:
        return math.ceil(self.x.shape[-1] / self.batch_size)

    def epoch(self) -> Iterator:
        n = self.x.shape[-1]
        order = randperm(n, device="cpu").numpy() if self.shuffle else np.arange(n)
        for s in range(0, n, self.batch_size):
            idx = order[s : s + self.batch_size]
            yield _Batch(
                ag_tensor(self.x[..., idx], self.dtype, self.device),
                ag_tensor(self.y[..., idx], self.dtype, self.device),
            )


# ---------------------------------------------------------------- devices and dtypes


def ag_device(spec: str | None = None) -> Device:
    """Set the default device ("gpu", "cpu", "vulkan", ...); "gpu" raises where none exists."""
    if spec is None:
        return _set_device()
    _set_device(spec)
    return _set_device()


def ag_dtype(spec: str | None = None):
    """Set the default dtype ("f16", "f32"): every later ag_param / ag_tensor uses it."""
    if spec is None:
        return _set_dtype()
    _set_dtype(spec)
    return _set_dtype()


# ---------------------------------------------------------------- data-parallel training


def dp_train(
    make_model,
    data: Any,
    loss_fn=None,
    forward_fn=None,
    target_fn=None,
    n_iter: int = 10,
    lr: float = 1e-3,
    max_norm: float = math.inf,
    verbose: int | bool = 10,
    batch_size: int | None = None,
    device: Any = None,
) -> dict:
    """ggmlR's ``dp_train``, across the processes of an MPI job: run the same call on every
    rank (``mpirun -np 4 python train.py``); each rank trains a replica of
    ``make_model()`` on its shard of every batch, and the replicas' gradients are averaged
    (``DistributedDataParallel``), so they stay identical.

    ``data`` is a list of samples (ggmlR's form), or a pair ``(x, y)`` of column-major
    arrays ``[features, examples]`` (``ag_dataloader``'s), whose columns are the samples.
    Each iteration is one pass over ``data`` in order, in batches of ``batch_size`` samples
    (default: the world size, one sample per rank per step as in ggmlR); rank r takes the
    r-th of ``world_size`` near-equal parts of each batch. For a list, rank r runs
    ``forward_fn(model, sample)`` (default ``model(sample)``) on each of its samples and
    ``loss_fn(output, target_fn(sample))`` (default target: the sample; without loss_fn,
    forward_fn returns the loss). For arrays, ``forward_fn(model, x_part)`` and
    ``loss_fn(output, y_part)``, the loss being the mean over the part. Either way the
    gradients are those of the mean loss over the whole batch, whatever the split.

    Adam with ``lr``; ``max_norm`` clips the averaged gradients' global norm. ``device``:
    by default this rank's device, ``vkgrad.distributed.local_device()`` (a Vulkan GPU by
    local rank, else the cpu). The process group is initialized if it is not (a plain
    ``python train.py`` is a job of one). ``verbose`` prints the loss on rank 0 every that
    many iterations (False: never).

    Returns ``{"model", "params", "loss_history"}``: this rank's trained model (the same on
    every rank), its parameters by name as NumPy arrays, and the mean loss per sample of
    each iteration, over every rank's samples.

    >>> result = dp_train(                                         # doctest: +SKIP
    ...     make_model=lambda: ag_sequential(ag_linear(4, 32, "relu"), ag_linear(32, 3)),
    ...     data=(x, y_onehot),
    ...     loss_fn=ag_softmax_cross_entropy_loss,
    ...     n_iter=50, lr=1e-2, batch_size=32)
    >>> result["loss_history"][-1] < result["loss_history"][0]     # doctest: +SKIP
    True
    """
    if not distributed.is_initialized():
        distributed.init_process_group("mpi")
    rank, world = distributed.get_rank(), distributed.get_world_size()
    columns = isinstance(data, tuple) and len(data) == 2 and not isinstance(data[0], Tensor)
    if columns:
        xs, ys = np.asarray(data[0]), np.asarray(data[1])
        if xs.shape[-1] != ys.shape[-1]:
            raise ValueError(
                f"dp_train: x has {xs.shape[-1]} columns (examples) but y has {ys.shape[-1]}"
            )
        if loss_fn is None:
            raise ValueError("dp_train: with (x, y) arrays as data, loss_fn is required")
        n = xs.shape[-1]
    else:
        data = list(data)
        n = len(data)
        if loss_fn is None and forward_fn is None:
            raise ValueError("dp_train: give loss_fn, or a forward_fn that returns the loss itself")
    if n == 0:
        raise ValueError("dp_train: data is empty")
    batch = world if batch_size is None else int(batch_size)
    if batch < 1:
        raise ValueError(f"dp_train: batch_size must be positive, got {batch_size}")
    dev = Device.parse(device) if device is not None else distributed.local_device()
    with _set_device(dev):
        model = make_model().to(dev)
        # One DDP forward per step computes this rank's whole share of the batch (DDP takes
        # one forward per backward; a list's samples each need a forward of the model).
        step = nn.parallel.DistributedDataParallel(
            _ShardLoss(model, loss_fn, forward_fn, target_fn)
        )
        params = list(model.parameters())
        opt = optim.Adam(params, lr=lr)
        history: list = []
        for it in range(int(n_iter)):
            total = 0.0
            for start in range(0, n, batch):
                idx = np.arange(start, min(start + batch, n))
                mine = np.array_split(idx, world)[rank]
                weight = 1.0
                if len(mine) == 0:
                    # Fewer samples than ranks (a last, short batch): this rank weighs one
                    # sample by 0, taking part in the averaging the others wait for while
                    # adding nothing to it.
                    mine, weight = idx[:1], 0.0
                opt.zero_grad()
                with with_grad_tape():
                    if columns:
                        loss_sum = step(xs[..., mine], ys[..., mine])
                    else:
                        loss_sum = step([data[i] for i in mine])
                    loss_sum = F.mul(loss_sum, weight)
                    # DDP averages over the ranks: scaling by world / batch makes the result
                    # the gradient of the mean over the whole batch, however it was split.
                    F.mul(loss_sum, world / len(idx)).backward()
                if math.isfinite(max_norm):
                    nn.utils.clip_grad_norm_(params, max_norm)
                opt.step()
                total += float(loss_sum.item())
            summed = tensor([total], dtype="f64", device="cpu")
            distributed.all_reduce(summed)
            history.append(float(summed.item()) / n)
            if verbose and rank == 0 and (it + 1) % int(verbose) == 0:
                print(f"dp_train: iter {it + 1}/{n_iter}  loss {history[-1]:.6f}", flush=True)
    named = {name: p.detach().numpy() for name, p in model.named_parameters()}
    return {"model": model, "params": named, "loss_history": history}


class _ShardLoss(nn.Module):
    """The summed loss of one rank's samples: ``forward(x, y)`` for column-major arrays (the
    loss of ``loss_fn``, a mean, times the number of columns), ``forward(samples)`` for a
    list of samples."""

    def __init__(self, model, loss_fn, forward_fn, target_fn) -> None:
        super().__init__()
        self.model = model
        self._fns = (loss_fn, forward_fn, target_fn)

    def forward(self, x: Any, y: Any = None) -> Tensor:
        loss_fn, forward_fn, target_fn = self._fns
        if y is not None:
            x = ag_tensor(x)
            out = self.model(x) if forward_fn is None else forward_fn(self.model, x)
            return F.mul(loss_fn(out, y), float(x.shape[-1]))
        terms = []
        for sample in x:
            out = forward_fn(self.model, sample) if forward_fn is not None else self.model(sample)
            if loss_fn is not None:
                out = loss_fn(out, target_fn(sample) if target_fn is not None else sample)
            terms.append(out)
        return F.sum(F.stack(terms)) if len(terms) > 1 else terms[0]
