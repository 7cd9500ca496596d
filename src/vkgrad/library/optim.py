"""Optimizer updates: one row per optimizer, run in place on the parameter, its gradient and
its state (f32 master weights for f16 parameters), with no output.

The optimizers in ``vkgrad/optim/`` call these rows through ``functional.update``; the attrs
travel as one small f32 array so that a captured step can rewrite the learning rate and the
step counts between replays (see each shader's header for the binding order).
"""

from __future__ import annotations

import numpy as np

from .. import capturing, dtypes, ops
from ..ops import row

__all__: list[str] = []
NN_FUNCTIONAL: list[str] = []
# Exported by ``vkgrad.functional`` only: helpers other families and layers use.
FUNCTIONAL: list[str] = ["update"]
TENSOR_METHODS: dict = {}


def _NO_OUTPUT(in_shapes, attrs) -> tuple:
    return ()


# Optimizer updates, in place. Inputs in binding order; see each shader's header.
_ADAM = ("lr", "beta1", "beta2", "eps", "weight_decay", "bias1", "bias2", "decoupled")
row("adam_step", "update", 6, attrs=(*_ADAM, "amsgrad", "maximize"), shape=_NO_OUTPUT)
_SGD = ("lr", "momentum", "dampening", "weight_decay", "nesterov", "first_step")
row("sgd_step", "update", 4, attrs=(*_SGD, "maximize"), shape=_NO_OUTPUT)
_RMSPROP = ("lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize")
row("rmsprop_step", "update", 6, attrs=_RMSPROP, shape=_NO_OUTPUT)
row("adagrad_step", "update", 4, attrs=("clr", "weight_decay", "eps", "maximize"), shape=_NO_OUTPUT)
_ADADELTA = ("lr", "rho", "eps", "weight_decay", "maximize")
row("adadelta_step", "update", 5, attrs=_ADADELTA, shape=_NO_OUTPUT)
# clr = lr / (1 - beta1^t), worked out on the host.
_ADAMAX = ("clr", "beta1", "beta2", "eps", "weight_decay", "maximize")
row("adamax_step", "update", 5, attrs=_ADAMAX, shape=_NO_OUTPUT)
# NAdam's momentum schedule (mu_t, the running product of the mu's) lives on the host: the
# kernel gets the two step sizes it implies, gcoef for g_ and mcoef for m (see nadam_step.comp).
_NADAM = ("lr", "beta1", "beta2", "eps", "weight_decay", "decoupled", "bias2", "gcoef", "mcoef")
row("nadam_step", "update", 5, attrs=(*_NADAM, "maximize"), shape=_NO_OUTPUT)
# RAdam's rectification branch depends on the step count alone: the host decides it
# (rectified) and passes the factor rect sqrt(1 - beta2^t) with it.
_RADAM = ("lr", "beta1", "beta2", "eps", "weight_decay", "decoupled", "bias1", "rectified")
row("radam_step", "update", 5, attrs=(*_RADAM, "rect", "maximize"), shape=_NO_OUTPUT)
_ASGD = ("eta", "lambd", "mu", "weight_decay", "maximize")
row("asgd_step", "update", 4, attrs=_ASGD, shape=_NO_OUTPUT)


# ---------------------------------------------------------------- running an update row


def update(name: str, *tensors, **attrs) -> None:
    """Run an in-place ``update`` row (an optimizer step) on the tensors' device.

    The row's attrs travel to the kernel as a small array of their own (f64 on the cpu, f32
    on Vulkan), not as constants baked into the dispatch, so that a captured step
    (``vkgrad.capture``) replays with the new learning rate and bias corrections.
    No graph is recorded; every tensor's version goes up, as for any in-place op.
    """
    update_many(name, [tensors], **attrs)


def update_many(name: str, tensor_sets: list, **attrs) -> None:
    """``update(name, *tensors, **attrs)`` for each tuple in ``tensor_sets`` (one per
    parameter), all with the same attrs: the checks of the attrs and their array are paid
    once, so an optimizer step costs one kernel per parameter and little else. For a
    captured step this is one update (one attrs array that a replay rewrites)."""
    op = ops.OPS[name]
    if capturing.ACTIVE is not None and capturing.refresh_update(name, attrs, op.attrs):
        return  # a replay's host pass: the new values went into the recorded array
    if op.kind != "update":
        raise ValueError(f"update: {name} is not an update op")
    try:
        values = [float(attrs[a]) for a in op.attrs]
    except KeyError:
        missing = [a for a in op.attrs if a not in attrs]
        raise TypeError(f"{name}: missing attributes {missing}") from None
    hyper = hyper_dev = None
    for tensors in tensor_sets:
        if len(tensors) != op.nin:
            raise TypeError(f"{name}: expected {op.nin} tensors, got {len(tensors)}")
        first = tensors[0]
        dev, shape = first._device, first._shape
        for t in tensors:
            # Identity first: an optimizer's tensors share one device object and, mostly,
            # one shape tuple, and this runs for every parameter of every step.
            if t._device is not dev and t._device != dev:
                raise RuntimeError(f"{name}: expected all tensors on {dev}, got one on {t.device}")
            if t._shape is not shape and t._shape != shape and t.numel() != first.numel():
                raise ValueError(
                    f"{name}: expected tensors of {first.numel()} elements, got shape "
                    f"{tuple(t.shape)}"
                )
        # Equal devices share one array even when their objects differ (a model built with
        # device="vulkan" per layer): a captured step's replay refreshes one array per call.
        if hyper is None or (hyper_dev is not dev and hyper_dev != dev):
            hyper_dev = dev
            hyper = dev.backend.from_numpy(
                np.array(values, dtype=np.float64), _HYPER_DTYPE[dev.type]
            )
            capturing.note_update(name, hyper)
        dev.backend.run(op, [t._data for t in tensors] + [hyper], attrs, (), first._dtype)
        seen = set()
        for t in tensors:
            if id(t._version) not in seen:  # views share a counter: count each storage once
                seen.add(id(t._version))
                t._version[0] += 1


# The cpu computes updates in the parameter's precision (f64 included); shaders read f32.
_HYPER_DTYPE = {"cpu": dtypes.float64, "vulkan": dtypes.float32}
