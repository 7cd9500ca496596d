"""The Vulkan backend: GLSL compute shaders dispatched through Kompute (``kp``).

One generic dispatch path per op kind reads the op row (``ops.py``); there is no per-op host
code. See docs/vulkan.md for the pipeline, dtype packing, ordering and caches.

>>> be = VulkanBackend()                       # doctest: +SKIP
>>> x = be.from_numpy(np.ones(3, np.float32), dtypes.float32)
"""

from __future__ import annotations

import ctypes.util
import math
import os
import time
from collections import OrderedDict
from typing import Any

import numpy as np

from ... import dtypes
from ...dtypes import DType
from ...ops import Op
from ..base import Backend
from .pool import Buffer, BufferPool
from .recorder import Recorder

__all__ = [
    "VulkanUnavailable",
    "VulkanBackend",
    "VkArray",
    "ShaderCompileError",
    "enumerate_devices",
]

WG = 256  # threads per workgroup in every shader (shaders/common.glsl)
# reduce rows: fewer than REDUCE_SPLIT_ROWS rows of more than 2 * REDUCE_CHUNK elements are
# reduced in chunks first (16 elements per thread each).
REDUCE_CHUNK, REDUCE_SPLIT_ROWS = 16 * WG, 1024
MAX_GROUPS = 65535  # Vulkan's guaranteed maxComputeWorkGroupCount per dimension
MAX_DIMS = 8  # dims in a map kernel's meta block
PUSH_WORDS = 32  # 128 bytes: the push-constant size every Vulkan device guarantees
# Each cached kp algorithm owns a pipeline: ~0.75 MB of JIT code on lavapipe (measured over
# tests/test_composite.py + test_conv.py: 1355 algorithms, 1.0 GB). Unbounded, a process that
# meets many shapes grows without limit; the bound must stay above the number of algorithms
# one training step uses, or every step would rebuild pipelines.
MAX_ALGORITHMS = int(os.environ.get("VKGRAD_MAX_ALGORITHMS", "4096"))


# Binding dtype codes, as in shaders/common.glsl and compile.DT_CODE. (The compile module is
# imported lazily so that `python -m vkgrad.backends.vulkan.compile` runs it only once.)
DT_CODE = {"float32": 0, "float16": 1, "int32": 2, "bool": 3}


def __getattr__(name: str):
    if name == "ShaderCompileError":
        from .compile import ShaderCompileError

        return ShaderCompileError
    raise AttributeError(name)


class VulkanUnavailable(RuntimeError):
    """No usable Vulkan: kp missing, no Vulkan loader, or no device."""


_kp_module = None
_MANAGERS: dict = {}


