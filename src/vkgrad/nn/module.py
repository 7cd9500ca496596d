"""``nn.Module``: the base class of layers and models, with PyTorch's semantics.

Parameters, buffers and submodules assigned as attributes are registered in order;
``parameters()`` walks them recursively (each tensor once), ``state_dict()`` names them by
dotted path, and ``to()`` moves them in place, so an optimizer built before or after the
move sees the same Parameter objects.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any, Callable

import numpy as np

from .. import dtypes
from ..autograd import Function, is_grad_enabled, no_grad, zero_grads
from ..device import Device
from ..tensor import Tensor
from .parameter import Parameter, is_parameter


class RemovableHandle:
    """Returned by ``register_*_hook``; ``handle.remove()`` takes the hook away."""

    _next_id = 0

    def __init__(self, hooks: dict, extra: set | None = None) -> None:
        self._hooks = hooks
        self._extra = extra
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self) -> None:
        self._hooks.pop(self.id, None)
        if self._extra is not None:
            self._extra.discard(self.id)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()


class _IncompatibleKeys:
    """What ``load_state_dict`` returns: the keys it could not match (empty when strict)."""

    def __init__(self, missing_keys: list, unexpected_keys: list) -> None:
        self.missing_keys = missing_keys
        self.unexpected_keys = unexpected_keys

    def __iter__(self):
        return iter((self.missing_keys, self.unexpected_keys))

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return (
            f"_IncompatibleKeys(missing_keys={self.missing_keys}, "
            f"unexpected_keys={self.unexpected_keys})"
        )


class Module:
    """Base class for all layers and models.

    >>> class Net(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc = nn.Linear(4, 2)
    ...     def forward(self, x):
    ...         return self.fc(x).relu()
    >>> [name for name, _ in Net().named_parameters()]
    ['fc.weight', 'fc.bias']
    """

    training: bool

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args or kwargs:
            raise TypeError(
                f"{type(self).__name__}.__init__() got unexpected arguments; Module.__init__ "
                "takes none"
            )
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent_buffers"] = set()
        d["_modules"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()
        d["_forward_pre_hooks"] = OrderedDict()
        d["_forward_hooks_with_kwargs"] = set()
        d["_forward_pre_hooks_with_kwargs"] = set()
        d["_backward_hooks"] = OrderedDict()
        d["_backward_pre_hooks"] = OrderedDict()

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function'
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        d = self.__dict__
        if not (
            d["_forward_hooks"]
            or d["_forward_pre_hooks"]
            or d.get("_backward_hooks")
            or d.get("_backward_pre_hooks")
        ):
            return self.forward(*args, **kwargs)
        return self._call_with_hooks(args, kwargs)

    def _call_with_hooks(self, args: tuple, kwargs: dict) -> Any:
        d = self.__dict__
        for hid, hook in list(self._forward_pre_hooks.items()):
            if hid in d["_forward_pre_hooks_with_kwargs"]:
                r = hook(self, args, kwargs)
                if r is not None:
                    if not (isinstance(r, tuple) and len(r) == 2):
                        raise RuntimeError(
                            "forward pre-hook must return None or a tuple of (new_args, "
                            f"new_kwargs), but got {r}."
                        )
                    args, kwargs = r
            else:
                r = hook(self, args)
                if r is not None:
                    args = r if isinstance(r, tuple) else (r,)
        bw = None
        if (d.get("_backward_hooks") or d.get("_backward_pre_hooks")) and is_grad_enabled():
            bw = _BackwardHookState(self)
            args = bw.wrap_inputs(args)
        out = self.forward(*args, **kwargs)
        for hid, hook in list(self._forward_hooks.items()):
            if hid in d["_forward_hooks_with_kwargs"]:
                r = hook(self, args, kwargs, out)
            else:
                r = hook(self, args, out)
            if r is not None:
                out = r
        if bw is not None:
            out = bw.wrap_outputs(out)
        return out

    # ------------------------------------------------------------ registration

    def _check_init(self) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign to {type(self).__name__} before Module.__init__() call"
            )

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        if is_parameter(value):
            self._check_init()
            self._discard(name)
            self.register_parameter(name, value)
        elif isinstance(value, Module):
            self._check_init()
            self._discard(name)
            d["_modules"][name] = value
        elif "_parameters" in d and name in d["_parameters"]:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                    "(nn.Parameter or None expected)"
                )
            d["_parameters"][name] = None
        elif "_modules" in d and name in d["_modules"]:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as child module '{name}' "
                    "(nn.Module or None expected)"
                )
            d["_modules"][name] = None
        elif "_buffers" in d and name in d["_buffers"]:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                    "(Tensor or None expected)"
                )
            d["_buffers"][name] = value
        else:
            object.__setattr__(self, name, value)

    def _discard(self, name: str) -> None:
        d = self.__dict__
        d.pop(name, None)
        for key in ("_parameters", "_buffers", "_modules"):
            d[key].pop(name, None)
        d["_non_persistent_buffers"].discard(name)

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: parameters, buffers and submodules live here.
        d = self.__dict__
        for key in ("_parameters", "_buffers", "_modules"):
            table = d.get(key)
            if table is not None and name in table:
                return table[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        d = self.__dict__
        for key in ("_parameters", "_buffers", "_modules"):
            if name in d.get(key, ()):
                del d[key][name]
                d["_non_persistent_buffers"].discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(
            set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules)
        )

    def _check_name(self, kind: str, name: str) -> None:
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
        if not name or "." in name:
            raise KeyError(f'{kind} name can\'t be empty or contain ".", got {name!r}')
        if name in self.__dict__ and name not in ("training",):
            raise KeyError(f"attribute '{name}' already exists")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or None, a declared but absent parameter such as a bias)."""
        self._check_init()
        self._check_name("parameter", name)
        if param is not None and not is_parameter(param):
            raise TypeError(
                f"cannot assign '{type(param).__name__}' object to parameter '{name}' "
                "(nn.Parameter or None required)"
            )
        if name in self._buffers or name in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a tensor that is state but not a parameter (saved in state_dict if persistent)."""
        self._check_init()
        self._check_name("buffer", name)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                "(Tensor or None required)"
            )
        if name in self._parameters or name in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        self._check_init()
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._check_name("module", name)
        if name in self._parameters or name in self._buffers:
            raise KeyError(f"attribute '{name}' already exists")
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target: str) -> Module:
        mod = self
        for part in target.split(".") if target else []:
            if part not in mod._modules or mod._modules[part] is None:
                raise AttributeError(f"{type(mod).__name__} has no submodule `{part}`")
            mod = mod._modules[part]
        return mod

    def get_parameter(self, target: str) -> Parameter:
        mod_path, _, name = target.rpartition(".")
        mod = self.get_submodule(mod_path)
        if name not in mod._parameters:
            raise AttributeError(f"{type(mod).__name__} has no parameter `{name}`")
        return mod._parameters[name]

    def get_buffer(self, target: str) -> Tensor:
        mod_path, _, name = target.rpartition(".")
        mod = self.get_submodule(mod_path)
        if name not in mod._buffers:
            raise AttributeError(f"{type(mod).__name__} has no buffer `{name}`")
        return mod._buffers[name]

    # ------------------------------------------------------------ traversal

    def named_modules(
        self, memo: set | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator:
        """(dotted name, module) for self and every submodule, depth first, each once unless
        ``remove_duplicate=False``."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, mod in self._modules.items():
            if mod is None:
                continue
            sub = prefix + ("." if prefix else "") + name
            yield from mod.named_modules(memo, sub, remove_duplicate)

    def modules(self) -> Iterator:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator:
        seen = set()
        for name, mod in self._modules.items():
            if mod is not None and id(mod) not in seen:
                seen.add(id(mod))
                yield name, mod

    def children(self) -> Iterator:
        for _, m in self.named_children():
            yield m

    def _named_members(
        self, table: str, prefix: str, recurse: bool, remove_duplicate: bool = True
    ) -> Iterator:
        seen = set()
        mods = (
            self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
            if recurse
            else [(prefix, self)]
        )
        for mod_prefix, mod in mods:
            for name, t in getattr(mod, table).items():
                if t is None or (remove_duplicate and id(t) in seen):
                    continue
                seen.add(id(t))
                yield mod_prefix + ("." if mod_prefix else "") + name, t

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator:
        """(dotted name, parameter) pairs, in registration order, each parameter once."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator:
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every submodule (children first) and then on self."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------ modes and grads

    def train(self, mode: bool = True) -> Module:
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for m in self.modules():
            m.__dict__["training"] = mode
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        zero_grads(self.parameters(), set_to_none)

    # ------------------------------------------------------------ devices and dtypes

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """Move and/or cast parameters and buffers in place: ``.to("vulkan")``, ``.to("f16")``.

        Only floating point tensors change dtype (as in PyTorch). Parameters stay the same
        objects, leaves that require grad, so optimizers keep working with them.
        """
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
        if dtype is not None and not dtype.is_floating:
            raise TypeError(f"Module.to: only floating point dtypes are accepted, got {dtype}")

        def convert(t: Tensor) -> Tensor:
            dt = dtype if (dtype is not None and t.dtype.is_floating) else None
            return t.detach().to(device=device, dtype=dt)

        return self._apply(convert)

    def _apply(self, fn: Callable[[Tensor], Tensor]) -> Module:
        with no_grad():
            for m in self.modules():
                for p in m._parameters.values():
                    if p is not None:
                        _swap_storage(p, fn(p))
                        if p.grad is not None:
                            p.grad = fn(p.grad)
                for name, b in m._buffers.items():
                    if b is not None:
                        m._buffers[name] = fn(b)
        return self

    def cpu(self) -> Module:
        return self.to("cpu")

    def float(self) -> Module:
        return self.to(dtypes.float32)

    def half(self) -> Module:
        return self.to(dtypes.float16)

    def double(self) -> Module:
        return self.to(dtypes.float64)

    # ------------------------------------------------------------ state

    def state_dict(self, destination: dict | None = None, prefix: str = "", keep_vars=False):
        """Parameters and persistent buffers by dotted name (detached, sharing storage)."""
        out = OrderedDict() if destination is None else destination
        for mod_prefix, mod in self.named_modules(prefix=prefix.rstrip(".")):
            pre = mod_prefix + ("." if mod_prefix else "")
            for name, p in mod._parameters.items():
                if p is not None:
                    out[pre + name] = p if keep_vars else p.detach()
            for name, b in mod._buffers.items():
                if b is not None and name not in mod._non_persistent_buffers:
                    out[pre + name] = b if keep_vars else b.detach()
        return out

    def load_state_dict(self, state_dict: dict, strict: bool = True) -> _IncompatibleKeys:
        """Copy values from ``state_dict`` into this module's parameters and buffers.

        Values may be vkgrad tensors (any device, any float dtype) or NumPy arrays. With
        ``strict``, missing and unexpected keys raise; shape mismatches always raise.
        """
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        mismatched = []
        for k, target in own.items():
            if k in state_dict:
                shape = tuple(
                    np.shape(state_dict[k])
                    if not isinstance(state_dict[k], Tensor)
                    else state_dict[k].shape
                )
                if shape != tuple(target.shape):
                    mismatched.append(
                        f"size mismatch for {k}: copying a param with shape {shape} from "
                        f"checkpoint, the shape in current model is {tuple(target.shape)}."
                    )
        errors = list(mismatched)
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: " + _keys(unexpected) + ".")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: " + _keys(missing) + ".")
        if errors:
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                + "\n\t".join(errors)
            )
        with no_grad():
            for k, target in own.items():
                if k not in state_dict:
                    continue
                src = state_dict[k]
                if isinstance(src, Tensor):
                    target.copy_(src)
                else:
                    target._set_values(np.asarray(src))
                    target._version[0] += 1
        return _IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------ hooks

    def register_forward_hook(
        self,
        hook: Callable,
        *,
        prepend: bool = False,
        with_kwargs: bool = False,
        always_call: bool = False,
    ) -> RemovableHandle:
        """``hook(module, args, output)`` (or ``hook(module, args, kwargs, output)`` with
        ``with_kwargs``), called after forward; may return a new output."""
        return self._add_hook("_forward_hooks", hook, prepend, with_kwargs)

    def register_forward_pre_hook(
        self, hook: Callable, *, prepend: bool = False, with_kwargs: bool = False
    ) -> RemovableHandle:
        """``hook(module, args)`` (or ``hook(module, args, kwargs)`` returning ``(args,
        kwargs)`` with ``with_kwargs``), called before forward; may return new args."""
        return self._add_hook("_forward_pre_hooks", hook, prepend, with_kwargs)

    def register_full_backward_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """``hook(module, grad_input, grad_output)``, called once the gradients with respect
        to the module's tensor inputs are known; may return a new ``grad_input`` tuple.
        ``grad_input`` has one entry per positional tensor input (None where it needs no
        gradient); ``grad_output`` one per tensor output.

        >>> lin.register_full_backward_hook(lambda m, gi, go: print(go[0].shape))
        """
        return self._add_hook("_backward_hooks", hook, prepend, False)

    def register_full_backward_pre_hook(
        self, hook: Callable, prepend: bool = False
    ) -> RemovableHandle:
        """``hook(module, grad_output)``, called when the gradients with respect to the
        module's outputs are known; may return a new ``grad_output`` tuple."""
        return self._add_hook("_backward_pre_hooks", hook, prepend, False)

    def _add_hook(self, table: str, hook: Callable, prepend: bool, kw: bool) -> RemovableHandle:
        hooks = self.__dict__[table]
        h = RemovableHandle(hooks, self.__dict__.get(table + "_with_kwargs"))
        hooks[h.id] = hook
        if prepend:
            hooks.move_to_end(h.id, last=False)
        if kw:
            self.__dict__[table + "_with_kwargs"].add(h.id)
        return h

    # ------------------------------------------------------------ repr

    def extra_repr(self) -> str:
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        lines = []
        extra = self.extra_repr()
        if extra:
            lines = extra.split("\n")
        for name, mod in self._modules.items():
            body = repr(mod).replace("\n", "\n  ")
            lines.append(f"({name}): {body}")
        main = self._get_name() + "("
        if lines:
            if len(lines) == 1 and not self._modules:
                main += lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"


def _keys(keys: list) -> str:
    return ", ".join(f'"{k}"' for k in keys)


def _is_dtype_name(s: str) -> bool:
    try:
        dtypes.get(s)
        return True
    except ValueError:
        return False


def _swap_storage(p: Tensor, new: Tensor) -> None:
    """Give ``p`` the storage, device and dtype of ``new``, keeping the object (and its
    leaf/requires_grad state)."""
    if new.device == p.device and new.dtype is p.dtype and new._data is p._data:
        return
    p._data = new._data
    p._shape = new.shape
    p._dtype = new.dtype
    p._device = new.device
    p._version[0] += 1
    p._accum = None  # a graph node made for the old storage must not be reused


# ---------------------------------------------------------------- full backward hooks


class _BackwardHookState:
    """One forward call's backward hooks: identity nodes around the module's tensor inputs
    and outputs catch grad_output (outputs' node, which runs first) and grad_input (inputs'
    node), and call the hooks there."""

    def __init__(self, module: Module) -> None:
        self.module = module
        self.positions: list = []
        self.requires: list = []
        self.grad_output: tuple = ()

    def wrap_inputs(self, args: tuple) -> tuple:
        self.positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        self.requires = [args[i].requires_grad for i in self.positions]
        if not any(self.requires):
            return args
        # Only inputs that need a gradient go through the node (an int tensor must not start
        # requiring grad); the others get None in grad_input.
        wrapped = [i for i, r in zip(self.positions, self.requires) if r]
        new = _HookInputs.apply(self, *(args[i] for i in wrapped))
        args = list(args)
        for i, t in zip(wrapped, new):
            args[i] = t
        return tuple(args)

    def wrap_outputs(self, out: Any) -> Any:
        single = isinstance(out, Tensor)
        outs = (out,) if single else out
        if not isinstance(outs, (tuple, list)):
            return out
        idx = [i for i, o in enumerate(outs) if isinstance(o, Tensor) and o.requires_grad]
        if not idx:
            return out
        new = _HookOutputs.apply(self, *(outs[i] for i in idx))
        res = list(outs)
        for i, t in zip(idx, new):
            res[i] = t
        return res[0] if single else type(outs)(res)

    def grads_of_outputs(self, grads: tuple) -> tuple:
        m = self.module
        for hook in list(m._backward_pre_hooks.values()):
            r = hook(m, grads)
            if r is not None:
                grads = tuple(r) if isinstance(r, (tuple, list)) else (r,)
        self.grad_output = grads
        if not any(self.requires):
            # No input needs a gradient: the hooks run now, with grad_input all None.
            self.grads_of_inputs(())
        return grads

    def grads_of_inputs(self, wrapped_grads: tuple) -> tuple:
        """Runs the hooks; takes and returns the gradients of the inputs that need one."""
        m = self.module
        it = iter(wrapped_grads)
        grads = tuple(next(it) if need else None for need in self.requires)
        for hook in list(m._backward_hooks.values()):
            r = hook(m, grads, self.grad_output)
            if r is not None:
                r = tuple(r) if isinstance(r, (tuple, list)) else (r,)
                if len(r) != len(grads):
                    raise RuntimeError(
                        f"backward hook returned {len(r)} gradients, but the module has "
                        f"{len(grads)} tensor inputs"
                    )
                grads = r
        return tuple(g for g, need in zip(grads, self.requires) if need)


class _HookInputs(Function):
    @staticmethod
    def forward(ctx, state, *xs):
        ctx.state = state
        return tuple(x.detach() for x in xs)

    @staticmethod
    def backward(ctx, *grads):
        return (None, *ctx.state.grads_of_inputs(grads))


class _HookOutputs(Function):
    @staticmethod
    def forward(ctx, state, *xs):
        ctx.state = state
        return tuple(x.detach() for x in xs)

    @staticmethod
    def backward(ctx, *grads):
        return (None, *ctx.state.grads_of_outputs(grads))
