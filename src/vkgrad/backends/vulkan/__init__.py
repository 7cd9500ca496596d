"""The Vulkan backend: GLSL compute shaders dispatched through Kompute (``kp``).

The backend validates a call and hands the row to its kind (``kinds/``, one module per kind);
there is no per-op host code. See docs/vulkan.md for the pipeline, dtype packing, ordering and
caches.

>>> be = VulkanBackend()                       # doctest: +SKIP
>>> x = be.from_numpy(np.ones(3, np.float32), dtypes.float32)
"""

from __future__ import annotations

import ctypes.util
import logging
import os
import time
from collections import OrderedDict
from typing import Any

import numpy as np

from ... import dtypes, profiler
from ...dtypes import DType
from ...ops import Op
from ...shapes import numel
from ...validate import check_known_range, index_bounds
from ..base import Backend
from . import pipeline_cache
from .pool import Buffer, BufferPool
from .recorder import Recorder
from .sources import variant_label

_log = logging.getLogger("vkgrad")

__all__ = [
    "VulkanUnavailable",
    "VulkanBackend",
    "VkArray",
    "ShaderCompileError",
    "enumerate_devices",
]

WG = 256  # threads per workgroup in every shader (shaders/common.glsl)
MAX_GROUPS = 65535  # Vulkan's guaranteed maxComputeWorkGroupCount per dimension
PUSH_WORDS = 32  # 128 bytes: the push-constant size every Vulkan device guarantees
# A cached kp algorithm binds one set of buffers. With the patched kp it owns only a descriptor
# pool and set (the pipeline is shared per shader variant); with a stock kp it also owns a
# pipeline, ~0.75 MB of JIT code on lavapipe (tests/test_composite.py + test_conv.py: 1355
# algorithms, 1.0 GB). Unbounded, a process that meets many shapes grows without limit; the
# bound must stay above the number of algorithms one training step uses, or every step would
# rebuild them.
MAX_ALGORITHMS = int(os.environ.get("VKGRAD_MAX_ALGORITHMS", "4096"))
# Host-visible bytes the pending batch may hold in staging before a transfer submits it.
STAGING_BUDGET = int(os.environ.get("VKGRAD_STAGING_BUDGET", str(64 << 20)))


# Binding dtype codes (defines D0..D4), as in shaders/common.glsl.
DT_CODE = {"float32": 0, "float16": 1, "int32": 2, "bool": 3}


def __getattr__(name: str):
    if name == "ShaderCompileError":
        # compile is imported when first needed, so that `python -m ...compile` runs it
        # once, as __main__, and not also as a module of this package.
        from .compile import ShaderCompileError

        return ShaderCompileError
    raise AttributeError(name)


class VulkanUnavailable(RuntimeError):
    """No usable Vulkan: kp missing, no Vulkan loader, or no device."""


_kp_module = None
_MANAGERS: dict = {}
_PIPELINE_FILES: dict = {}  # device index -> pipeline_cache.PipelineCacheFile or None


def _kp():
    global _kp_module
    if _kp_module is None:
        try:
            import kp  # noqa: PLC0415
        except ImportError as e:
            raise VulkanUnavailable(
                f"the Vulkan backend needs the kp (Kompute) package, which is not importable "
                f"({e}); install it by running vkgrad-setup-vulkan (`make test` sets it up)"
            ) from e
        _kp_module = kp
    return _kp_module


def _check_loader() -> None:
    # kp aborts inside C++ without a loader on some systems: look before creating a Manager.
    if ctypes.util.find_library("vulkan") is None:
        try:
            ctypes.CDLL("libvulkan.so.1")
        except OSError:
            raise VulkanUnavailable(
                "no Vulkan loader (libvulkan) found; install libvulkan1 and a driver "
                "(apt-get install libvulkan1 mesa-vulkan-drivers)"
            ) from None


VISIBLE_ENV = "VKGRAD_VISIBLE_DEVICES"


