"""Tensor: shape, dtype, device, gradient state, and the operators, all calling functional."""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from . import autograd, dtypes
from . import functional as F
from .device import Device, default_device, default_dtype
from .shapes import numel

# isort: off
# BEGIN GENERATED IMPORTS (scripts/gen_exports.py)
from .library import elementwise as _elementwise
from .library import indexing as _indexing
from .library import linalg as _linalg
from .library import random as _random
from .library import reduction as _reduction
from .library import shape as _shape
# END GENERATED IMPORTS
# isort: on


class _HookHandle:
    """Returned by ``register_post_accumulate_grad_hook``: ``remove()`` takes the hook away."""

    def __init__(self, hooks: list, hook) -> None:
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


class Tensor:
    """An n-dimensional array on a device, with reverse-mode autograd.

    >>> x = vkgrad.tensor([[1.0, 2.0]], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad.tolist()
    [[2.0, 4.0]]
    """

    __array_priority__ = 1000  # numpy scalars on the left defer to our operators

    def __init__(self, *args, **kwargs) -> None:
        raise TypeError("use vkgrad.tensor(data) (or zeros, ones, ...) to create tensors")

    @classmethod
    def _make(cls, data: Any, shape: tuple, dtype: dtypes.DType, device: Device) -> Tensor:
        t = object.__new__(cls)
        t._data = data
        # Shapes from ops.out_shape are already tuples of ints; only convert what is not.
        t._shape = shape if type(shape) is tuple else tuple(int(s) for s in shape)
        t._dtype = dtype
        t._device = device
        t._version = [0]
        t.requires_grad = False
        t.grad = None
        t.grad_fn = None
        t._output_nr = 0
        t._accum = None
        t._hooks = []
        return t

    # ------------------------------------------------------------ attributes

    @property
    def shape(self) -> tuple:
        return self._shape

    def size(self, dim: int | None = None):
        return self._shape if dim is None else self._shape[dim]

    @property
    def ndim(self) -> int:
        return len(self._shape)

    def dim(self) -> int:
        return len(self._shape)

    def numel(self) -> int:
        n = 1
        for s in self._shape:
            n *= s
        return n

    def __len__(self) -> int:
        if not self._shape:
            raise TypeError("len() of a 0-d tensor")
        return self._shape[0]

    @property
    def dtype(self) -> dtypes.DType:
        return self._dtype

    @property
    def device(self) -> Device:
        return self._device

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def T(self) -> Tensor:
        return F.permute(self, tuple(reversed(range(self.ndim))))

    @property
    def mT(self) -> Tensor:
        return F.transpose(self, -2, -1)

    @property
    def data(self) -> Tensor:
        return self.detach()

    # ------------------------------------------------------------ host access

    def numpy(self) -> np.ndarray:
        return self._device.backend.to_numpy(self._data, self._dtype).reshape(self._shape)

    def item(self):
        if self.numel() != 1:
            raise RuntimeError(
                f"item: a Tensor with {self.numel()} elements cannot be converted to a scalar"
            )
        return self.numpy().reshape(()).item()

    def tolist(self):
        return self.numpy().tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        """A one-element integer tensor indexes Python sequences (``words[idx]``), as in
        PyTorch; float tensors are refused rather than truncated."""
        if self._dtype.is_floating or self.numel() != 1:
            raise TypeError(
                f"__index__: only integer tensors of a single element can be converted to an "
                f"index, got {self._dtype.name} of shape {self._shape}"
            )
        return int(self.item())

    def __bool__(self) -> bool:
        if self.numel() != 1:
            raise RuntimeError(
                "bool: a Tensor with more than one element has an ambiguous truth value"
            )
        return bool(self.item())

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        return a.astype(dtype) if dtype is not None else a

    def __repr__(self) -> str:
        body = np.array2string(
            self.numpy(), separator=", ", precision=4, prefix="tensor(", threshold=200
        )
        extras = []
        if self._device.type != "cpu":
            extras.append(f"device='{self._device}'")
        if self._dtype is not dtypes.float32:
            extras.append(f"dtype={self._dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{self.grad_fn.name()}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    def _set_values(self, values: np.ndarray) -> None:
        """Overwrite the values without touching autograd state (gradcheck, loading)."""
        fresh = self._device.backend.from_numpy(np.asarray(values), self._dtype)
        self._device.backend.run(
            _COPY, [fresh], {"dtype": self._dtype}, self._shape, self._dtype, out=self._data
        )

    # ------------------------------------------------------------ autograd

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if not self.is_leaf:
            raise RuntimeError(
                "requires_grad_: you can only change requires_grad flags of leaf tensors; "
                "use .detach() for a non-leaf"
            )
        if requires_grad and not self._dtype.is_floating:
            raise RuntimeError(
                f"requires_grad_: only floating point tensors can require gradients, got "
                f"{self._dtype}"
            )
        self.requires_grad = requires_grad
        return self

    def _accumulate_node(self):
        node = self._accum() if self._accum is not None else None
        if node is None:
            node = autograd.AccumulateGrad(self)
            # Weak, so that graphs own the node and the leaf does not own the graph.
            self._accum = weakref.ref(node)
        return node

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None) -> None:
        autograd.backward(self, gradient, retain_graph, create_graph, inputs)

    def retain_grad(self) -> None:
        if self.grad_fn is None:
            if not self.requires_grad:
                raise RuntimeError(
                    "retain_grad: can't retain_grad on a tensor that has requires_grad=False"
                )
            return
        self.grad_fn._retained.append(weakref.ref(self))

    @property
    def retains_grad(self) -> bool:
        return self.grad_fn is not None and any(r() is self for r in self.grad_fn._retained)

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; it may return a new one."""
        if not self.requires_grad:
            raise RuntimeError("register_hook: tensor does not require grad")
        if self.grad_fn is None:
            self._hooks.append(hook)
        else:
            nr = self._output_nr

            def pre(grads, hook=hook, nr=nr):
                if grads[nr] is None:
                    return None
                r = hook(grads[nr])
                if r is None:
                    return None
                grads = list(grads)
                grads[nr] = r
                return grads

            self.grad_fn.register_hook(pre)
        return hook

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(tensor)`` on a leaf after backward has accumulated its gradient into
        ``.grad`` (``DistributedDataParallel`` starts averaging a bucket of gradients from
        here, while backward goes on). Returns a handle whose ``remove()`` takes it away."""
        if not self.requires_grad or self.grad_fn is not None:
            raise RuntimeError(
                "register_post_accumulate_grad_hook: only leaf tensors that require grad "
                "accumulate a gradient"
            )
        hooks = self.__dict__.setdefault("_post_accumulate_hooks", [])
        hooks.append(hook)
        return _HookHandle(hooks, hook)

    def detach(self) -> Tensor:
        t = Tensor._make(self._data, self._shape, self._dtype, self._device)
        t._version = self._version
        return t

    def detach_(self) -> Tensor:
        self.grad_fn = None
        self.requires_grad = False
        return self

    def clone(self) -> Tensor:
        return autograd.apply("copy", self, dtype=self._dtype)

    def __deepcopy__(self, memo: dict) -> Tensor:
        """A copy of the values on the same device (``copy.deepcopy`` of tensors and
        modules); as in PyTorch, only leaves can be deep-copied."""
        if not self.is_leaf:
            raise RuntimeError(
                "deepcopy: only tensors created explicitly by the user (graph leaves) support "
                "the deepcopy protocol; use .detach().clone()"
            )
        with autograd.no_grad():
            new = self.clone()
        if type(self) is not Tensor:  # Parameter and other subclasses keep their class
            new = type(self)(new, self.requires_grad)
        else:
            new.requires_grad = self.requires_grad
        if self.grad is not None:
            new.grad = self.grad.__deepcopy__(memo)
        memo[id(self)] = new
        return new

    def contiguous(self) -> Tensor:
        return self

    # ------------------------------------------------------------ conversion

    def to(self, *args, **kwargs) -> Tensor:
        """``.to("vulkan")``, ``.to(vkgrad.float16)``, ``.to("cpu", "f32")``, ``.to(other)``."""
        device, dtype = None, None
        for a in list(args) + [kwargs.get("device"), kwargs.get("dtype")]:
            if a is None:
                continue
            if isinstance(a, Tensor):
                device, dtype = a.device, a.dtype
            elif isinstance(a, dtypes.DType) or (isinstance(a, str) and _is_dtype_name(a)):
                dtype = dtypes.get(a)
            else:
                device = Device.parse(a)
        out = self
        if dtype is not None and dtype is not out._dtype:
            out = F.to_dtype(out, dtype)
        if device is not None and device != out._device:
            out = _ToDevice.apply(out, device)
        return out

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def float(self) -> Tensor:
        return self.to(dtypes.float32)

    def half(self) -> Tensor:
        return self.to(dtypes.float16)

    def double(self) -> Tensor:
        return self.to(dtypes.float64)

    def int(self) -> Tensor:
        return self.to(dtypes.int32)

    def bool(self) -> Tensor:
        return self.to(dtypes.bool_)

    def type_as(self, other: Tensor) -> Tensor:
        return self.to(other.dtype)

    def type(self, dtype=None):
        """The dtype's name without an argument (PyTorch gives ``"torch.FloatTensor"``);
        with one, the tensor converted to it: ``x.type(vkgrad.float)``."""
        return self._dtype.name if dtype is None else self.to(dtypes.get(dtype))

    def nelement(self) -> int:
        return self.numel()

    # ------------------------------------------------------------ new_* (this dtype and device)

    def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
        """A tensor of ``size`` filled with ``fill_value``, with this tensor's dtype and device
        unless given: ``h0 = weight.new_full((layers, batch, hidden), 0.5)``."""
        return full(
            _shape_arg((size,)),
            fill_value,
            dtype or self._dtype,
            device or self._device,
            requires_grad,
        )

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
        """Zeros of ``size`` (a tuple or separate ints), this tensor's dtype and device unless
        given: ``weight.new_zeros(layers, batch, hidden)``."""
        return self.new_full(
            _shape_arg(size), 0.0, dtype=dtype, device=device, requires_grad=requires_grad
        )

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
        return self.new_full(
            _shape_arg(size), 1.0, dtype=dtype, device=device, requires_grad=requires_grad
        )

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
        """As ``vkgrad.empty``: zero-filled."""
        return self.new_zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)

    def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False) -> Tensor:
        """A copy of ``data`` with this tensor's dtype and device unless given (as in PyTorch,
        integer data given to a float tensor's ``new_tensor`` becomes float)."""
        return tensor(data, dtype or self._dtype, device or self._device, requires_grad)

    # ------------------------------------------------------------ operators

    def __add__(self, o):
        return F.add(self, o)

    def __radd__(self, o):
        return F.add(o, self)

    def __sub__(self, o):
        return F.sub(self, o)

    def __rsub__(self, o):
        return F.sub(o, self)

    def __mul__(self, o):
        return F.mul(self, o)

    def __rmul__(self, o):
        return F.mul(o, self)

    def __truediv__(self, o):
        return F.div(self, o)

    def __rtruediv__(self, o):
        return F.div(o, self)

    def __pow__(self, o):
        return F.pow(self, o)

    def __rpow__(self, o):
        return F.pow(o, self)

    def __matmul__(self, o):
        return F.matmul(self, o)

    def __rmatmul__(self, o):
        return F.matmul(o, self)

    def __neg__(self):
        return F.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return F.abs(self)

    def __eq__(self, o):  # type: ignore[override]
        return F.compare("eq", self, o)

    def __ne__(self, o):  # type: ignore[override]
        return F.compare("ne", self, o)

    def __lt__(self, o):
        return F.compare("lt", self, o)

    def __le__(self, o):
        return F.compare("le", self, o)

    def __gt__(self, o):
        return F.compare("gt", self, o)

    def __ge__(self, o):
        return F.compare("ge", self, o)

    __hash__ = object.__hash__

    def __getitem__(self, index):
        return F.getitem(self, index)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    # in-place

    def add_(self, o, alpha=1):
        return autograd.apply_inplace("add", self, o if alpha == 1 else F.mul(o, alpha))

    def sub_(self, o, alpha=1):
        return autograd.apply_inplace("sub", self, o if alpha == 1 else F.mul(o, alpha))

    def mul_(self, o):
        return autograd.apply_inplace("mul", self, o)

    def div_(self, o):
        return autograd.apply_inplace("div", self, o)

    def zero_(self):
        return self.fill_(0.0)

    def fill_(self, value):
        return _fill_inplace(self, value)

    def copy_(self, src):
        if not isinstance(src, Tensor):
            raise TypeError(f"copy_: expected a tensor, got {type(src).__name__}")
        if src.device != self.device:
            src = src.to(self.device)
        if numel(src.shape) != self.numel() or tuple(src.shape) != tuple(self.shape):
            src = F.expand(src, self.shape)
        return autograd.apply_inplace("copy", self, src, include_target=False, dtype=self._dtype)

    def __iadd__(self, o):
        return self.add_(o)

    def __isub__(self, o):
        return self.sub_(o)

    def __imul__(self, o):
        return self.mul_(o)

    def __itruediv__(self, o):
        return self.div_(o)

    # methods mirroring functional
    def reshape(self, *shape):
        return F.reshape(self, *shape)

    view = reshape

    def view_as(self, other):
        return F.reshape(self, other.shape)

    def permute(self, *dims):
        return F.permute(self, *dims)

    def transpose(self, d0, d1):
        return F.transpose(self, d0, d1)

    def t(self):
        if self.ndim > 2:
            raise RuntimeError(f"t: expects a tensor with <= 2 dims, got {self.ndim}")
        return F.transpose(self, 0, -1) if self.ndim == 2 else self

    def expand(self, *shape):
        return F.expand(self, *shape)

    def expand_as(self, other):
        return F.expand(self, other.shape)

    def unsqueeze(self, dim):
        return F.unsqueeze(self, dim)

    def squeeze(self, dim=None):
        return F.squeeze(self, dim)

    def flatten(self, start_dim=0, end_dim=-1):
        return F.flatten(self, start_dim, end_dim)

    def sum(self, dim=None, keepdim=False, dtype=None):
        return F.sum(self, dim, keepdim, dtype)

    def mean(self, dim=None, keepdim=False):
        return F.mean(self, dim, keepdim)

    def max(self, dim=None, keepdim=False):
        return F.max(self, dim, keepdim)

    def softmax(self, dim=-1):
        return F.softmax(self, dim)

    def log_softmax(self, dim=-1):
        return F.log_softmax(self, dim)

    def matmul(self, o):
        return F.matmul(self, o)

    def exp(self):
        return F.exp(self)

    def log(self):
        return F.log(self)

    def sqrt(self):
        return F.sqrt(self)

    def abs(self):
        return F.abs(self)

    def neg(self):
        return F.neg(self)

    def relu(self):
        return F.relu(self)

    def sigmoid(self):
        return F.sigmoid(self)

    def tanh(self):
        return F.tanh(self)

    def pow(self, e):
        return F.pow(self, e)

    def clamp(self, min=None, max=None):
        return F.clamp(self, min, max)

    clip = clamp

    def maximum(self, o):
        return F.maximum(self, o)

    def minimum(self, o):
        return F.minimum(self, o)

    def add(self, o, alpha=1):
        return F.add(self, o, alpha)

    def sub(self, o, alpha=1):
        return F.sub(self, o, alpha)

    def mul(self, o):
        return F.mul(self, o)

    def div(self, o):
        return F.div(self, o)

    def eq(self, o):
        return F.compare("eq", self, o)

    def ne(self, o):
        return F.compare("ne", self, o)

    def lt(self, o):
        return F.compare("lt", self, o)

    def le(self, o):
        return F.compare("le", self, o)

    def gt(self, o):
        return F.compare("gt", self, o)

    def ge(self, o):
        return F.compare("ge", self, o)

    # The op families' methods (``TENSOR_METHODS`` in each vkgrad/library module).
    # BEGIN GENERATED METHODS (scripts/gen_exports.py)
    __and__ = _elementwise.bitwise_and
    __floordiv__ = _elementwise.floor_divide
    __invert__ = _elementwise.bitwise_not
    __mod__ = _elementwise.remainder
    __or__ = _elementwise.bitwise_or
    __rand__ = _elementwise._rand
    __rfloordiv__ = _elementwise._rfloordiv
    __rmod__ = _elementwise._rmod
    __ror__ = _elementwise._ror
    __rxor__ = _elementwise._rxor
    __xor__ = _elementwise.bitwise_xor
    acos = _elementwise.acos
    addcdiv = _elementwise.addcdiv
    addcmul = _elementwise.addcmul
    arccos = _elementwise.acos
    arcsin = _elementwise.asin
    arctan = _elementwise.atan
    asin = _elementwise.asin
    atan = _elementwise.atan
    bitwise_and = _elementwise.bitwise_and
    bitwise_not = _elementwise.bitwise_not
    bitwise_or = _elementwise.bitwise_or
    bitwise_xor = _elementwise.bitwise_xor
    ceil = _elementwise.ceil
    cos = _elementwise.cos
    cosh = _elementwise.cosh
    expm1 = _elementwise.expm1
    floor = _elementwise.floor
    floor_divide = _elementwise.floor_divide
    lerp = _elementwise.lerp
    log10 = _elementwise.log10
    log1p = _elementwise.log1p
    log2 = _elementwise.log2
    logical_and = _elementwise.logical_and
    logical_not = _elementwise.logical_not
    logical_or = _elementwise.logical_or
    logical_xor = _elementwise.logical_xor
    long = _elementwise._long
    reciprocal = _elementwise.reciprocal
    remainder = _elementwise.remainder
    round = _elementwise.round
    rsqrt = _elementwise.rsqrt
    sign = _elementwise.sign
    sin = _elementwise.sin
    sinh = _elementwise.sinh
    square = _elementwise.square
    tan = _elementwise.tan
    trunc = _elementwise.trunc
    all = _reduction.all
    amax = _reduction.amax
    amin = _reduction.amin
    any = _reduction.any
    argmax = _reduction.argmax
    argmin = _reduction.argmin
    cumprod = _reduction.cumprod
    cumsum = _reduction.cumsum
    logsumexp = _reduction.logsumexp
    min = _reduction.min
    norm = _reduction.norm
    prod = _reduction.prod
    std = _reduction.std
    var = _reduction.var
    chunk = _shape.chunk
    diag = _shape.diag
    diagonal = _shape.diagonal
    flip = _shape._flip_method
    fliplr = _shape.fliplr
    flipud = _shape.flipud
    narrow = _shape.narrow
    repeat = _shape.repeat
    repeat_interleave = _shape.repeat_interleave
    roll = _shape._roll_method
    select = _shape.select
    split = _shape.split
    tile = _shape._tile_method
    tril = _shape.tril
    triu = _shape.triu
    unbind = _shape.unbind
    unflatten = _shape.unflatten
    __setitem__ = _indexing._method_setitem
    gather = _indexing.gather
    index_add = _indexing.index_add
    index_add_ = _indexing._index_add_
    index_select = _indexing.index_select
    masked_fill = _indexing.masked_fill
    masked_fill_ = _indexing._masked_fill_
    masked_select = _indexing.masked_select
    scatter = _indexing.scatter
    scatter_ = _indexing._scatter_
    scatter_add = _indexing.scatter_add
    scatter_add_ = _indexing._scatter_add_
    bmm = _linalg.bmm
    cross = _linalg.cross
    det = _linalg.det
    dot = _linalg.dot
    ger = _linalg.ger
    inverse = _linalg.inverse
    logdet = _linalg.logdet
    mm = _linalg.mm
    mv = _linalg.mv
    outer = _linalg.outer
    slogdet = _linalg.slogdet
    bernoulli = _random.bernoulli
    bernoulli_ = _random.bernoulli_
    multinomial = _random.multinomial
    normal_ = _random.normal_
    uniform_ = _random.uniform_
    # END GENERATED METHODS


