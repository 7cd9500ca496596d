"""Convolution layers: Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d (``torch.nn``'s)."""

from __future__ import annotations

import math
from typing import Any

from ..tensor import Tensor, zeros
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _ntuple(value, n: int, what: str) -> tuple:
    if isinstance(value, (tuple, list)):
        if len(value) != n:
            raise ValueError(f"{what} must be an int or a {n}-tuple, got {value!r}")
        return tuple(int(v) for v in value)
    return (int(value),) * n


class _ConvNd(Module):
    """Shared by the convolution layers: arguments, parameters, init and repr."""

    _spatial = 0

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride,
        padding,
        dilation,
        transposed: bool,
        output_padding,
        groups: int,
        bias: bool,
        padding_mode: str,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name, n = type(self).__name__, self._spatial
        if groups <= 0:
            raise ValueError(f"{name}: groups must be a positive integer, got {groups}")
        if in_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) must be divisible by groups")
        if out_channels % groups:
            raise ValueError(f"{name}: out_channels ({out_channels}) must be divisible by groups")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(
                f"{name}: padding_mode must be one of {list(_PADDING_MODES)}, but got "
                f"padding_mode={padding_mode!r}"
            )
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_size = _ntuple(kernel_size, n, f"{name}: kernel_size")
        self.stride = _ntuple(stride, n, f"{name}: stride")
        self.dilation = _ntuple(dilation, n, f"{name}: dilation")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(
                    f"{name}: invalid padding string {padding!r}, should be one of "
                    "['valid', 'same']"
                )
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(
                    f"{name}: padding='same' is not supported for strided convolutions"
                )
            self.padding = padding
        else:
            self.padding = _ntuple(padding, n, f"{name}: padding")
        self.transposed = transposed
        self.output_padding = _ntuple(output_padding, n, f"{name}: output_padding")
        self.groups = int(groups)
        self.padding_mode = padding_mode
        # Pad amounts (before, after) per spatial dim for the non-zero modes.
        if self.padding == "same":
            total = [d * (k - 1) for d, k in zip(self.dilation, self.kernel_size)]
            self._pads = tuple((t // 2, t - t // 2) for t in total)
        elif self.padding == "valid":
            self._pads = ((0, 0),) * n
        else:
            self._pads = tuple((p, p) for p in self.padding)
        kw = dict(device=device, dtype=dtype)
        if transposed:
            shape = (self.in_channels, self.out_channels // self.groups) + self.kernel_size
        else:
            shape = (self.out_channels, self.in_channels // self.groups) + self.kernel_size
        self.weight = Parameter(zeros(*shape, **kw))
        if bias:
            self.bias = Parameter(zeros(self.out_channels, **kw))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # kaiming_uniform_(a=sqrt(5)) is U(-1/sqrt(fan_in), 1/sqrt(fan_in)), as PyTorch.
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def _padded(self, input: Tensor) -> Tensor:
        """input padded by the non-zero padding mode (the conv then pads nothing)."""
        pads = tuple(p for pair in reversed(self._pads) for p in pair)  # F.pad: last dim first
        return F.pad(input, pads, self.padding_mode)

    def extra_repr(self) -> str:
        n = self._spatial
        s = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0,) * n:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * n:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * n:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            False,
            0,
            groups,
            bias,
            padding_mode,
            device,
            dtype,
        )

    def _conv(self, input: Tensor, padding) -> Tensor:
        raise NotImplementedError

    def forward(self, input: Tensor) -> Tensor:
        if self.padding_mode != "zeros":
            return self._conv(self._padded(input), 0)
        return self._conv(input, self.padding)


class Conv1d(_Conv):
    """1-D convolution (cross-correlation) of (N, C_in, L) or (C_in, L) input; weight
    (out_channels, in_channels / groups, kernel_size). Init as PyTorch: weight and bias
    ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in_channels / groups * kernel_size.

    >>> nn.Conv1d(3, 8, 5, padding=2)(vkgrad.randn(4, 3, 20)).shape
    (4, 8, 20)
    """

    _spatial = 1

    def _conv(self, input: Tensor, padding) -> Tensor:
        return F.conv1d(
            input, self.weight, self.bias, self.stride, padding, self.dilation, self.groups
        )


class Conv2d(_Conv):
    """2-D convolution (cross-correlation) of (N, C_in, H, W) or (C_in, H, W) input; weight
    (out_channels, in_channels / groups, kH, kW). padding: int, pair, "same" or "valid";
    padding_mode "zeros", "reflect", "replicate" or "circular". Init as Conv1d.

    >>> nn.Conv2d(3, 8, 3, padding=1)(vkgrad.randn(2, 3, 16, 16)).shape
    (2, 8, 16, 16)
    """

    _spatial = 2

    def _conv(self, input: Tensor, padding) -> Tensor:
        return F.conv2d(
            input, self.weight, self.bias, self.stride, padding, self.dilation, self.groups
        )


class _ConvTransposeNd(_ConvNd):
    """Shared by the transposed convolutions: arguments (PyTorch's order) and output_size."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        output_padding=0,
        groups: int = 1,
        bias: bool = True,
        dilation=1,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        if padding_mode != "zeros":
            raise ValueError(
                f'Only "zeros" padding mode is supported for {type(self).__name__}, got '
                f"{padding_mode!r}"
            )
        if isinstance(padding, str):
            raise ValueError(f"{type(self).__name__}: padding must be an int or a tuple")
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            True,
            output_padding,
            groups,
            bias,
            padding_mode,
            device,
            dtype,
        )

    def _output_padding(self, input: Tensor, output_size) -> tuple:
        if output_size is None:
            return self.output_padding
        name, n = type(self).__name__, self._spatial
        size = tuple(int(s) for s in output_size)
        if len(size) == input.ndim:  # with the input's non-spatial dims
            size = size[input.ndim - n :]
        if len(size) != n:
            raise ValueError(
                f"{name}: output_size must have {n} or {input.ndim} elements, got "
                f"{tuple(output_size)}"
            )
        out = []
        for i in range(n):
            h = input.shape[input.ndim - n + i]
            lo = (
                (h - 1) * self.stride[i]
                - 2 * self.padding[i]
                + self.dilation[i] * (self.kernel_size[i] - 1)
                + 1
            )
            hi = lo + self.stride[i] - 1
            if not lo <= size[i] <= hi:
                raise ValueError(
                    f"{name}: requested an output size of {size}, but valid sizes "
                    f"range from {lo} to {hi} at dim {i} (for an input of "
                    f"{tuple(input.shape)})"
                )
            out.append(size[i] - lo)
        return tuple(out)


class ConvTranspose1d(_ConvTransposeNd):
    """Transposed 1-D convolution of (N, C_in, L) or (C_in, L) input; weight
    (in_channels, out_channels / groups, kL). ``forward(input, output_size)`` picks the
    output_padding that gives that length. Only padding_mode="zeros".

    >>> nn.ConvTranspose1d(8, 3, 4, stride=2, padding=1)(vkgrad.randn(1, 8, 5)).shape
    (1, 3, 10)
    """

    _spatial = 1

    def forward(self, input: Tensor, output_size=None) -> Tensor:
        return F.conv_transpose1d(
            input,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            self._output_padding(input, output_size),
            self.groups,
            self.dilation,
        )


class ConvTranspose2d(_ConvTransposeNd):
    """Transposed 2-D convolution (the adjoint of Conv2d, "deconvolution"); weight
    (in_channels, out_channels / groups, kH, kW). ``forward(input, output_size)`` picks the
    output_padding that gives that size. Only padding_mode="zeros".

    >>> nn.ConvTranspose2d(8, 3, 4, stride=2, padding=1)(vkgrad.randn(1, 8, 5, 5)).shape
    (1, 3, 10, 10)
    """

    _spatial = 2

    def forward(self, input: Tensor, output_size=None) -> Tensor:
        return F.conv_transpose2d(
            input,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            self._output_padding(input, output_size),
            self.groups,
            self.dilation,
        )