def visible_devices() -> list | None:
    """The Vulkan device indices ``VKGRAD_VISIBLE_DEVICES`` makes visible, in the order that
    renumbers them (``"2,0"``: vulkan:0 is device 2, vulkan:1 is device 0), or None when it
    is unset (every device, as numbered by the loader). Empty: no device is visible.

    As ``CUDA_VISIBLE_DEVICES``: one process per GPU is started with a different list each,
    or its local rank picks from what is visible (``vkgrad.distributed.local_device``).
    """
    raw = os.environ.get(VISIBLE_ENV)
    if raw is None:
        return None
    out: list = []
    for part in raw.split(","):
        part = part.strip()
        if not part and not raw.strip():
            break
        if not part.isdigit():
            raise VulkanUnavailable(
                f"{VISIBLE_ENV}={raw!r}: {part!r} is not a device index; expected a comma list "
                "of Vulkan device indices such as 1,0"
            )
        if int(part) in out:
            raise VulkanUnavailable(f"{VISIBLE_ENV}={raw!r} lists device {part} twice")
        out.append(int(part))
    return out


def _physical(index: int) -> int:
    """The loader's index of vkgrad's ``vulkan:index``."""
    visible = visible_devices()
    if visible is None:
        return index
    if not 0 <= index < len(visible):
        raise VulkanUnavailable(
            f"vulkan:{index} does not exist: {VISIBLE_ENV}={os.environ[VISIBLE_ENV]!r} makes "
            f"{len(visible)} device(s) visible"
        )
    return visible[index]


def get_manager(index: int = 0):
    """The cached kp.Manager of device ``index`` (vkgrad's numbering, after
    ``VKGRAD_VISIBLE_DEVICES``; creating one costs tens of ms)."""
    mgr = _MANAGERS.get(index)
    if mgr is None:
        kp = _kp()
        _check_loader()
        physical = _physical(index)
        try:
            mgr = kp.Manager(physical)
        except Exception as e:  # kp raises plain RuntimeErrors from C++
            shown = f"{physical}"
            if physical != index:
                shown += f" (vulkan:{index} under {VISIBLE_ENV}={os.environ[VISIBLE_ENV]!r})"
            raise VulkanUnavailable(f"cannot open Vulkan device {shown}: {e}") from e
        _MANAGERS[index] = mgr
        _PIPELINE_FILES[index] = pipeline_cache.open_for(mgr)
    return mgr


_TYPE_NAMES = {1: "integrated", 2: "discrete", 3: "virtual", 4: "cpu"}


def _classify(props: dict) -> str:
    t = props.get("device_type")
    if t is not None:
        return _TYPE_NAMES.get(int(t), "other")
    # Stock kp has no device type: recognise the CPU implementations by name.
    name = str(props.get("device_name", "")).lower()
    if any(s in name for s in ("llvmpipe", "lavapipe", "swiftshader")):
        return "cpu"
    return "other"


def enumerate_devices() -> list[dict]:
    """The Vulkan devices: ``{index, name, device_type, ...}``; raises VulkanUnavailable.

    >>> [d["device_type"] for d in enumerate_devices()]   # doctest: +SKIP
    ['cpu']
    """
    visible = visible_devices()
    if visible == []:
        raise VulkanUnavailable(f"{VISIBLE_ENV} is empty: it makes no Vulkan device visible")
    # Any open manager lists every device; open the first visible one only when none is open
    # yet, so that a process that opened its own GPU first opens no other (opening a device
    # costs memory on it: see vkgrad.distributed.local_device).
    mgr = next(iter(_MANAGERS.values()), None) or get_manager(0)
    every = list(mgr.list_devices())
    order = list(range(len(every))) if visible is None else visible
    out = []
    for i, physical in enumerate(order):
        if physical >= len(every):
            raise VulkanUnavailable(
                f"{VISIBLE_ENV}={os.environ[VISIBLE_ENV]!r}: device {physical} does not exist "
                f"({len(every)} Vulkan device(s), 0 to {len(every) - 1})"
            )
        props = every[physical]
        d = dict(props)
        d.update(
            index=i,
            physical_index=physical,
            name=props.get("device_name", f"device {physical}"),
            device_type=_classify(d),
        )
        out.append(d)
    return out


# ---------------------------------------------------------------- arrays


class Storage:
    """A pooled buffer shared by every array viewing it (reshape); returns it when it dies.

    ``host_range``: (min, max) of int32 values uploaded from the host, until a kernel writes
    the buffer; index rows check it against their ``Op.bounds`` without a sync.
    """

    __slots__ = ("buf", "pool", "host_range", "staging", "__weakref__")

    def __init__(self, buf: Buffer, pool: BufferPool) -> None:
        self.buf = buf
        self.pool = pool
        self.host_range = None
        # While a step is captured: the staging array its upload reads, which a replay
        # rewrites (optimizer attrs); None otherwise, so that staging returns to its pool.
        self.staging = None

    def __del__(self) -> None:
        try:
            self.pool.release(self.buf)
        except Exception:  # interpreter shutdown: nothing left to return to
            pass


