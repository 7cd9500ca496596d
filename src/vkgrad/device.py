"""The device manager: what devices exist, which is the default, and the default dtype.

Default device: the best Vulkan GPU (discrete > integrated > virtual), else the CPU. A CPU
Vulkan implementation (Mesa's lavapipe) is never the default but can be chosen with
``vkgrad.device("vulkan")``. Default dtype: f16 on a GPU, f32 elsewhere.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from . import dtypes
from .backends.numpy_backend import NumpyBackend

log = logging.getLogger("vkgrad")

_RANK = {"discrete": 0, "integrated": 1, "virtual": 2, "other": 3, "cpu": 4}
_backends: dict = {}


class Device:
    """A place tensors live: ``cpu`` (the NumPy backend) or ``vulkan:N``."""

    __slots__ = ("type", "index", "_backend")

    # A device holds its backend (a Vulkan manager, buffer pools): copies share it.
    def __copy__(self) -> Device:
        return self

    def __deepcopy__(self, memo: dict) -> Device:
        return self

    def __init__(self, type: str, index: int = 0) -> None:
        self.type = type
        self.index = index
        self._backend = None

    @staticmethod
    def parse(spec: Any) -> Device:
        """Resolve ``"cpu"``, ``"vulkan"``, ``"vulkan:1"``, ``"gpu"`` or a Device; ``"cuda"``
        is ``"gpu"`` and ``"cuda:N"`` the N-th Vulkan GPU, so PyTorch's names port."""
        if isinstance(spec, Device):
            return spec
        if isinstance(spec, _Setting) and isinstance(spec.value, Device):
            return spec.value  # what vkgrad.device(...) returned: a device as well
        if not isinstance(spec, str):
            raise ValueError(f"device: expected a device name or Device, got {spec!r}")
        s = spec.strip().lower()
        if s == "cpu":
            return CPU
        if s.startswith("cuda"):
            return _parse_cuda(spec, s)
        if s == "gpu":
            gpus = [d for d in _vulkan_devices() if d["device_type"] != "cpu"]
            if not gpus:
                found = (
                    ", ".join(
                        f"vulkan:{d['index']} {d['name']} ({d['device_type']})"
                        for d in _vulkan_devices()
                    )
                    or "none"
                )
                raise RuntimeError(
                    f"device: a GPU was asked for, but no Vulkan GPU was found (Vulkan devices: "
                    f"{found}). Use device('cpu'), or device('vulkan') for a CPU Vulkan device."
                )
            return Device("vulkan", min(gpus, key=_rank)["index"])
        if s == "vulkan":
            devs = _vulkan_devices()
            if not devs:
                why = vulkan_unavailable_reason()
                raise RuntimeError(
                    "device: no Vulkan device was found" + (f": {why}" if why else "")
                )
            return Device("vulkan", min(devs, key=_rank)["index"])
        if s.startswith("vulkan:"):
            try:
                idx = int(s.split(":", 1)[1])
            except ValueError:
                idx = -1
            n = len(_vulkan_devices())
            if not 0 <= idx < n:
                raise RuntimeError(f"device: {spec!r} does not exist ({n} Vulkan device(s) found)")
            return Device("vulkan", idx)
        raise ValueError(
            f"device: unknown device {spec!r}; expected 'cpu', 'gpu', 'vulkan' or 'vulkan:N'"
        )

    @property
    def backend(self):
        # Read on every op: cached on the object, and shared by equal devices via _backends.
        if self._backend is not None:
            return self._backend
        b = _backends.get(self)
        if b is None:
            if self.type == "cpu":
                b = NumpyBackend()
            else:
                # The Vulkan backend loads on first use: its capture module builds on the
                # engine, which imports this module.
                from .backends.vulkan import VulkanBackend

                b = VulkanBackend(self.index)
            _backends[self] = b
        self._backend = b
        return b

    @property
    def is_gpu(self) -> bool:
        if self.type != "vulkan":
            return False
        return _vulkan_devices()[self.index]["device_type"] != "cpu"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _Setting):
            other = other.value
        if isinstance(other, str):
            try:
                other = Device.parse(other)
            except (ValueError, RuntimeError):
                return False
        return isinstance(other, Device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __str__(self) -> str:
        return "cpu" if self.type == "cpu" else f"vulkan:{self.index}"

    def __repr__(self) -> str:
        return f"device(type='{self.type}'" + (
            ")" if self.type == "cpu" else f", index={self.index})"
        )


CPU = Device("cpu")


def _parse_cuda(spec: str, s: str) -> Device:
    """PyTorch's ``"cuda"`` (the best GPU, as ``"gpu"``) and ``"cuda:N"`` (the N-th Vulkan
    GPU in device order, CPU Vulkan devices such as lavapipe left out as CUDA would)."""
    if s == "cuda":
        return Device.parse("gpu")
    prefix, _, number = s.partition(":")
    if prefix != "cuda" or not number.isdigit():
        raise ValueError(
            f"device: unknown device {spec!r}; expected 'cpu', 'gpu', 'vulkan', 'vulkan:N', "
            "'cuda' or 'cuda:N'"
        )
    gpus = sorted(d["index"] for d in _vulkan_devices() if d["device_type"] != "cpu")
    idx = int(number)
    if idx >= len(gpus):
        raise RuntimeError(
            f"device: {spec!r} does not exist ({len(gpus)} Vulkan GPU(s) found; 'cuda:N' counts "
            "GPUs only)"
        )
    return Device("vulkan", gpus[idx])


def _rank(d: dict) -> tuple:
    return (_RANK.get(d["device_type"], 3), d["index"])


_vk_cache: list | None = None
_vk_error: str | None = None


def _vulkan_devices() -> list:
    """Vulkan devices, or [] when kp or a Vulkan loader is missing (the reason is kept)."""
    global _vk_cache, _vk_error
    if _vk_cache is None:
        try:
            from .backends.vulkan import enumerate_devices  # on first use, as above

            _vk_cache = list(enumerate_devices())
        except Exception as e:  # noqa: BLE001  (any failure here means: no Vulkan)
            _vk_cache, _vk_error = [], str(e)
    return _vk_cache


def vulkan_unavailable_reason() -> str | None:
    _vulkan_devices()
    return _vk_error


def devices() -> list:
    """Every device vkgrad can use, best first after the CPU, as dicts.

    >>> [d["device"] for d in vkgrad.devices()]
    ['cpu', 'vulkan:0']
    """
    out = [{"device": "cpu", "name": "NumPy", "type": "cpu", "default": False}]
    for d in sorted(_vulkan_devices(), key=_rank):
        out.append(
            {
                "device": f"vulkan:{d['index']}",
                "name": d["name"],
                "type": d["device_type"],
                "default": False,
            }
        )
    dflt = str(default_device())
    for d in out:
        d["default"] = d["device"] == dflt
    return out


# ---------------------------------------------------------------- defaults

_default_device: Device | None = None
_default_dtype: dtypes.DType | None = None
_auto: Device | None = None


def _auto_device() -> Device:
    global _auto
    if _auto is None:
        env = os.environ.get("VKGRAD_DEVICE")
        if env:
            _auto = Device.parse(env)
        else:
            gpus = [d for d in _vulkan_devices() if d["device_type"] != "cpu"]
            if gpus:
                _auto = Device("vulkan", min(gpus, key=_rank)["index"])
            else:
                reason = vulkan_unavailable_reason()
                log.info(
                    "vkgrad: no Vulkan GPU found%s; using the CPU (NumPy) backend",
                    f" ({reason})" if reason else "",
                )
                _auto = CPU
    return _auto


def default_device() -> Device:
    return _default_device if _default_device is not None else _auto_device()


def default_dtype(device: Device | None = None) -> dtypes.DType:
    if _default_dtype is not None:
        return _default_dtype
    env = os.environ.get("VKGRAD_DTYPE")
    if env:
        return dtypes.get(env)
    device = device or default_device()
    return dtypes.float16 if device.is_gpu else dtypes.float32


class _Setting:
    """Returned by ``device()``/``dtype()``: the change is made at once, and undone on
    leaving a ``with`` block. It also stands for the device or dtype itself (its attributes,
    ``str``, comparisons, and wherever a device is accepted: ``.to(d)``, ``device=d``), so
    ``device = vkgrad.device("cpu"); model.to(device)`` reads as in PyTorch."""

    def __init__(self, name: str, prev: Any, value: Any) -> None:
        self._name, self._prev, self.value = name, prev, value

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__") or attr in ("_name", "_prev", "value"):
            raise AttributeError(attr)
        return getattr(self.value, attr)

    def __enter__(self):
        return self.value

    def __exit__(self, *exc: Any) -> None:
        globals()[self._name] = self._prev

    def __repr__(self) -> str:
        return repr(self.value)

    def __str__(self) -> str:
        return str(self.value)

    def __eq__(self, other: object) -> bool:
        return self.value == (other.value if isinstance(other, _Setting) else other)

    __hash__ = None  # type: ignore[assignment]


def device(spec: Any = None) -> Any:
    """Set the default device (``"cpu"``, ``"gpu"``, ``"vulkan"``, ``"vulkan:N"``).

    Works as a setter and as a context manager; without an argument returns the default. What
    it returns is also the device, accepted wherever one is (``model.to(vkgrad.device("cpu"))``,
    ``device=``, ``==``, ``str``, ``.type``). Unlike ``torch.device``, calling it changes the
    default; ``vkgrad.Device.parse(spec)`` only builds a device.

    >>> vkgrad.device("cpu")
    >>> with vkgrad.device("vulkan"):
    ...     x = vkgrad.ones(3)
    """
    global _default_device
    if spec is None:
        return default_device()
    new = Device.parse(spec)
    prev, _default_device = _default_device, new
    return _Setting("_default_device", prev, new)


def dtype(spec: Any = None) -> Any:
    """Set the default floating dtype (``"f16"``, ``"f32"``, ``"f64"``); also a context manager."""
    global _default_dtype
    if spec is None:
        return default_dtype()
    new = dtypes.get(spec)
    if not new.is_floating:
        raise ValueError(f"dtype: the default dtype must be floating point, got {new}")
    prev, _default_dtype = _default_dtype, new
    return _Setting("_default_dtype", prev, new)


def memory_stats(device: Any = None) -> dict:
    """Memory of the Vulkan devices in use, ``{device: stats}``: bytes of live arrays, their
    peak, what the pool holds, and host-visible staging. ``device`` picks one device's stats
    (``"vulkan:0"``); the cpu has no pool and gives ``{}``.

    >>> vkgrad.memory_stats("vulkan")["live_bytes"]      # doctest: +SKIP
    """
    if device is not None:
        dev = Device.parse(device)
        return dev.backend.memory_stats() if dev.type == "vulkan" else {}
    return {
        str(dev): backend.memory_stats()
        for dev, backend in _backends.items()
        if dev.type == "vulkan"
    }


def empty_cache() -> None:
    """Give pooled buffers that no tensor uses back to every Vulkan device (as
    ``torch.cuda.empty_cache``); tensors that are alive keep theirs."""
    for dev, backend in _backends.items():
        if dev.type == "vulkan":
            backend.empty_cache()
