"""Data types: the few that vkgrad stores, with PyTorch's names and ggml-style short names."""

from __future__ import annotations

import numpy as np


class DType:
    """A tensor element type. ``vkgrad.float32`` and friends are the instances."""

    __slots__ = ("name", "short", "np", "is_floating", "itemsize")

    # The instances are singletons (compared with ``is``): copies are the instance itself.
    def __copy__(self) -> DType:
        return self

    def __deepcopy__(self, memo: dict) -> DType:
        return self

    def __init__(self, name: str, short: str, np_dtype: type, is_floating: bool) -> None:
        self.name = name
        self.short = short
        self.np = np.dtype(np_dtype)
        self.is_floating = is_floating
        self.itemsize = self.np.itemsize

    def __repr__(self) -> str:
        return f"vkgrad.{self.name}"

    def __reduce__(self):  # pickling keeps the singletons
        return (get, (self.name,))


float32 = DType("float32", "f32", np.float32, True)
float16 = DType("float16", "f16", np.float16, True)
float64 = DType("float64", "f64", np.float64, True)
int32 = DType("int32", "i32", np.int32, False)
bool_ = DType("bool", "bool", np.bool_, False)

ALL = (float32, float16, float64, int32, bool_)
_BY_NAME = {}
for _d in ALL:
    _BY_NAME[_d.name] = _d
    _BY_NAME[_d.short] = _d
# PyTorch's integer names: int64 data is stored as int32 (Vulkan has no 64-bit integers
# without device features); values that do not fit are refused where data is converted
# (``check_fits``), never wrapped.
_BY_NAME.update({"float": float32, "half": float16, "double": float64, "int": int32, "long": int32})
_BY_NAME.update({"int64": int32, "int16": int32, "int8": int32, "uint8": int32})


def check_fits(arr: np.ndarray, dtype: DType, where: str) -> None:
    """Raise OverflowError when integer data does not fit ``dtype`` (int32): int64 data and
    ``dtype=long`` are stored as int32, so a value outside its range would wrap silently."""
    if dtype is not int32 or arr.dtype.kind not in "iu" or arr.dtype.itemsize < 4 or not arr.size:
        return
    if arr.dtype.itemsize == 4 and arr.dtype.kind == "i":
        return
    lo, hi = int(arr.min()), int(arr.max())
    info = np.iinfo(np.int32)
    if lo < info.min or hi > info.max:
        bad = lo if lo < info.min else hi
        raise OverflowError(
            f"{where}: value {bad} does not fit int32, which holds int64/long data in vkgrad "
            f"(range {info.min}..{info.max})"
        )


def get(spec: DType | str | np.dtype | type) -> DType:
    """Resolve ``"f16"``, ``"float16"``, ``np.float16`` or a DType to a DType.

    >>> get("f16")
    vkgrad.float16
    """
    if isinstance(spec, DType):
        return spec
    if isinstance(spec, str):
        if spec in _BY_NAME:
            return _BY_NAME[spec]
    else:
        try:
            npd = np.dtype(spec)
        except TypeError:
            npd = None
        if npd is not None:
            if npd.kind in "iu":
                return int32
            for d in ALL:
                if d.np == npd:
                    return d
    names = ", ".join(sorted({d.name for d in ALL} | {d.short for d in ALL}))
    raise ValueError(f"dtype: unknown dtype {spec!r}; expected one of {names}")


def promote(a: DType, b: DType) -> DType:
    """The result type of a binary op, as PyTorch does it for these types."""
    if a is b:
        return a
    order = (bool_, int32, float16, float32, float64)
    return a if order.index(a) > order.index(b) else b
