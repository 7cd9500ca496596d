"""``nn.Parameter``: a leaf tensor that a Module registers as one of its parameters."""

from __future__ import annotations

from ..tensor import Tensor, zeros


class Parameter(Tensor):
    """A leaf tensor that requires grad and that ``Module.__setattr__`` registers.

    It shares storage with ``data`` (no copy), as in PyTorch.

    >>> w = nn.Parameter(vkgrad.zeros(3, 4))
    >>> w.requires_grad, w.is_leaf
    (True, True)
    """

    _is_param = True

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True) -> Parameter:
        if data is None:
            data = zeros(0)
        if not isinstance(data, Tensor):
            raise TypeError(
                f"Parameter: expected a vkgrad Tensor as data, got {type(data).__name__}"
            )
        p = Tensor._make.__func__(cls, data._data, data.shape, data.dtype, data.device)
        p._version = data._version
        if requires_grad:
            p.requires_grad_(True)
        return p

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True) -> None:
        pass  # everything happens in __new__ (Tensor.__init__ refuses direct construction)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


def is_parameter(t) -> bool:
    return isinstance(t, Tensor) and getattr(t, "_is_param", False)