def _kp():
    global _kp_module
    if _kp_module is None:
        try:
            import kp  # noqa: PLC0415
        except ImportError as e:
            raise VulkanUnavailable(
                f"the Vulkan backend needs the kp (Kompute) package, which is not importable "
                f'({e}); install it with pip install "vkgrad[vulkan]" (`make test` sets it up)'
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


def get_manager(index: int = 0):
    """The cached kp.Manager of device ``index`` (creating one costs tens of ms)."""
    mgr = _MANAGERS.get(index)
    if mgr is None:
        kp = _kp()
        _check_loader()
        try:
            mgr = kp.Manager(index)
        except Exception as e:  # kp raises plain RuntimeErrors from C++
            raise VulkanUnavailable(f"cannot open Vulkan device {index}: {e}") from e
        _MANAGERS[index] = mgr
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
    mgr = get_manager(0)
    out = []
    for i, props in enumerate(mgr.list_devices()):
        d = dict(props)
        d.update(index=i, name=props.get("device_name", f"device {i}"), device_type=_classify(d))
        out.append(d)
    return out


# ---------------------------------------------------------------- arrays


class Storage:
    """A pooled buffer shared by every array viewing it (reshape); returns it when it dies.

    ``host_range``: (min, max) of int32 values uploaded from the host, until a kernel writes
    the buffer; index rows check it against their ``Op.bounds`` without a sync.
    """

    __slots__ = ("buf", "pool", "host_range", "__weakref__")

    def __init__(self, buf: Buffer, pool: BufferPool) -> None:
        self.buf = buf
        self.pool = pool
        self.host_range = None

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
        self.size = math.prod(self.shape)

    @property
    def buf(self) -> Buffer:
        return self.storage.buf

    def __repr__(self) -> str:
        return f"VkArray(shape={self.shape}, dtype={self.dtype.name})"


def _words(n: int, dtype: DType) -> int:
    return (n + 1) // 2 if dtype is dtypes.float16 else n


def _no_f64(opname: str, dt) -> None:
    if dt is dtypes.float64:
        raise TypeError(
            f"{opname}: float64 is not supported on the Vulkan backend (f64 is CPU-only: "
            f"Vulkan devices often lack it and kp enables no device features); "
            f"use float32 or the cpu device"
        )


def _contig_strides(shape: tuple) -> tuple:
    st, acc = [], 1
    for d in reversed(shape):
        st.append(acc)
        acc *= d
    return tuple(reversed(st))


def _f32_bits(x: float) -> int:
    return int(np.array(x, dtype=np.float32).view(np.uint32))


# ---------------------------------------------------------------- the backend


class VulkanBackend(Backend):
    """Runs op rows as compute shaders on Vulkan device ``index``."""

    type = "vulkan"

    def __init__(self, index: int = 0) -> None:
        kp = _kp()
        self.index = index
        self.mgr = get_manager(index)
        self.kp = kp
        # device type everywhere (device buffer + host staging), see docs/vulkan.md.
        self.pool = BufferPool(self.mgr, kp.TensorTypes.device)
        self.recorder = Recorder(kp, self.mgr)
        self.max_groups = MAX_GROUPS  # tests lower it to exercise the grid-stride loops
        self._algos: OrderedDict = OrderedDict()  # least recently used first
        self.max_algorithms = MAX_ALGORITHMS
        self._meta: dict = {}
        self._spirv: dict = {}
        self.algorithms_created = 0
        self.algorithms_evicted = 0
        self.algorithm_seconds = 0.0
        self._dummy = self._permanent(np.zeros(64, np.uint32))
        # While a step is captured: every (storage, bounds) checked, for the replays.
        self.bounds_checked: list | None = None

    # -------------------------------------------------- bookkeeping

    def stats(self) -> dict:
        """Counters for tests and benchmarks (all monotone except live_buffers)."""
        return {
            "algorithms_created": self.algorithms_created,
            "algorithms_evicted": self.algorithms_evicted,
            "algorithm_seconds": self.algorithm_seconds,
            "buffers_allocated": self.pool.allocated,
            "pool_hits": self.pool.hits,
            "live_buffers": self.pool.live,
            "meta_buffers": len(self._meta),
            "submits": self.recorder.submits,
            "dispatches": self.recorder.dispatches,
            "barrier_mode": self.recorder.mode,
        }

    def empty_cache(self) -> None:
        """Free pooled buffers nobody uses (and the algorithms bound to them)."""
        self.synchronize()
        self._algos.clear()
        self.pool.empty()

    def synchronize(self) -> None:
        self.recorder.flush()

    def capture_program(self, inputs: list):
        from .capture import VulkanProgram

        return VulkanProgram(self, inputs)

    def _permanent(self, words: np.ndarray) -> Buffer:
        t = self.mgr.tensor_t(
            np.ascontiguousarray(words, dtype=np.uint32), self.kp.TensorTypes.device
        )
        buf = Buffer(t, len(words))
        self.recorder.upload(buf, [])
        return buf

    def _new(self, shape: tuple, dtype: DType) -> VkArray:
        n = math.prod(shape)
        buf = self.pool.acquire(max(_words(n, dtype), 1))
        return VkArray(shape, dtype, Storage(buf, self.pool))

    # -------------------------------------------------- host transfers

    def from_numpy(self, data: np.ndarray, dtype: DType) -> VkArray:
        dtype = dtypes.get(dtype)
        _no_f64("from_numpy", dtype)
        a = np.asarray(data)
        arr = self._new(a.shape, dtype)
        flat = np.ascontiguousarray(a, dtype=dtype.np).reshape(-1)
        if dtype is dtypes.float16:
            if flat.size % 2:
                flat = np.concatenate([flat, np.zeros(1, np.float16)])
            words = flat.view(np.uint32)  # little-endian: even element in the low half
        elif dtype is dtypes.bool_:
            words = flat.astype(np.uint32)
        else:
            words = flat.view(np.uint32)
        arr.buf.tensor.data()[: words.size] = words  # the staging memory, mapped
        self.recorder.upload(arr.buf, [arr.storage])
        if dtype is dtypes.int32 and flat.size:
            arr.storage.host_range = (int(flat.min()), int(flat.max()))
        return arr

    def to_numpy(self, array: VkArray, dtype: DType | None = None) -> np.ndarray:
        self.recorder.download([array.buf])
        n = array.size
        words = array.buf.tensor.data()[: _words(n, array.dtype)]
        dt = array.dtype
        if dt is dtypes.float16:
            vals = words.view(np.float16)[:n]
        elif dt is dtypes.bool_:
            vals = words != 0
        else:
            vals = words.view(dt.np)
        vals = vals.reshape(array.shape)
        target = dtypes.get(dtype).np if dtype is not None else dt.np
        return vals.astype(target, copy=True)

    def reshape(self, array: VkArray, shape: tuple) -> VkArray:
        shape = tuple(shape)
        if math.prod(shape) != array.size:
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
                from .compile import compile_shader

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
            self._algos[key] = algo
            # A pending or captured sequence holds its own reference to the algorithms it
            # dispatches, so dropping ours frees the pipeline only once nothing uses it.
            while len(self._algos) > self.max_algorithms:
                self._algos.popitem(last=False)
                self.algorithms_evicted += 1
        return algo

    def _meta_buffer(self, words: tuple) -> Buffer:
        # Cached by content: same shapes -> same buffer -> algorithm cache hit.
        buf = self._meta.get(words)
        if buf is None:
            buf = self._meta[words] = self._permanent(np.array(words, dtype=np.uint32))
        return buf

    def _dispatch(
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
        algo = self._algorithm(name, defines, bufs, groups)
        self.recorder.dispatch(algo, push, reads, writes, hold)

    def _groups(self, items: int) -> int:
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
            self._run_update(op, inputs, attrs)
            return None
        if out is None:
            out = self._new(shape, dtype)
        elif out.shape != shape or out.dtype is not dtype:
            raise ValueError(
                f"{op.name}: out= has shape {out.shape} and dtype {out.dtype.name}, "
                f"expected {shape} and {dtype.name}"
            )
        else:
            out.storage.host_range = None  # overwritten on the device: no longer known
        runner = getattr(self, f"_run_{op.kind}", None)
        if runner is not None:
            runner(op, inputs, attrs, out)
        else:
            from .kinds import RUNNERS

            RUNNERS[op.kind](self, op, inputs, attrs, out)
        return out

    def _scalar_attrs(self, op: Op, attrs: dict) -> list:
        vals = []
        for name in op.attrs:
            v = attrs.get(name)
            if isinstance(v, (tuple, list)):
                continue  # dims/shapes/starts are consumed on the host (view, out_shape)
            vals.append(0.0 if v is None else float(v))
        return vals

    def _push(self, head: list, attr_vals: list) -> np.ndarray:
        push = np.zeros(PUSH_WORDS, dtype=np.uint32)
        push[: len(head)] = head
        if attr_vals:
            push[8 : 8 + len(attr_vals)] = np.array(attr_vals, dtype=np.float32).view(np.uint32)
        return push

    # map -------------------------------------------------------------

    def _run_map(self, op: Op, inputs: list, attrs: dict, out: VkArray) -> None:
        if op.scatter:
            # Zero the whole output, then write the input through the view of it.
            self._map_call("fill", [], out, out.shape, [0.0], None)
            view = op.view(tuple(attrs["in_shape"]), attrs)
            self._map_call(op.name, inputs, out, inputs[0].shape, [], view, scatter=True)
            return
        view = op.view(inputs[0].shape, attrs) if op.view is not None else None
        self._map_call(op.name, inputs, out, out.shape, self._scalar_attrs(op, attrs), view)

    def _map_call(
        self,
        name: str,
        inputs: list,
        out: VkArray,
        shape: tuple,
        attr_vals: list,
        view,
        scatter: bool = False,
    ) -> None:
        n = math.prod(shape)
        if n == 0:
            return
        ndim = len(shape)
        defines = {"D0": DT_CODE[out.dtype.name]}
        bufs = [out.buf, self._dummy, self._dummy, self._dummy, self._dummy]
        modes, scalars = 0, [0, 0, 0]
        strided = view is not None
        in_meta = []
        reads, hold = [], [out.storage]
        # A scalar operand reads no buffer; its slot takes the dtype the op table's variants
        # give it (the output's, or the first tensor's for bool results), so that `x * 2.0`
        # runs the SPIR-V of `x * y` instead of a variant of its own.
        tensors = [x for x in inputs if isinstance(x, VkArray)]
        slot = tensors[0].dtype if out.dtype is dtypes.bool_ and tensors else out.dtype
        for k in range(3):
            x = inputs[k] if k < len(inputs) else None
            if x is None:
                modes |= 3 << (2 * k)
                in_meta.append((0, (0,) * ndim))
            elif not isinstance(x, VkArray):
                modes |= 2 << (2 * k)
                scalars[k] = _f32_bits(float(x))
                in_meta.append((0, (0,) * ndim))
                defines[f"D{k + 1}"] = DT_CODE[slot.name]
            else:
                defines[f"D{k + 1}"] = DT_CODE[x.dtype.name]
                bufs[1 + k] = x.buf
                reads.append(x.buf)
                hold.append(x.storage)
                if k == 0 and view is not None and not scatter:
                    in_meta.append((view[2], tuple(view[1])))
                else:
                    if x.size != n:
                        strided = True  # a real broadcast
                    in_meta.append((0, _broadcast_strides(x.shape, shape)))
        out_meta = (0, _contig_strides(shape))
        if scatter:
            out_meta = (view[2], tuple(view[1]))
        use_meta = 0
        if strided:
            if ndim > MAX_DIMS:
                raise NotImplementedError(f"{name}: more than {MAX_DIMS} dims on Vulkan")
            use_meta = 1
            pad = MAX_DIMS - ndim
            words = list(shape) + [1] * pad
            for off, st in [*in_meta, out_meta]:
                words += [off] + list(st) + [0] * pad
            # Negative strides (flip) as two's complement: the shader's uint arithmetic wraps.
            bufs[4] = self._meta_buffer(tuple(int(w) & 0xFFFFFFFF for w in words))
        f16_pairs = out.dtype is dtypes.float16 and not scatter
        items = (n + 1) // 2 if f16_pairs else n
        groups = (self._groups(items), 1, 1)
        head = [n, modes, *scalars, ndim, use_meta, int(scatter)]
        push = self._push(head, attr_vals)
        self._dispatch(name, defines, bufs, groups, push, reads, [out.buf], hold)

    # reduce / row / loss_row -------------------------------------------

    def _rows_call(
        self, op: Op, inputs: list, attrs: dict, out: VkArray, m: int, k: int, chunk: int = 0
    ) -> None:
        from .kinds import check_row_loops

        shapes = [(m, chunk)] if chunk else [getattr(x, "shape", ()) for x in inputs]
        check_row_loops(self, op, shapes, attrs, m)
        name = op.name
        defines = {"D0": DT_CODE[out.dtype.name]}
        bufs = [out.buf]
        for i, x in enumerate(inputs):
            defines[f"D{i + 1}"] = DT_CODE[x.dtype.name]
            bufs.append(x.buf)
        if m == 0:
            return
        groups = (max(1, min(m, self.max_groups)), 1, 1)
        push = self._push([m, k, chunk], [])
        hold = [out.storage] + [x.storage for x in inputs]
        self._dispatch(name, defines, bufs, groups, push, [x.buf for x in inputs], [out.buf], hold)

    def _run_reduce(self, op: Op, inputs: list, attrs: dict, out: VkArray) -> None:
        (x,) = inputs
        k, m = (x.shape[-1] if x.shape else 1), out.size
        # Fewer rows than workgroups would fill, each long: reduce chunks of REDUCE_CHUNK
        # elements in parallel into f32 partials, then reduce those (again if need be). A full
        # reduction otherwise runs on one workgroup, and past lavapipe's loop limit.
        while m < REDUCE_SPLIT_ROWS and k > 2 * REDUCE_CHUNK:
            c = -(-k // REDUCE_CHUNK)
            part = self._new((m, c), dtypes.float32)
            self._rows_call(op, [x], attrs, part, m * c, k, chunk=REDUCE_CHUNK)
            x, k = part, c
        self._rows_call(op, [x], attrs, out, m, k)

    def _run_row(self, op: Op, inputs: list, attrs: dict, out: VkArray) -> None:
        x = inputs[0]
        m, k = (x.shape[0], x.shape[1]) if len(x.shape) == 2 else (1, x.size)
        self._rows_call(op, list(inputs), attrs, out, m, k)

    def _run_loss_row(self, op: Op, inputs: list, attrs: dict, out: VkArray) -> None:
        n, c = inputs[0].shape
        for x in inputs[1:]:
            if not isinstance(x, VkArray):
                raise TypeError(f"{op.name}: targets and grads must be arrays, got {x!r}")
        if "index" in op.name and inputs[1].dtype is not dtypes.int32:
            raise TypeError(f"{op.name}: class indices must be int32, got {inputs[1].dtype.name}")
        self._rows_call(op, list(inputs), attrs, out, n, c)

    # matmul ------------------------------------------------------------

    def _run_matmul(self, op: Op, inputs: list, attrs: dict, out: VkArray) -> None:
        a, b = inputs
        ta, tb = int(bool(attrs.get("ta", 0))), int(bool(attrs.get("tb", 0)))
        batch, m, n = out.shape
        k = a.shape[1] if ta else a.shape[2]
        if out.size == 0:
            return
        if k == 0:
            self._map_call("fill", [], out, out.shape, [0.0], None)
            return
        sa = 0 if a.shape[0] == 1 else m * k
        sb = 0 if b.shape[0] == 1 else k * n
        tile = 64
        groups = (
            min(-(-n // tile), self.max_groups),
            min(-(-m // tile), self.max_groups),
            min(batch, self.max_groups),
        )
        defines = {
            "D0": DT_CODE[out.dtype.name],
            "D1": DT_CODE[a.dtype.name],
            "D2": DT_CODE[b.dtype.name],
        }
        push = self._push([batch, m, n, k, sa, sb, ta, tb], [])
        hold = [out.storage, a.storage, b.storage]
        bufs = [out.buf, a.buf, b.buf]
        self._dispatch(op.name, defines, bufs, groups, push, [a.buf, b.buf], [out.buf], hold)

    # update --------------------------------------------------------------

    def _run_update(self, op: Op, inputs: list, attrs: dict) -> None:
        *tensors, hyper = inputs  # hyper: the row's attrs as f32, written by functional.update
        p = tensors[0]
        for x in inputs:
            if not isinstance(x, VkArray):
                raise TypeError(f"{op.name}: every input must be an array, got {x!r}")
        for x in tensors:
            if x.size != p.size:
                raise ValueError(f"{op.name}: sizes differ ({x.shape} vs {p.shape})")
        for x in inputs[2:]:
            if x.dtype is not dtypes.float32:
                raise TypeError(f"{op.name}: optimizer state must be float32, got {x.dtype.name}")
        if p.size == 0:
            return
        defines = {
            "D0": DT_CODE[p.dtype.name],
            "D1": DT_CODE[tensors[1].dtype.name],
            "HYPER": len(tensors),
        }
        items = (p.size + 1) // 2 if p.dtype is dtypes.float16 else p.size
        groups = (self._groups(items), 1, 1)
        push = self._push([p.size], [])
        bufs = [x.buf for x in inputs]
        hold = [x.storage for x in inputs]
        self._dispatch(op.name, defines, bufs, groups, push, bufs, bufs[:-1], hold)


def _check_bounds(op: Op, inputs: list, attrs: dict):
    """IndexError for indices uploaded from the host that fall outside the row's bounds.

    Only the extremes are known: when one of them is the skip value (ignore_index), a bad
    value between them goes through, and the kernels skip it. Returns (storage, lo, hi,
    skip, message) for the indices' storage, or None when the indices are scalars."""
    shapes = [x.shape if isinstance(x, VkArray) else () for x in inputs]
    pos, *rule = op.bounds(shapes, attrs)
    if not isinstance(inputs[pos], VkArray):
        return None
    storage = inputs[pos].storage
    check_range(storage.host_range, *rule)
    return (storage, *rule)


def check_range(known, lo: int, hi: int, skip, message: str) -> None:
    """IndexError when the known (min, max) of some indices leaves [lo, hi) but for skip."""
    if known is not None:
        for v in (known[1], known[0]):
            if not lo <= v < hi and v != skip:
                raise IndexError(message.format(v=v))


def _broadcast_strides(in_shape: tuple, out_shape: tuple) -> tuple:
    """Element strides reading ``in_shape`` broadcast to ``out_shape`` (0 on broadcast dims)."""
    lead = len(out_shape) - len(in_shape)
    st = _contig_strides(in_shape)
    res = [0] * lead
    for i, d in enumerate(in_shape):
        res.append(0 if d == 1 and out_shape[lead + i] != 1 else st[i])
    return tuple(res)