def _is_dtype_name(s: str) -> bool:
    try:
        dtypes.get(s)
        return True
    except ValueError:
        return False


def _fill_inplace(t: Tensor, value) -> Tensor:
    with autograd.no_grad():
        t.device.backend.run(
            _FILL,
            [],
            {"value": float(value), "shape": t.shape, "dtype": t.dtype},
            t.shape,
            t.dtype,
            out=t._data,
        )
    t._version[0] += 1
    return t


class _ToDevice(autograd.Function):
    @staticmethod
    def forward(ctx, x, device):
        ctx.src = x.device
        host = x.device.backend.to_numpy(x._data, x.dtype)
        return Tensor._make(device.backend.from_numpy(host, x.dtype), x.shape, x.dtype, device)

    @staticmethod
    def backward(ctx, g):
        return _ToDevice.apply(g, ctx.src), None


# ---------------------------------------------------------------- creation


def _resolve(dtype, device, data_dtype=None):
    dev = Device.parse(device) if device is not None else default_device()
    if dtype is not None:
        dt = dtypes.get(dtype)
    elif data_dtype is not None:
        dt = data_dtype
    else:
        dt = default_dtype(dev)
    if dev.type == "cpu" or dt is not dtypes.float64:
        return dt, dev
    raise TypeError(
        f"tensor: float64 is not supported on {dev}; use float32/float16 or the cpu device"
    )