class VkArray:
    """A contiguous row-major array in a Vulkan buffer (f16: two halves per uint32 word)."""

    __slots__ = ("shape", "dtype", "storage", "size")

    def __init__(self, shape: tuple, dtype: DType, storage: Storage) -> None:
        self.shape = tuple(shape)
        self.dtype = dtype
        self.storage = storage
        self.size = numel(self.shape)

    @property
    def buf(self) -> Buffer:
        return self.storage.buf

    def __repr__(self) -> str:
        return f"VkArray(shape={self.shape}, dtype={self.dtype.name})"


def _words(n: int, dtype: DType) -> int:
    return (n + 1) // 2 if dtype is dtypes.float16 else n


def _native_f16(mgr, index: int) -> bool:
    """Whether f16 arrays are float16_t arrays on this device: the patched kp enables
    16-bit storage where the device has it, unless VKGRAD_F16_PACKED=1. Otherwise f16 is packed
    two halves to a uint32 word (every device can), and a one-line notice says why."""
    features = getattr(mgr, "vkgrad_features", None)
    has, enabled = features()["storageBuffer16BitAccess"] if features else (False, False)
    if not enabled:
        why = (
            "VKGRAD_F16_PACKED=1"
            if has
            else "the device has no storageBuffer16BitAccess"
            if features
            else "this kp build enables no device features"
        )
        _log.info("vkgrad: vulkan:%d: f16 tensors as packed halves (%s)", index, why)
    return bool(enabled)


def _no_f64(opname: str, dt) -> None:
    if dt is dtypes.float64:
        raise TypeError(
            f"{opname}: float64 is not supported on the Vulkan backend (f64 is CPU-only: "
            f"Vulkan devices often lack it and kp enables no device features); "
            f"use float32 or the cpu device"
        )


# ---------------------------------------------------------------- the backend


