"""Activation modules, one per activation function (``torch.nn``'s names and arguments).

ReLU, GELU, SiLU, Sigmoid, Tanh, Softmax and LogSoftmax live in ``layers.py`` and are
re-exported here. ``inplace=True`` is accepted for compatibility; the result is always a new
tensor.
"""

from __future__ import annotations

from typing import Any

from .. import functional as _F
from ..tensor import Tensor, full
from . import functional as F
from . import init as _init
from .layers import GELU, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax, Tanh
from .module import Module
from .parameter import Parameter

__all__ = [
    "CELU",
    "ELU",
    "GELU",
    "GLU",
    "Hardsigmoid",
    "Hardswish",
    "Hardtanh",
    "LeakyReLU",
    "LogSigmoid",
    "LogSoftmax",
    "Mish",
    "PReLU",
    "ReLU",
    "ReLU6",
    "SELU",
    "Sigmoid",
    "SiLU",
    "Softmax",
    "Softmin",
    "Softplus",
    "Softsign",
    "Tanh",
    "Tanhshrink",
]


def _inplace_str(inplace: bool, lead: str = ", ") -> str:
    return f"{lead}inplace=True" if inplace else ""


class LeakyReLU(Module):
    """x where x > 0, else ``negative_slope * x``. ``nn.LeakyReLU(0.2)(x)``"""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.leaky_relu(input, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}{_inplace_str(self.inplace)}"


class ELU(Module):
    """x where x > 0, else ``alpha * (exp(x) - 1)``. ``nn.ELU()(x)``"""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.elu(input, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}{_inplace_str(self.inplace)}"


class CELU(Module):
    """x where x > 0, else ``alpha * (exp(x / alpha) - 1)``. ``nn.CELU(0.5)(x)``"""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        if alpha == 0:
            raise ValueError("CELU: alpha must not be 0")
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        # celu(x, a) = a * elu(x / a, 1)
        return F.elu(input * (1.0 / self.alpha), 1.0) * self.alpha

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}{_inplace_str(self.inplace)}"


class SELU(Module):
    """``scale * elu(x, alpha)`` with the self-normalizing constants. ``nn.SELU()(x)``"""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.selu(input)

    def extra_repr(self) -> str:
        return _inplace_str(self.inplace, "")


class Softplus(Module):
    """``log(1 + exp(beta x)) / beta``; x itself where ``beta x > threshold``.
    ``nn.Softplus(beta=2)(x)``"""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input: Tensor) -> Tensor:
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Hardswish(Module):
    """``x * relu6(x + 3) / 6``. ``nn.Hardswish()(x)``"""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.hardswish(input)


class Hardsigmoid(Module):
    """``relu6(x + 3) / 6``. ``nn.Hardsigmoid()(x)``"""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.hardsigmoid(input)


class Hardtanh(Module):
    """x clamped to ``[min_val, max_val]``. ``nn.Hardtanh(-2, 2)(x)``"""

    def __init__(
        self,
        min_val: float = -1.0,
        max_val: float = 1.0,
        inplace: bool = False,
    ) -> None:
        super().__init__()
        if max_val <= min_val:
            raise ValueError(f"Hardtanh: max_val ({max_val}) must be above min_val ({min_val})")
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return _F.clamp(input, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}{_inplace_str(self.inplace)}"


class ReLU6(Hardtanh):
    """``min(max(x, 0), 6)``. ``nn.ReLU6()(x)``"""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return _inplace_str(self.inplace, "")


class Mish(Module):
    """``x * tanh(softplus(x))``. ``nn.Mish()(x)``"""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.mish(input)

    def extra_repr(self) -> str:
        return _inplace_str(self.inplace, "")


class LogSigmoid(Module):
    """``log(sigmoid(x))``, stable for large ``|x|``. ``nn.LogSigmoid()(x)``"""

    def forward(self, input: Tensor) -> Tensor:
        return F.logsigmoid(input)


class Softsign(Module):
    """``x / (1 + |x|)``. ``nn.Softsign()(x)``"""

    def forward(self, input: Tensor) -> Tensor:
        return input / (_F.abs(input) + 1.0)


class Tanhshrink(Module):
    """``x - tanh(x)``. ``nn.Tanhshrink()(x)``"""

    def forward(self, input: Tensor) -> Tensor:
        return input - _F.tanh(input)


class Softmin(Module):
    """``softmax(-x)`` along ``dim``. ``nn.Softmin(dim=-1)(x)``"""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        # Softmax carries PyTorch's rule for an implicit dim.
        return Softmax(self.dim)(_F.neg(input))

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class GLU(Module):
    """``a * sigmoid(b)`` where a, b are the halves of the input along ``dim``.
    ``nn.GLU()(vkgrad.randn(4, 6)).shape == (4, 3)``"""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        n = input.shape[self.dim] if input.ndim else 0
        if n % 2:
            raise RuntimeError(
                f"GLU: halving only works on an even-sized dim; input shape "
                f"{tuple(input.shape)} has size {n} at dim {self.dim}"
            )
        a, b = _F.chunk(input, 2, self.dim)
        return a * _F.sigmoid(b)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class PReLU(Module):
    """x where x > 0, else ``weight * x``, with a learned slope: one shared
    (``num_parameters=1``) or one per channel (dim 1 of the input). weight = ``init``.

    >>> nn.PReLU(3)(vkgrad.randn(2, 3, 5)).shape
    (2, 3, 5)
    """

    def __init__(
        self,
        num_parameters: int = 1,
        init: float = 0.25,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.num_parameters = int(num_parameters)
        self.init = init
        self.weight = Parameter(full((self.num_parameters,), init, device=device, dtype=dtype))

    def reset_parameters(self) -> None:
        _init.constant_(self.weight, self.init)

    def forward(self, input: Tensor) -> Tensor:
        w = self.weight
        if self.num_parameters != 1:
            ch = input.shape[1] if input.ndim >= 2 else (input.shape[0] if input.ndim else None)
            if ch != self.num_parameters:
                raise RuntimeError(
                    f"PReLU: {self.num_parameters} parameters do not match the channels of "
                    f"input shape {tuple(input.shape)}"
                )
            if input.ndim >= 2:
                w = _F.reshape(w, (1, self.num_parameters) + (1,) * (input.ndim - 2))
        # relu(x) - w * relu(-x): x for x > 0, w * x otherwise.
        return _F.relu(input) - _F.relu(_F.neg(input)) * _F.to_dtype(w, input.dtype)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"
