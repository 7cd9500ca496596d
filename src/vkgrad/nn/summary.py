"""``nn.summary(model, input_shape)``: a table of layers, output shapes and parameter counts."""

from __future__ import annotations

from typing import Any, Callable

from .. import dtypes
from ..autograd import no_grad
from ..tensor import Tensor, zeros
from .module import Module


def _shape_of(out: Any) -> str:
    if isinstance(out, Tensor):
        return str(tuple(out.shape))
    if isinstance(out, (tuple, list)):
        return ", ".join(_shape_of(o) for o in out)
    if isinstance(out, dict):
        return ", ".join(f"{k}: {_shape_of(v)}" for k, v in out.items())
    return type(out).__name__


def summary(
    model: Module,
    input_shape: tuple | list,
    *,
    dtype: Any = None,
    device: Any = None,
    print_fn: Callable[[str], Any] = print,
) -> int:
    """Run ``model`` once on zeros of ``input_shape`` (batch dim included; a list of shapes for
    several inputs) and print each submodule (indented by depth) with its output shape and
    parameter count. Returns the total number of parameters.

    >>> total = nn.summary(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)), (2, 4))
    >>> total
    67
    """
    params = list(model.parameters())
    if device is None:
        device = params[0].device if params else None
    if dtype is None:
        floats = [p.dtype for p in params if p.dtype.is_floating]
        dtype = floats[0] if floats else None
    shapes = input_shape
    if not (isinstance(shapes, list) and shapes and isinstance(shapes[0], (tuple, list))):
        shapes = [shapes]
    inputs = [zeros(tuple(s), dtype=dtype, device=device) for s in shapes]

    rows: list = []
    handles = []
    for name, mod in model.named_modules():
        if mod is model:
            continue
        depth = name.count(".")
        index = len(rows)
        rows.append(None)
        n_params = sum(p.numel() for p in mod.parameters())
        label = "  " * depth + f"{name} ({type(mod).__name__})"

        def hook(m, args, out, index=index, label=label, n_params=n_params):
            if rows[index] is None:  # a module called twice is listed at its first call
                rows[index] = (label, _shape_of(out), n_params)

        handles.append(mod.register_forward_hook(hook))
    try:
        with no_grad():
            out = model(*inputs)
    finally:
        for h in handles:
            h.remove()
    rows = [r for r in rows if r is not None]
    rows.append((f"Output ({type(model).__name__})", _shape_of(out), None))

    total = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    w0 = max([len("Layer (type)")] + [len(r[0]) for r in rows]) + 2
    w1 = max([len("Output Shape")] + [len(r[1]) for r in rows]) + 2
    w2 = max(len("Param #"), len(f"{total:,}"))
    width = w0 + w1 + w2
    lines = [
        "-" * width,
        f"{'Layer (type)':<{w0}}{'Output Shape':<{w1}}{'Param #':>{w2}}",
        "=" * width,
    ]
    for label, shape, n in rows:
        lines.append(f"{label:<{w0}}{shape:<{w1}}{'' if n is None else f'{n:,}':>{w2}}")
    size = sum(p.numel() * p.dtype.itemsize for p in params)
    lines += [
        "=" * width,
        f"Total params: {total:,}",
        f"Trainable params: {trainable:,}",
        f"Non-trainable params: {total - trainable:,}",
        f"Params size: {size / 2**20:.2f} MiB ({dtypes.get(dtype).name if dtype else '-'})",
        "-" * width,
    ]
    print_fn("\n".join(lines))
    return total