def _from_host(arr: np.ndarray, dtype, device, requires_grad: bool) -> Tensor:
    dt, dev = _resolve(dtype, device)
    arr = np.ascontiguousarray(arr).reshape(np.shape(arr))  # ascontiguousarray makes 0-d 1-d
    dtypes.check_fits(arr, dt, "tensor")
    t = Tensor._make(dev.backend.from_numpy(arr, dt), arr.shape, dt, dev)
    if requires_grad:
        t.requires_grad_(True)
    return t


def tensor(data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (nested lists, numbers, arrays, tensors).

    Floats get the default dtype of the device (f16 on a GPU, f32 on the CPU), integers int32,
    booleans bool, unless ``dtype`` says otherwise.

    >>> vkgrad.tensor([[1, 2], [3, 4]], dtype="f32")
    """
    if isinstance(data, Tensor):
        arr = data.numpy()
        if dtype is None:
            dtype = data.dtype
    else:
        arr = np.asarray(data)
    if dtype is None:
        if arr.dtype == np.bool_:
            dtype = dtypes.bool_
        elif arr.dtype.kind in "iu":
            dtype = dtypes.int32
        elif arr.dtype.kind not in "f":
            raise TypeError(f"tensor: can't make a tensor from data of type {arr.dtype}")
    return _from_host(arr, dtype, device, requires_grad)


def from_numpy(arr: np.ndarray, device=None) -> Tensor:
    """A tensor with the array's dtype (a copy: device memory is never shared with NumPy)."""
    return _from_host(arr, dtypes.get(arr.dtype), device, False)


def _shape_arg(size) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    return tuple(int(s) for s in size)


def full(size, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    dt, dev = _resolve(dtype, device)
    t = autograd.apply("fill", value=float(fill_value), shape=tuple(size), dtype=dt, device=dev)
    if requires_grad:
        t.requires_grad_(True)
    return t


def zeros(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return full(_shape_arg(size), 0.0, dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return full(_shape_arg(size), 1.0, dtype, device, requires_grad)


def zeros_like(x: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return full(x.shape, 0.0, dtype or x.dtype, device or x.device, requires_grad)


def ones_like(x: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return full(x.shape, 1.0, dtype or x.dtype, device or x.device, requires_grad)


def full_like(x: Tensor, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    return full(x.shape, fill_value, dtype or x.dtype, device or x.device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new tensor whose values are not to be relied on. vkgrad fills it with zeros: one fill
    kernel, and never memory another tensor left behind."""
    return full(_shape_arg(size), 0.0, dtype, device, requires_grad)


def empty_like(x: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return full(x.shape, 0.0, dtype or x.dtype, device or x.device, requires_grad)


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def is_floating_point(x: Tensor) -> bool:
    return x.dtype.is_floating


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False) -> Tensor:
    if end is None:
        start, end = 0, start
    ints = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
    arr = np.arange(start, end, step, dtype=np.int32 if ints and dtype is None else np.float64)
    return _from_host(
        arr, dtype if dtype is not None else (dtypes.int32 if ints else None), device, requires_grad
    )


def eye(n: int, m: int | None = None, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _from_host(np.eye(n, m), dtype, device, requires_grad)


from . import ops as _ops  # noqa: E402

_COPY = _ops.OPS["copy"]
_FILL = _ops.OPS["fill"]
