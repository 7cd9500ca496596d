"""Normalization layers: BatchNorm1d/2d, InstanceNorm1d/2d, LayerNorm, GroupNorm, RMSNorm
(``torch.nn``'s)."""

from __future__ import annotations

from typing import Any

from .. import dtypes
from .. import functional as _F
from ..autograd import apply_inplace, no_grad
from ..tensor import Tensor, ones, zeros
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter


def _shape_tuple(normalized_shape) -> tuple:
    if isinstance(normalized_shape, int):
        return (int(normalized_shape),)
    return tuple(int(s) for s in normalized_shape)


def _affine(module: Module, shape: tuple, weight: bool, bias: bool, kw: dict) -> None:
    """Register ``weight`` (ones) and ``bias`` (zeros) of ``shape``, or None for those off."""
    module.register_parameter("weight", Parameter(ones(*shape, **kw)) if weight else None)
    module.register_parameter("bias", Parameter(zeros(*shape, **kw)) if weight and bias else None)


def _reset_affine(module: Module) -> None:
    if module.weight is not None:
        init.ones_(module.weight)
    if getattr(module, "bias", None) is not None:
        init.zeros_(module.bias)


class _BatchNorm(Module):
    """Shared by BatchNorm1d/2d: parameters, running statistics and the forward."""

    _expected_dims: tuple = ()

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.num_features = int(num_features)
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        kw = dict(device=device, dtype=dtype)
        _affine(self, (self.num_features,), affine, bias, kw)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(self.num_features, **kw))
            self.register_buffer("running_var", ones(self.num_features, **kw))
            # PyTorch keeps an int64 count; vkgrad's integer dtype is int32.
            self.register_buffer(
                "num_batches_tracked", zeros((), dtype=dtypes.int32, device=device)
            )
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            with no_grad():
                self.running_mean.fill_(0.0)
                self.running_var.fill_(1.0)
                self.num_batches_tracked.fill_(0)

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        _reset_affine(self)

    def _check_input_dim(self, input: Tensor) -> None:
        if input.ndim not in self._expected_dims:
            want = " or ".join(f"{d}D" for d in self._expected_dims)
            raise ValueError(
                f"{type(self).__name__}: expected {want} input (got {input.ndim}D input of "
                f"shape {tuple(input.shape)})"
            )

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            # Integer arithmetic in vkgrad promotes to float; dtype= keeps the count int32.
            apply_inplace("add", self.num_batches_tracked, 1.0, dtype=dtypes.int32)
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked.item())
        use_batch = self.training or (self.running_mean is None and self.running_var is None)
        keep = not self.training or self.track_running_stats
        return F.batch_norm(
            input,
            self.running_mean if keep else None,
            self.running_var if keep else None,
            self.weight,
            self.bias,
            use_batch,
            factor,
            self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, bias={self.bias is not None}, "
            f"track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalization over (N, C) or (N, C, L) input, per channel C.

    Training normalizes with the batch's mean and biased variance and moves
    ``running_mean`` / ``running_var`` toward the batch's mean and unbiased variance by
    ``momentum`` (``momentum=None``: a cumulative average); evaluation uses the running
    statistics. weight = 1, bias = 0 initially.

    >>> bn = nn.BatchNorm1d(16)
    >>> bn(vkgrad.randn(8, 16)).shape
    (8, 16)
    """

    _expected_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalization over (N, C, H, W) input, per channel C (see BatchNorm1d).

    >>> bn = nn.BatchNorm2d(3)
    >>> bn(vkgrad.randn(2, 3, 5, 5)).shape
    (2, 3, 5, 5)
    """

    _expected_dims = (4,)


class _InstanceNorm(_BatchNorm):
    """Shared by InstanceNorm1d/2d: BatchNorm's parameters and buffers (PyTorch's names),
    with PyTorch's defaults affine=False, track_running_stats=False, and statistics per
    sample and channel."""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = False,
        track_running_stats: bool = False,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__(
            num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias
        )

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        no_batch = min(self._expected_dims)  # (C, *spatial): one sample
        feature_dim = input.ndim - no_batch
        if input.shape[feature_dim] != self.num_features and self.affine:
            raise ValueError(
                f"{type(self).__name__}: expected input's size at dim={feature_dim} to match "
                f"num_features ({self.num_features}), got input shape {tuple(input.shape)}"
            )
        x = _F.unsqueeze(input, 0) if input.ndim == no_batch else input
        # As PyTorch: momentum=None (a cumulative average for BatchNorm) leaves the running
        # statistics as they are, and num_batches_tracked is never counted.
        y = F.instance_norm(
            x,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            self.training or not self.track_running_stats,
            self.momentum if self.momentum is not None else 0.0,
            self.eps,
        )
        return _F.squeeze(y, 0) if input.ndim == no_batch else y


class InstanceNorm1d(_InstanceNorm):
    """Normalize each channel of each sample of (N, C, L) or (C, L) input over L, then
    (``affine=True``) a per-channel weight and bias. ``track_running_stats=True`` keeps
    running averages of the per-instance statistics, used in eval mode.

    >>> nn.InstanceNorm1d(4)(vkgrad.randn(2, 4, 10)).shape
    (2, 4, 10)
    """

    _expected_dims = (2, 3)


class InstanceNorm2d(_InstanceNorm):
    """Normalize each channel of each sample of (N, C, H, W) or (C, H, W) input over H and W
    (see InstanceNorm1d).

    >>> nn.InstanceNorm2d(3, affine=True)(vkgrad.randn(2, 3, 5, 5)).shape
    (2, 3, 5, 5)
    """

    _expected_dims = (3, 4)


class LayerNorm(Module):
    """Normalize over the trailing ``normalized_shape`` dims, then ``* weight + bias``
    (weight = 1, bias = 0 initially, both of shape ``normalized_shape``).

    >>> ln = nn.LayerNorm(16)
    >>> ln(vkgrad.randn(2, 7, 16)).shape
    (2, 7, 16)
    """

    def __init__(
        self,
        normalized_shape,
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.normalized_shape = _shape_tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        kw = dict(device=device, dtype=dtype)
        _affine(self, self.normalized_shape, elementwise_affine, bias, kw)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}"
        )


class GroupNorm(Module):
    """Normalize each group of ``num_channels // num_groups`` channels of every sample of
    (N, C, *) input, then a per-channel affine (weight = 1, bias = 0 initially).

    >>> gn = nn.GroupNorm(2, 6)
    >>> gn(vkgrad.randn(4, 6, 5)).shape
    (4, 6, 5)
    """

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if num_groups <= 0 or num_channels % num_groups:
            raise ValueError(
                f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups "
                f"({num_groups})"
            )
        self.num_groups = int(num_groups)
        self.num_channels = int(num_channels)
        self.eps = eps
        self.affine = affine
        kw = dict(device=device, dtype=dtype)
        _affine(self, (self.num_channels,), affine, bias, kw)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
            f"bias={self.bias is not None}"
        )


class RMSNorm(Module):
    """``x / sqrt(mean(x^2) + eps) * weight`` over the trailing ``normalized_shape`` dims;
    ``eps=None`` means the machine epsilon of the input's dtype. weight = 1 initially.

    >>> rms = nn.RMSNorm(16)
    >>> rms(vkgrad.randn(2, 16)).shape
    (2, 16)
    """

    def __init__(
        self,
        normalized_shape,
        eps: float | None = None,
        elementwise_affine: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.normalized_shape = _shape_tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        kw = dict(device=device, dtype=dtype)
        self.register_parameter(
            "weight", Parameter(ones(*self.normalized_shape, **kw)) if elementwise_affine else None
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        return F.rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
        )
