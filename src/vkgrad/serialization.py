"""``vkgrad.save`` / ``vkgrad.load``: checkpoints of state dicts (nested dicts of tensors and
plain values), e.g. ``{"model": model.state_dict(), "optim": opt.state_dict(), "epoch": 3}``.

File format (version 1): a ZIP archive readable by ``numpy.load`` (an ``.npz``), holding

* ``__header__.json``: UTF-8 JSON ``{"format": "vkgrad", "version": 1, "tree": TREE}``;
* one ``t<N>.npy`` per distinct tensor or NumPy array (NumPy's ``.npy`` format, the tensor's
  own dtype: float16/float32/float64/int32/bool).

``TREE`` is the saved object, with JSON values (str, int, float incl. NaN/Infinity, bool,
null, lists) as themselves and these tagged objects for the rest:

* ``{"__tensor__": "t0", "dtype": "float32", "shape": [2, 3], "device": "vulkan:0",
  "requires_grad": false, "parameter": false}``: a vkgrad tensor stored in ``t0.npy``;
* ``{"__ndarray__": "t1", "dtype": "int64", "shape": [4]}``: a NumPy array;
* ``{"__dict__": [[KEY, VALUE], ...], "ordered": bool}``: a dict, keys of any JSON-able
  type (optimizer state is keyed by int), order kept (OrderedDict when ``ordered``);
* ``{"__tuple__": [...]}``: a tuple.

A tensor that appears several times in the object is stored once. Saving writes to a
temporary file in the target's directory and renames it over the target (``os.replace``),
so a crash during a save leaves the previous file intact, never a half-written one.

A path ending in ``.safetensors`` is written and read in the safetensors format instead
(through the ``safetensors`` package), which PyTorch and Hugging Face tools read: each
tensor under its dotted name in the saved object (``model.fc.weight``), and the same
``TREE`` in the metadata entry ``"vkgrad"``, so that nested objects with numbers and strings
round-trip. A safetensors file from another tool (no ``"vkgrad"`` entry) loads as a dict of
tensors by name.

A file that is corrupted or truncated raises ``RuntimeError`` naming the file, before any
tensor reaches the caller: a model is never half loaded.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from collections import OrderedDict
from typing import Any, BinaryIO, Callable, Union

import numpy as np

from . import dtypes
from .device import Device
from .nn.parameter import Parameter
from .tensor import Tensor, tensor

__all__ = ["load", "save"]

FORMAT_VERSION = 1
HEADER = "__header__.json"
_PathLike = Union[str, "os.PathLike[str]", BinaryIO]


class _Encoder:
    """The object as ``TREE``, with its arrays in ``arrays``: keyed ``t<N>`` (npz), or by the
    dotted path of dict keys and list indices that leads to them (``by_name``: safetensors)."""

    def __init__(self, by_name: bool = False) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.by_name = by_name
        self._ids: dict[int, str] = {}
        self._keep: list = []  # keeps encoded objects alive so their ids stay unique

    def _store(self, obj: Any, arr: np.ndarray, name: str) -> str:
        key = self._ids.get(id(obj))
        if key is None:
            key = name if self.by_name and name and name not in self.arrays else None
            key = key or f"t{len(self.arrays)}"
            self._ids[id(obj)] = key
            self.arrays[key] = arr
            self._keep.append(obj)
        return key

    def encode(self, obj: Any, path: str, name: str = "") -> Any:
        def child(k: Any) -> str:
            return f"{name}.{k}" if name else str(k)

        if isinstance(obj, Tensor):
            arr = obj.detach().numpy()
            return {
                "__tensor__": self._store(obj, arr, name),
                "dtype": obj.dtype.name,
                "shape": list(obj.shape),
                "device": str(obj.device),
                "requires_grad": bool(obj.requires_grad),
                "parameter": bool(getattr(obj, "_is_param", False)),
            }
        if isinstance(obj, np.ndarray):
            if obj.dtype == object:
                raise TypeError(f"vkgrad.save: cannot save an object array at {path}")
            return {
                "__ndarray__": self._store(obj, obj, name),
                "dtype": obj.dtype.str,
                "shape": list(obj.shape),
            }
        if isinstance(obj, np.generic):
            return obj.item()
        if obj is None or isinstance(obj, (bool, int, float, str)):
            return obj
        if isinstance(obj, dict):
            return {
                "__dict__": [
                    [
                        self.encode(k, f"{path} (key {k!r})"),
                        self.encode(v, f"{path}[{k!r}]", child(k)),
                    ]
                    for k, v in obj.items()
                ],
                "ordered": isinstance(obj, OrderedDict),
            }
        if isinstance(obj, tuple):
            return {
                "__tuple__": [self.encode(v, f"{path}[{i}]", child(i)) for i, v in enumerate(obj)]
            }
        if isinstance(obj, list):
            return [self.encode(v, f"{path}[{i}]", child(i)) for i, v in enumerate(obj)]
        raise TypeError(
            f"vkgrad.save: cannot save a {type(obj).__name__} at {path}; expected tensors, NumPy "
            "arrays, dicts, lists, tuples, str, int, float, bool or None"
        )


def _write_zip(f: Any, obj: Any) -> None:
    enc = _Encoder()
    tree = enc.encode(obj, "obj")
    header = {"format": "vkgrad", "version": FORMAT_VERSION, "tree": tree}
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as z:
        z.writestr(HEADER, json.dumps(header, indent=1))
        for key, arr in enc.arrays.items():
            with z.open(key + ".npy", "w", force_zip64=True) as out:
                # (np.ascontiguousarray would turn a 0-d array into 1-d)
                np.lib.format.write_array(
                    out, np.require(arr, requirements="C"), allow_pickle=False
                )


def _safetensors():
    try:
        import safetensors.numpy
    except ImportError as e:
        raise ImportError(
            "vkgrad: .safetensors files need the safetensors package (pip install safetensors)"
        ) from e
    return safetensors.numpy


def _write_safetensors(f: Any, obj: Any) -> None:
    enc = _Encoder(by_name=True)
    tree = enc.encode(obj, "obj")
    header = {"format": "vkgrad", "version": FORMAT_VERSION, "tree": tree}
    arrays = {k: np.require(a, requirements="C") for k, a in enc.arrays.items()}
    # "format": "pt" is what Hugging Face loaders check for in a PyTorch checkpoint.
    meta = {"format": "pt", "vkgrad": json.dumps(header)}
    f.write(_safetensors().save(arrays, metadata=meta))


def _is_safetensors(f: Any) -> bool:
    return (
        not hasattr(f, "write")
        and not hasattr(f, "read")
        and (os.fspath(f).endswith(".safetensors"))
    )


def save(obj: Any, f: _PathLike) -> None:
    """Save a (nested) state dict to ``f`` (a path or a writable binary file). A path ending in
    ``.safetensors`` writes that format (PyTorch and Hugging Face tools read it).

    >>> vkgrad.save({"model": model.state_dict(), "optim": opt.state_dict()}, "ckpt.npz")
    """
    if hasattr(f, "write"):
        _write_zip(f, obj)
        return
    write = _write_safetensors if _is_safetensors(f) else _write_zip
    path = os.fspath(f)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(
        dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp"
    )
    try:
        with os.fdopen(fd, "wb") as out:
            write(out, obj)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


class _Decoder:
    def __init__(self, array: Callable[[str], np.ndarray], map_location: Any) -> None:
        self._read = array
        self.map_location = map_location
        self._cache: dict[str, Any] = {}

    def _array(self, key: str, node: dict) -> np.ndarray:
        arr = self._read(key)
        if list(arr.shape) != list(node.get("shape", arr.shape)):
            raise ValueError(
                f"array {key} has shape {list(arr.shape)}, the header says {node['shape']}"
            )
        return arr

    def _device(self, saved: str) -> Device:
        loc = self.map_location
        if callable(loc) and not isinstance(loc, (str, Device)):
            loc = loc(saved)
        if loc is None:
            loc = saved
        if isinstance(loc, dict):
            loc = loc.get(saved, saved)
        try:
            return Device.parse(loc)
        except Exception as e:
            raise RuntimeError(
                f"vkgrad.load: a tensor was saved on {saved}, which is not available here "
                f"({e}); pass map_location='cpu' (or another device) to load it there"
            ) from e

    def decode(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.decode(v) for v in node]
        if not isinstance(node, dict):
            return node
        if "__tensor__" in node:
            key = node["__tensor__"]
            if key not in self._cache:
                arr = self._array(key, node)
                t = tensor(arr, dtype=node["dtype"], device=self._device(node["device"]))
                if node.get("parameter"):
                    t = Parameter(t, requires_grad=node.get("requires_grad", True))
                elif node.get("requires_grad"):
                    t.requires_grad_(True)
                self._cache[key] = t
            return self._cache[key]
        if "__ndarray__" in node:
            key = node["__ndarray__"]
            if key not in self._cache:
                self._cache[key] = self._array(key, node)
            return self._cache[key]
        if "__tuple__" in node:
            return tuple(self.decode(v) for v in node["__tuple__"])
        if "__dict__" in node:
            items = [(_hashable(self.decode(k)), self.decode(v)) for k, v in node["__dict__"]]
            return OrderedDict(items) if node.get("ordered") else dict(items)
        raise ValueError(f"vkgrad.load: unknown entry in the header: {sorted(node)}")


def _hashable(k: Any) -> Any:
    return tuple(_hashable(v) for v in k) if isinstance(k, list) else k


def load(f: _PathLike, map_location: Any = None, weights_only: bool = True, **kwargs: Any) -> Any:
    """Load what ``vkgrad.save`` wrote. Tensors go back to the device they were saved from,
    unless ``map_location`` says otherwise (a device, a ``{saved: new}`` dict, or a function of
    the saved device name).

    >>> model.load_state_dict(vkgrad.load("ckpt.npz", map_location="cpu")["model"])
    """
    if _is_safetensors(f):
        return _load_safetensors(f, map_location)
    src = f if hasattr(f, "read") else os.fspath(f)
    try:
        z = zipfile.ZipFile(src, "r")
    except zipfile.BadZipFile as e:
        raise RuntimeError(f"vkgrad.load: {f!r} is not a vkgrad checkpoint (not a zip/npz)") from e
    with z:
        try:
            header = json.loads(z.read(HEADER).decode("utf-8"))
        except KeyError as e:
            raise RuntimeError(
                f"vkgrad.load: {f!r} has no {HEADER}; not written by vkgrad.save"
            ) from e
        except _CORRUPT as e:
            raise _corrupt(f, e) from e
        _check_header(f, header)

        def read(key: str) -> np.ndarray:
            with z.open(key + ".npy") as fh:
                return np.lib.format.read_array(io.BytesIO(fh.read()), allow_pickle=False)

        return _decode(f, read, header, map_location)


# What a damaged file raises on the way: a bad CRC or a cut-off member (zipfile), a short or
# malformed .npy or JSON (ValueError, EOFError), a missing member (KeyError).
_CORRUPT = (zipfile.BadZipFile, ValueError, EOFError, KeyError, OSError, UnicodeDecodeError)


def _corrupt(f: Any, e: Exception) -> RuntimeError:
    name = repr(f) if hasattr(f, "read") else os.fspath(f)
    return RuntimeError(f"vkgrad.load: {name} is corrupted or truncated ({type(e).__name__}: {e})")


def _check_header(f: Any, header: Any) -> None:
    if (
        not isinstance(header, dict)
        or header.get("format") != "vkgrad"
        or (header.get("version", 0) > FORMAT_VERSION)
    ):
        got = header if not isinstance(header, dict) else header.get("format")
        version = header.get("version") if isinstance(header, dict) else None
        raise RuntimeError(
            f"vkgrad.load: {f!r} has format {got!r} version {version!r}; this vkgrad reads "
            f"vkgrad version <= {FORMAT_VERSION}"
        )


def _decode(f: Any, read: Callable, header: dict, map_location: Any) -> Any:
    # Every array is read and checked before anything is returned: all or nothing.
    try:
        return _Decoder(read, map_location).decode(header["tree"])
    except _CORRUPT as e:
        raise _corrupt(f, e) from e


def _load_safetensors(f: Any, map_location: Any) -> Any:
    path = os.fspath(f)
    with open(path, "rb") as fh:
        data = fh.read()
    st = _safetensors()
    try:
        # The format: an 8-byte little-endian header length, then the JSON header, whose
        # "__metadata__" holds the vkgrad tree; the package checks the rest.
        n = int.from_bytes(data[:8], "little")
        meta = json.loads(data[8 : 8 + n].decode("utf-8")).get("__metadata__") or {}
        arrays = st.load(data)
    except Exception as e:  # safetensors raises its own error type for a bad file
        raise _corrupt(f, e) from e
    if "vkgrad" not in meta:
        # Another tool's file: its tensors by name, on map_location (default: the cpu).
        header = {
            "tree": {
                "__dict__": [
                    [
                        k,
                        {
                            "__tensor__": k,
                            "dtype": _foreign_dtype(a),
                            "shape": list(a.shape),
                            "device": "cpu",
                        },
                    ]
                    for k, a in arrays.items()
                ],
                "ordered": False,
            }
        }
        return _decode(f, arrays.__getitem__, header, map_location)
    try:
        header = json.loads(meta["vkgrad"])
    except ValueError as e:
        raise _corrupt(f, e) from e
    _check_header(f, header)
    return _decode(f, arrays.__getitem__, header, map_location)


def _foreign_dtype(a: np.ndarray) -> str:
    """The vkgrad dtype that holds a foreign array (int64 as int32, checked when converted)."""
    return dtypes.get(a.dtype).name
