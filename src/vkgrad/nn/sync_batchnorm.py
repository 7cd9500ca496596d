"""``nn.SyncBatchNorm``: batch normalization whose statistics span every rank's batch.

With DistributedDataParallel each rank sees only its shard of the batch; a plain BatchNorm
would normalize with the shard's statistics. SyncBatchNorm sums the per-channel sums across
ranks (MPI, on the host) and normalizes with the statistics of the whole batch, so N ranks
train as one process on the whole batch would. The sums are made differentiable (the
gradient of a sum over ranks is the sum over ranks of the gradients), so backward needs
nothing of its own: the engine differentiates mean and variance as ordinary ops.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import capturing, dtypes
from .. import distributed as dist
from .. import functional as F
from ..autograd import Function, apply_inplace, no_grad
from ..distributed.collectives import write
from ..tensor import Tensor
from .module import Module
from .normalization import _BatchNorm


def _sum_over_ranks(t: Tensor) -> Tensor:
    """A copy of ``t`` summed over every rank (in float64 on the host)."""
    g = dist.process_group.current("SyncBatchNorm")
    capturing.note_host_step(
        "SyncBatchNorm", "sums batch statistics across processes with MPI on the host"
    )
    buf = np.ascontiguousarray(t.numpy(), dtype=np.float64)
    g.comm.Allreduce(g.MPI.IN_PLACE, buf, op=g.MPI.SUM)
    out = t.detach().clone()
    write(out, buf)
    return out


class _SumOverRanks(Function):
    @staticmethod
    def forward(ctx, x):
        return _sum_over_ranks(x)

    @staticmethod
    def backward(ctx, grad):
        return _sum_over_ranks(grad)


class SyncBatchNorm(_BatchNorm):
    """Batch normalization over (N, C, *) input with the statistics of the whole batch
    across every process of the group (``torch.nn.SyncBatchNorm``).

    In evaluation, or outside an initialized process group of more than one rank, it is
    ``BatchNorm``. The running variance moves toward the unbiased variance of the whole
    batch. ``convert_sync_batchnorm`` swaps every BatchNorm of a model for one.

    >>> model = nn.SyncBatchNorm.convert_sync_batchnorm(model)        # doctest: +SKIP
    >>> ddp = nn.parallel.DistributedDataParallel(model)              # doctest: +SKIP
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        process_group: Any = None,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        dist.process_group._check_group("SyncBatchNorm", process_group)
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)

    def _check_input_dim(self, input: Tensor) -> None:
        if input.ndim < 2:
            raise ValueError(
                f"SyncBatchNorm: expected at least 2D input (got {input.ndim}D input of shape "
                f"{tuple(input.shape)})"
            )

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        g = dist.process_group.GROUP
        if not self.training or g is None or g.size == 1:
            return super().forward(input)
        c = input.shape[1]
        perm = (1, 0) + tuple(range(2, input.ndim))  # its own inverse
        moved = F.permute(input, perm)
        rows = F.reshape(moved, (c, input.numel() // c))
        if rows.dtype is dtypes.float16:
            rows = rows.to(dtypes.float32)  # statistics of f16 data are computed in f32
        n = g.comm.allreduce(int(rows.shape[1]))
        if n <= 1:
            raise ValueError(
                f"SyncBatchNorm: expected more than 1 value per channel across the ranks when "
                f"training, got {n}"
            )
        # Two passes (mean, then the mean square deviation from it), each summed over the
        # ranks: E[x^2] - E[x]^2 in one pass would cancel catastrophically in f32.
        mean = _SumOverRanks.apply(F.sum(rows, 1)) / n
        centered = rows - F.reshape(mean, (c, 1))
        var = _SumOverRanks.apply(F.sum(centered * centered, 1)) / n
        y = centered * F.reshape(F.rsqrt(var + self.eps), (c, 1))
        y = F.permute(F.reshape(y.to(input.dtype), tuple(moved.shape)), perm)
        if self.weight is not None:
            shape = (1, c) + (1,) * (input.ndim - 2)
            y = y * F.reshape(self.weight, shape)
            if self.bias is not None:
                y = y + F.reshape(self.bias, shape)
        if self.track_running_stats and self.running_mean is not None:
            self._update_running(mean, var, n)
        return y

    def _update_running(self, mean: Tensor, var: Tensor, n: int) -> None:
        with no_grad():
            apply_inplace("add", self.num_batches_tracked, 1.0, dtype=dtypes.int32)
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked.item())
            else:
                factor = float(self.momentum)
            rm, rv = self.running_mean, self.running_var
            rm.mul_(1.0 - factor).add_(mean.detach().to(rm.dtype) * factor)
            unbiased = var.detach() * (n / (n - 1))
            rv.mul_(1.0 - factor).add_(unbiased.to(rv.dtype) * factor)

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group: Any = None) -> Module:
        """``module`` with every BatchNorm (in it, or it itself) replaced by a SyncBatchNorm
        that shares its parameters and buffers."""
        out = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            out = cls.__new__(cls)
            Module.__init__(out)
            for k in ("num_features", "eps", "momentum", "affine", "track_running_stats"):
                setattr(out, k, getattr(module, k))
            for name, p in module._parameters.items():
                out.register_parameter(name, p)
            for name, b in module._buffers.items():
                out.register_buffer(name, b, name not in module._non_persistent_buffers)
            out.training = module.training
        for name, child in module._modules.items():
            if child is not None:
                out._modules[name] = cls.convert_sync_batchnorm(child, process_group)
        return out
