"""The op kinds: how the Vulkan backend lowers a row of each kind to shader dispatches.

Every kind is one module here, registered with ``@runner(kind)`` and ``@variants(kind)``:

``RUNNERS[kind](backend, op, inputs, attrs, out)`` dispatches a row of that kind through the
backend's public interface (see ``VulkanBackend``); ``VARIANTS[kind](op)`` lists the
``(shader name, defines)`` variants it dispatches, so that ``compile --all`` and the compile
test cover them; ``SHADERS[kind](op)`` names the shader files that are the row's own, each
with the push-constant block of ``PUSH[kind]`` (``tests/test_push_layout.py`` compares the
two). A kind reads the row (``nin``, ``out_dtype``, ``no_grad_inputs``, attrs, ...) and the
directives of its shaders, never the op's name. Every module in this package is imported, so
a new kind is one new module.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from typing import Callable

import numpy as np

from .. import DT_CODE, PUSH_WORDS, WG
from ..sources import directive

RUNNERS: dict[str, Callable] = {}
VARIANTS: dict[str, Callable] = {}
SHADERS: dict[str, Callable] = {}
PUSH: dict[str, Push] = {}

F32, F16, I32, BOOL = (DT_CODE[n] for n in ("float32", "float16", "int32", "bool"))


def _registrar(table: dict, kind: str) -> Callable:
    def register(fn):
        if kind in table:
            raise RuntimeError(f"kind {kind!r} is registered twice")
        table[kind] = fn
        return fn

    return register


def runner(kind: str) -> Callable:
    return _registrar(RUNNERS, kind)


def variants(kind: str) -> Callable:
    return _registrar(VARIANTS, kind)


def shaders(kind: str) -> Callable:
    """Registers ``fn(op) -> shader names`` for a kind whose rows do not run the shader named
    after the op (the default)."""
    return _registrar(SHADERS, kind)


def own_shaders(op) -> tuple:
    """The shader files of a row: those its kind names, else the one named after the op."""
    fn = SHADERS.get(op.kind)
    return tuple(fn(op)) if fn is not None else (op.name,)


class Push:
    """A kind's push-constant layout, written once: the named uint words in order, as in the
    ``layout(push_constant)`` block of the kind's shaders; ``name[n]`` is an array of n words.
    Floats travel as their f32 bits.

    >>> P = Push("n", "scalars[3]", "attrs[4]")
    >>> P.words(n=5, attrs=[1, 2])[:6].tolist()
    [5, 0, 0, 0, 1, 2]
    """

    SIZE = PUSH_WORDS

    def __init__(self, *fields: str) -> None:
        self.fields = fields
        self.slots: dict[str, tuple[int, int]] = {}
        at = 0
        for f in fields:
            m = re.fullmatch(r"(\w+)(?:\[(\d+)\])?", f)
            count = int(m.group(2)) if m.group(2) else 1
            self.slots[m.group(1)] = (at, count)
            at += count
        if at > self.SIZE:
            raise ValueError(f"push layout {fields} takes {at} words, more than {self.SIZE}")

    def words(self, **values) -> np.ndarray:
        push = np.zeros(self.SIZE, dtype=np.uint32)
        for name, v in values.items():
            at, count = self.slots[name]
            vals = list(v) if isinstance(v, (list, tuple, np.ndarray)) else [v]
            if len(vals) > count:
                raise ValueError(f"push word {name}: {len(vals)} values for {count} words")
            push[at : at + len(vals)] = [int(w) & 0xFFFFFFFF for w in vals]
        return push


# Meta blocks (shaders' ``meta`` bindings): shapes and strides of up to MAX_DIMS dims, each
# list padded to MAX_DIMS words.
MAX_DIMS = 8


def check_dims(what: str, shape) -> None:
    if len(shape) > MAX_DIMS:
        raise NotImplementedError(f"{what}: more than {MAX_DIMS} dims on Vulkan")


def padded(values, fill: int) -> list:
    """``values`` as uint32 words (negative ones as two's complement: the shaders' uint
    arithmetic wraps, so a negative stride walks backwards), padded with ``fill`` to
    MAX_DIMS."""
    return [int(v) & 0xFFFFFFFF for v in values] + [fill] * (MAX_DIMS - len(values))


def push_layout(kind: str, *fields: str) -> Push:
    """Declares (and returns) the push layout of ``kind``."""
    PUSH[kind] = Push(*fields)
    return PUSH[kind]


def f32_bits(x: float) -> int:
    return int(np.array(x, dtype=np.float32).view(np.uint32))


def float_attrs(op, attrs: dict) -> list:
    """The row's scalar attrs in ``op.attrs`` order as f32 bits (tuple attrs, consumed on the
    host, are skipped; an absent one is 0)."""
    out = []
    for name in op.attrs:
        v = attrs.get(name)
        if isinstance(v, (tuple, list)):
            continue
        out.append(f32_bits(0.0 if v is None else float(v)))
    return out


def typed_attrs(op, attrs: dict) -> list:
    """The row's attrs in order, ints as uint32 and floats as f32 bits."""
    out = []
    for name in op.attrs:
        v = attrs[name]
        if isinstance(v, (bool, int, np.integer)):
            out.append(int(v) & 0xFFFFFFFF)
        elif isinstance(v, (float, np.floating)):
            out.append(f32_bits(float(v)))
        else:
            raise TypeError(f"{op.name}: attribute {name}={v!r}: expected an int or a float")
    return out


