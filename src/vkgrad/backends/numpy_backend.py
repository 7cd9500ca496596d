"""The NumPy backend: the CPU fallback, and the reference every shader is tested against.

One kernel per op row, under the row's name, in plain NumPy; the kernels live with their op
family in ``numpy_kernels/``. f16 is stored as f16 and computed in f32, as the shaders do;
f64 is computed in f64. A row's index bounds are checked here, before its kernel runs
(``vkgrad/validate.py``), so that kernels may index with them as they are.
"""

from __future__ import annotations

import sys
import time
import warnings
from typing import Any, Callable

import numpy as np

from .. import profiler
from ..dtypes import DType
from ..ops import Op
from ..validate import check_index_values
from .base import Backend

KERNELS: dict[str, Callable] = {}
# Ufuncs that can write a float result straight into an in-place op's out= (one pass instead
# of a fresh result copied into out), registered by the elementwise family.
OUT_UFUNCS: dict[str, np.ufunc] = {}


def kernel(fn: Callable) -> Callable:
    """Register ``fn`` as the kernel of the op of its name (a trailing _ dropped: ``sum_``)."""
    KERNELS[fn.__name__.rstrip("_")] = fn
    return fn


# NumPy warns on log(0), 0/0 and overflow; PyTorch does not, and the inf/nan result is the
# same either way. A filter scoped to the NumPy kernels costs nothing until one fires, unlike
# np.errstate around every kernel.
warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"vkgrad\.backends\.numpy")


class NumpyBackend(Backend):
    type = "cpu"

    def from_numpy(self, data: np.ndarray, dtype: DType) -> np.ndarray:
        return np.array(data, dtype=dtype.np, copy=True, order="C")

    def to_numpy(self, array: np.ndarray, dtype: DType) -> np.ndarray:
        return np.array(array, dtype=dtype.np, copy=True)

    def reshape(self, array: np.ndarray, shape: tuple) -> np.ndarray:
        return array.reshape(shape)

    def sole_holder(self, array: np.ndarray) -> bool:
        # References: the tensor's _data, this call's argument and getrefcount's own.
        if type(array) is not np.ndarray or not array.flags.writeable or sys.getrefcount(array) > 3:
            return False
        base = array.base
        if base is None:
            return True
        # A reshape of a kernel's fresh result (a weight's gradient out of a batched matmul):
        # the whole base, held by nothing but this view (its .base, this local, the argument).
        return (
            type(base) is np.ndarray
            and base.base is None
            and base.size == array.size
            and sys.getrefcount(base) <= 3
        )

    def capture_program(self, inputs: list):
        # numpy_capture builds on the engine (capturing), which imports this backend.
        from .numpy_capture import NumpyProgram

        return NumpyProgram(self, inputs)

    def run(
        self, op: Op, inputs: list, attrs: dict, shape: tuple, dtype: DType, out: Any = None
    ) -> Any:
        prof = profiler.ACTIVE
        t0 = 0 if prof is None else time.perf_counter_ns()
        if op.bounds is not None:
            check_index_values(op, inputs, attrs)
        if op.kind == "update":
            *tensors, hyper = inputs  # the row's attrs, as an array (see functional.update)
            KERNELS[op.name](*tensors, **dict(zip(op.attrs, hyper.tolist())))
            res = None
        else:
            fn, args, kw = kernel_call(op, inputs, attrs, dtype)
            if out is not None and op.name in OUT_UFUNCS and dtype.is_floating:
                OUT_UFUNCS[op.name](*args, out=out, casting="same_kind")  # f16: in f32
                res = out
            else:
                res = finish(fn(*args, **kw), inputs, shape, dtype, out)
        if prof is not None:
            prof.cpu_kernel(op.name, t0, time.perf_counter_ns())
        return res


_F16, _F32, _F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)


def kernel_call(op: Op, inputs: list, attrs: dict, dtype: DType) -> tuple:
    """The kernel of ``op`` and the arguments to call it with: f16 computed in f32, and
    Python scalars as f32 unless the op works in f64."""
    if "dtype" in attrs:
        kw = dict(attrs)
        del kw["dtype"]
    else:
        kw = attrs
    f64 = scalars = False
    args = []
    for x in inputs:
        if type(x) is float:
            scalars = True
        elif isinstance(x, np.ndarray):
            # Native-order dtypes are singletons: identity answers for every array made here.
            dt = x.dtype
            if dt is _F32:
                pass  # the usual case, settled by identity
            elif dt is _F16 or (dt is not _F64 and dt == _F16):
                x = x.astype(np.float32)
            elif dt is _F64 or dt == _F64:
                f64 = True
        elif isinstance(x, float):
            scalars = True
        args.append(x)
    if scalars and not f64 and dtype.is_floating:
        # Python scalars must not promote f32 work to f64, as in the shaders.
        args = [np.float32(x) if isinstance(x, float) else x for x in args]
    return KERNELS[op.name], args, kw


def finish(result, inputs: list, shape: tuple, dtype: DType, out: Any = None) -> Any:
    """A kernel's result as the backend's array: ``out`` filled, or ``result`` itself when it
    is already a fresh contiguous array of ``shape`` and ``dtype``, else a copy that is."""
    if type(result) is not np.ndarray:
        result = np.asarray(result)
    if result.shape != shape:
        result = np.broadcast_to(result, shape)
    if out is not None:
        out[...] = result
        return out
    want = dtype.np
    if (
        (result.dtype is not want and result.dtype != want)
        or result.base is not None
        or not result.flags.c_contiguous
        or _is_one_of(result, inputs)
    ):
        # Views (transpose, broadcast, slices of an input) and other dtypes get a fresh,
        # contiguous array of their own.
        return np.array(result, dtype=want, order="C")
    return result


def _is_one_of(result, inputs: list) -> bool:
    for x in inputs:
        if result is x:
            return True
    return False


from . import numpy_kernels  # noqa: E402,F401  (registers every kernel, by family)