class VulkanBackend(Backend):
    """Runs op rows as compute shaders on Vulkan device ``index``.

    ``run`` validates the call (no f64, ``out=``, index bounds) and hands the row to the
    runner of its kind (``kinds.RUNNERS``). What a kind may use of the backend:

    ``new(shape, dtype)``       a pooled array (a workspace, partials, the output of a pass)
    ``dispatch(shader, defines, bufs, groups, push, reads, writes, hold)``
                                record one dispatch: ``bufs`` bound in order, ``groups`` the
                                workgroup counts, ``push`` the push words (``kinds.Push``);
                                ``reads``/``writes`` the buffers it reads and writes (the
                                recorder orders dependent dispatches by them), ``hold`` the
                                storages kept alive until the batch completes
    ``groups(items)``           workgroups for one thread per item, grid-stride past max_groups
    ``meta_buffer(words)``      a device buffer of uint32 words, cached by content
    ``dummy``                   a buffer to bind where a shader's binding is unused
    ``max_groups``              workgroups per dimension (tests lower it)
    ``device_is_cpu``           a CPU Vulkan device (lavapipe): loop limits apply
    ``native_f16``              f16 arrays are float16_t arrays (16-bit storage enabled)
    ``features``, ``device_info``  device features {name: (has, enabled)}; subgroup size and
                                cooperative-matrix shapes
    """

    type = "vulkan"

    def __init__(self, index: int = 0) -> None:
        kp = _kp()
        self.index = index
        self.mgr = get_manager(index)
        self.kp = kp
        # Arrays live in device-only buffers; host-visible ones carry transfers (pool.py).
        where = f"vulkan:{index}"
        self.pool = BufferPool(self.mgr, kp.TensorTypes.storage, where)
        self.staging = BufferPool(self.mgr, kp.TensorTypes.host, f"{where} (staging)")
        self.recorder = Recorder(kp, self.mgr)
        self.max_groups = MAX_GROUPS  # tests lower it to exercise the grid-stride loops
        self._algos: OrderedDict = OrderedDict()  # least recently used first
        self.max_algorithms = MAX_ALGORITHMS
        self._meta: dict = {}
        self._spirv: dict = {}
        self.algorithms_created = 0
        self.transfers = 0
        self._transfer: str | None = None  # the profiler's name for the copy being dispatched
        self.pipeline_file = _PIPELINE_FILES.get(index)
        # The patched kp shares pipelines per shader variant and counts them per device.
        self._kp_stats = getattr(self.mgr, "vkgrad_stats", None)
        self.native_f16 = _native_f16(self.mgr, index)
        # {name: (the device has it, it is enabled)} and the subgroup size and cooperative-
        # matrix shapes, from the patched kp (empty with a stock kp build).
        features = getattr(self.mgr, "vkgrad_features", None)
        self.features = features() if features else {}
        info = getattr(self.mgr, "vkgrad_device_info", None)
        self.device_info = info() if info else {}
        self.algorithms_evicted = 0
        self.algorithm_seconds = 0.0
        self.dummy = self._permanent(np.zeros(64, np.uint32))
        self._device_is_cpu: bool | None = None
        # While a step is captured: every (storage, bounds) checked, for the replays.
        self.bounds_checked: list | None = None

    # -------------------------------------------------- bookkeeping

    def stats(self) -> dict:
        """Counters for tests and benchmarks (all monotone except live_buffers).

        ``pipelines`` (VkPipelines built), ``descriptor_sets`` and ``fences_created`` count
        for the whole device (every backend on it); with a stock kp each algorithm owns a
        pipeline and a set, so both equal ``algorithms_created`` there. ``barriers``: the
        dependency barriers the recorder put in (docs/vulkan.md)."""
        if self._kp_stats is not None:
            kps = self._kp_stats()
            pipelines = kps["pipelines_created"]
            sets = kps["descriptor_sets_created"]
            fences = kps["fences_created"]
        else:
            pipelines = sets = self.algorithms_created
            fences = self.recorder.submits
        return {
            "pipelines": pipelines,
            "descriptor_sets": sets,
            "fences_created": fences,
            "barriers": self.recorder.barriers,
            "algorithms_created": self.algorithms_created,
            "algorithms_evicted": self.algorithms_evicted,
            "algorithm_seconds": self.algorithm_seconds,
            "buffers_allocated": self.pool.allocated,
            "pool_hits": self.pool.hits,
            "live_buffers": self.pool.live,
            "meta_buffers": len(self._meta),
            "submits": self.recorder.submits,
            "dispatches": self.recorder.dispatches,  # transfers included
            "transfers": self.transfers,  # uploads and downloads, each a copy dispatch
            "barrier_mode": self.recorder.mode,
        }

    def empty_cache(self) -> None:
        """Free pooled and staging buffers nobody uses (and the algorithms bound to them)."""
        self.synchronize()
        self._algos.clear()
        self.pool.empty()
        self.staging.empty()

    def synchronize(self) -> None:
        self.recorder.flush()

    def capture_program(self, inputs: list):
        return VulkanProgram(self, inputs)

    def _permanent(self, words: np.ndarray) -> Buffer:
        t = self.mgr.tensor_t(
            np.ascontiguousarray(words, dtype=np.uint32), self.kp.TensorTypes.device
        )
        buf = Buffer(t, len(words))
        self.recorder.upload(buf, [])
        return buf

    @property
    def device_is_cpu(self) -> bool:
        if self._device_is_cpu is None:
            self._device_is_cpu = enumerate_devices()[self.index]["device_type"] == "cpu"
        return self._device_is_cpu

    def new(self, shape: tuple, dtype: DType) -> VkArray:
        n = numel(shape)
        buf = self.pool.acquire(max(_words(n, dtype), 1))
        return VkArray(shape, dtype, Storage(buf, self.pool))

    # -------------------------------------------------- host transfers

    def from_numpy(self, data: np.ndarray, dtype: DType) -> VkArray:
        dtype = dtypes.get(dtype)
        _no_f64("from_numpy", dtype)
        a = np.asarray(data)
        arr = self.new(a.shape, dtype)
        flat = np.ascontiguousarray(a, dtype=dtype.np).reshape(-1)
        if dtype is dtypes.float16:
            if flat.size % 2:
                flat = np.concatenate([flat, np.zeros(1, np.float16)])
            words = flat.view(np.uint32)  # little-endian: even element in the low half
        elif dtype is dtypes.bool_:
            words = flat.astype(np.uint32)
        else:
            words = flat.view(np.uint32)
        if words.size:
            staging = self._staging_words(words.size)
            staging.buf.tensor.data()[: words.size] = words  # host-visible: mapped
            self._copy_words(staging, arr, words.size, "upload")
            if self.recorder.captured is not None:
                arr.storage.staging = staging  # a replay writes new values here
        if dtype is dtypes.int32 and flat.size:
            arr.storage.host_range = (int(flat.min()), int(flat.max()))
        return arr

    def to_numpy(self, array: VkArray, dtype: DType | None = None) -> np.ndarray:
        n, dt = array.size, array.dtype
        nw = _words(n, dt)
        staging = self._staging_words(max(nw, 1))
        if nw:
            self._copy_words(array, staging, nw, "download")
        self.recorder.read_back()
        words = staging.buf.tensor.data()[:nw]
        if dt is dtypes.float16:
            vals = words.view(np.float16)[:n]
        elif dt is dtypes.bool_:
            vals = words != 0
        else:
            vals = words.view(dt.np)
        vals = vals.reshape(array.shape)
        target = dtypes.get(dtype).np if dtype is not None else dt.np
        return vals.astype(target, copy=True)

    def _staging_words(self, words: int) -> VkArray:
        """A host-visible array of ``words`` uint32 words from the staging pool; it returns
        there when the last batch using it has run (the recorder holds it until then)."""
        if 4 * (self.staging.live_words + words) > STAGING_BUDGET:
            # The leased ones come back once the pending batch has run: reuse them rather than
            # grow host-visible memory with every upload of a large batch of uploads.
            self.recorder.flush()
        return VkArray((words,), dtypes.int32, Storage(self.staging.acquire(words), self.staging))

    def _copy_words(self, src: VkArray, dst: VkArray, words: int, label: str) -> None:
        # The first ``words`` uint32 words, as int32 (bit-exact for every dtype), with the
        # gather kind's strided copy: a dispatch, ordered by the recorder like any other;
        # the profiler shows it as ``label`` (upload, download).
        flat = (words,)
        src_w = VkArray(flat, dtypes.int32, src.storage)
        dst_w = VkArray(flat, dtypes.int32, dst.storage)
        self._transfer = label
        try:
            gather_call(self, src_w, None, dst_w, 0, 0)
        finally:
            self._transfer = None
        self.transfers += 1

    def memory_stats(self) -> dict:
        """Bytes of this device's buffers: arrays (live, peak since ``reset_peak``, and in the
        pool in all) and host-visible staging (in all, and its peak)."""
        pool, staging = self.pool, self.staging
        return {
            "device": f"vulkan:{self.index}",
            "live_bytes": 4 * pool.live_words,
            "peak_live_bytes": 4 * pool.peak_words,
            "pooled_bytes": 4 * pool.total_words,
            "peak_pooled_bytes": 4 * pool.peak_total_words,
            "staging_bytes": 4 * staging.total_words,
            "peak_staging_bytes": 4 * staging.peak_total_words,
            "buffers": pool.live,
        }

    def reshape(self, array: VkArray, shape: tuple) -> VkArray:
        shape = tuple(shape)
        if numel(shape) != array.size:
            raise ValueError(f"reshape: cannot view shape {array.shape} as {shape}")
        return VkArray(shape, array.dtype, array.storage)

    # -------------------------------------------------- dispatch plumbing

    def _algorithm(self, name: str, defines: dict, bufs: list, groups: tuple):
        dkey = tuple(sorted(defines.items()))
        key = (name, dkey, tuple(b.uid for b in bufs), groups)
        algo = self._algos.get(key)
        if algo is not None:
            self._algos.move_to_end(key)
        else:
            spirv = self._spirv.get((name, dkey))
            if spirv is None:
                from .compile import compile_shader  # on first use: see __getattr__

                spirv = self._spirv[(name, dkey)] = compile_shader(name, defines)
            t0 = time.perf_counter()
            algo = self.mgr.algorithm(
                [b.tensor for b in bufs],
                spirv,
                list(groups),
                [],
                np.zeros(PUSH_WORDS, dtype=np.uint32),
            )
            self.algorithm_seconds += time.perf_counter() - t0
            self.algorithms_created += 1
            if self.pipeline_file is not None:
                self.pipeline_file.note()
            self._algos[key] = algo
            # A pending or captured sequence holds its own reference to the algorithms it
            # dispatches, so dropping ours frees the descriptor set (with a stock kp, also the
            # pipeline) only once nothing uses it.
            while len(self._algos) > self.max_algorithms:
                self._algos.popitem(last=False)
                self.algorithms_evicted += 1
        return algo

    def forget_shader(self, name: str) -> None:
        """Drop the SPIR-V and pipelines of shader ``name`` (an op removed from user code):
        a new op of that name must not run the old code."""
        for key in [k for k in self._spirv if k[0] == name]:
            del self._spirv[key]
        for key in [k for k in self._algos if k[0] == name]:
            del self._algos[key]

    def meta_buffer(self, words: tuple) -> Buffer:
        # Cached by content: same shapes -> same buffer -> algorithm cache hit.
        buf = self._meta.get(words)
        if buf is None:
            buf = self._meta[words] = self._permanent(np.array(words, dtype=np.uint32))
        return buf

    def dispatch(
        self,
        name: str,
        defines: dict,
        bufs: list,
        groups: tuple,
        push: np.ndarray,
        reads: list,
        writes: list,
        hold: list,
    ) -> None:
        if self.native_f16 and DT_CODE["float16"] in defines.values():
            # A binding holds halves: read and write them as float16_t (common.glsl).
            defines = {**defines, "NATIVE_F16": 1}
        algo = self._algorithm(name, defines, bufs, groups)
        if profiler.ACTIVE is None:
            self.recorder.dispatch(algo, push, reads, writes, hold)
        else:
            label = self._transfer or variant_label(name, defines)
            self.recorder.dispatch(algo, push, reads, writes, hold, label)

    def groups(self, items: int) -> int:
        return max(1, min(-(-items // WG), self.max_groups))

    # -------------------------------------------------- run

    def run(
        self,
        op: Op,
        inputs: list,
        attrs: dict,
        shape: tuple,
        dtype: DType,
        out: Any = None,
    ) -> Any:
        dtype = dtypes.get(dtype)
        for x in inputs:
            if isinstance(x, VkArray):
                _no_f64(op.name, x.dtype)
            elif not isinstance(x, (int, float, bool, np.floating, np.integer)):
                raise TypeError(
                    f"{op.name}: expected Vulkan arrays or Python scalars, got {type(x)}"
                )
        if op.kind != "update":
            _no_f64(op.name, dtype)
        if "dtype" in attrs:
            _no_f64(op.name, dtypes.get(attrs["dtype"]))
        shape = tuple(shape)
        if op.bounds is not None:
            checked = _check_bounds(op, inputs, attrs)
            if self.bounds_checked is not None and checked is not None:
                self.bounds_checked.append(checked)
        if op.kind == "update":
            RUNNERS[op.kind](self, op, inputs, attrs, None)
            return None
        if out is None:
            out = self.new(shape, dtype)
        elif out.shape != shape or out.dtype is not dtype:
            raise ValueError(
                f"{op.name}: out= has shape {out.shape} and dtype {out.dtype.name}, "
                f"expected {shape} and {dtype.name}"
            )
        else:
            out.storage.host_range = None  # overwritten on the device: no longer known
        RUNNERS[op.kind](self, op, inputs, attrs, out)
        return out


def _check_bounds(op: Op, inputs: list, attrs: dict):
    """IndexError for indices uploaded from the host that fall outside the row's bounds.

    Only the extremes are known: when one of them is the skip value (ignore_index), a bad
    value between them goes through, and the kernels skip it. Returns (storage, lo, hi,
    skip, message) for the indices' storage, or None when the indices are scalars."""
    shapes = [x.shape if isinstance(x, VkArray) else () for x in inputs]
    pos, *rule = index_bounds(op, shapes, attrs)
    if not isinstance(inputs[pos], VkArray):
        return None
    storage = inputs[pos].storage
    check_known_range(storage.host_range, *rule)
    return (storage, *rule)


# The kinds build on the names above (they import them from this package) and the backend
# runs rows through them: bound once this module is complete.
from .capture import VulkanProgram  # noqa: E402
from .kinds import RUNNERS  # noqa: E402
from .kinds.gather import gather_call  # noqa: E402