def fixed_binding(shader: str):
    """``(binding define, codes)`` of a shader's ``// vkgrad: in D<k> <dtypes>`` directive: the
    dtypes binding k takes in the listed variants whatever the op's dtype (``same``, None
    here: the op's dtype); None without one."""
    args = directive(shader, "in")
    if args is None:
        return None
    return args[0], tuple(None if a == "same" else DT_CODE[a] for a in args[1:])


# ---------------------------------------------------------------- lavapipe's loop limit

# lavapipe ends an invocation after 65535 loop iterations in all (llvmpipe's loop limiter) and
# returns garbage without an error; a CPU Vulkan device gets a clear error instead.
LAVAPIPE_LOOP_LIMIT = 65535


def check_loop_limit(be, op, its: int, work: Callable[[], str], remedy: str) -> None:
    """Refuse the work that ``work()`` describes when one thread would run ``its`` loop
    iterations on lavapipe (``work`` is called only then: the check runs on every dispatch)."""
    if its <= LAVAPIPE_LOOP_LIMIT or not be.device_is_cpu:
        return
    raise RuntimeError(
        f"{op.name}: {work()} would take about {its} loop iterations per thread, beyond the "
        f"{LAVAPIPE_LOOP_LIMIT} that this CPU Vulkan device (lavapipe) runs; use the cpu "
        f"device for {remedy}"
    )


# Shaders whose workgroup walks a row declare how often (``// vkgrad: loops rows <passes>``);
# none walks it more than three times.
DEFAULT_ROW_PASSES = 3


def row_loops(shader: str, k: int, wg: int) -> int:
    """Loop iterations of one workgroup's thread over a row of ``k`` elements: ``passes`` per
    ``wg`` elements plus the workgroup reductions between them.

    Measured on lavapipe (256 threads): a sum stays right up to rows of 16,757,812 elements,
    one pass per 256 plus ~75 iterations; a cumsum up to 1,675,781, ten per 256 (the scan).
    """
    args = directive(shader, "loops")
    passes = int(args[1]) if args and args[0] == "rows" else DEFAULT_ROW_PASSES
    return passes * -(-k // wg) + 8 * wg.bit_length()


def check_row_loops(be, op, shader: str, k: int, m: int) -> None:
    """The loop-limit check of a kind that runs one workgroup per row, over ``m`` rows of
    ``k`` elements."""
    groups = max(1, min(m, be.max_groups))
    its = -(-m // groups) * row_loops(shader, k, WG)

    def work():
        return f"{m} {'row' if m == 1 else 'rows'} of {k} elements"

    check_loop_limit(be, op, its, work, "rows this long")


for _m in pkgutil.iter_modules(__path__):
    if not _m.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_m.name}")
