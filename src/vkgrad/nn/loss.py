"""Loss modules (``torch.nn``'s): each holds its options and calls its ``nn.functional``
form. Constructor arguments and defaults are PyTorch's, including the deprecated
``size_average``/``reduce`` pair, which sets ``reduction`` as PyTorch does; ``weight`` and
``pos_weight`` are buffers (in ``state_dict``, moved by ``to``)."""

from __future__ import annotations

from ..library.loss import legacy_reduction
from ..tensor import Tensor
from . import functional as F
from .module import Module


class _Loss(Module):
    def __init__(self, size_average=None, reduce=None, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = legacy_reduction(size_average, reduce, reduction)


class _WeightedLoss(_Loss):
    def __init__(
        self, weight: Tensor | None = None, size_average=None, reduce=None, reduction="mean"
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)


class L1Loss(_Loss):
    """Mean (or sum, or each) of ``|input - target|``.

    >>> nn.L1Loss()(vkgrad.tensor([1.0, -2.0]), vkgrad.zeros(2))   # tensor(1.5)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.l1_loss(input, target, reduction=self.reduction)


class MSELoss(_Loss):
    """Mean (or sum, or each) of ``(input - target)^2``.

    >>> nn.MSELoss(reduction="sum")(vkgrad.tensor([1.0, -2.0]), vkgrad.zeros(2))   # tensor(5.)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.mse_loss(input, target, reduction=self.reduction)


class NLLLoss(_WeightedLoss):
    """Negative log likelihood of class indices under log-probabilities (N, C) or
    (N, C, d1, ...); ``weight`` per class, targets equal to ``ignore_index`` count for
    nothing (the mean divides by the summed weights of the others).

    >>> nn.NLLLoss()(vkgrad.tensor([[-0.1, -2.3]]), vkgrad.tensor([0]))   # tensor(0.1)
    """

    def __init__(
        self,
        weight: Tensor | None = None,
        size_average=None,
        ignore_index: int = -100,
        reduce=None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.nll_loss(
            input,
            target,
            weight=self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
        )


class CrossEntropyLoss(_WeightedLoss):
    """Cross entropy from logits, with class-index targets (int32) or class probabilities
    (float, the input's shape); ``weight``, ``ignore_index`` and ``label_smoothing`` as
    PyTorch. Unlike ``F.cross_entropy`` called without options, targets equal to
    ``ignore_index`` (-100 by default) are ignored, as in PyTorch: the module always passes
    its ``ignore_index``, which runs the composed log_softmax + nll_loss path.

    >>> nn.CrossEntropyLoss()(vkgrad.zeros(2, 3), vkgrad.tensor([0, -100]))   # log(3)
    """

    def __init__(
        self,
        weight: Tensor | None = None,
        size_average=None,
        ignore_index: int = -100,
        reduce=None,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(
            input,
            target,
            weight=self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )


class BCELoss(_WeightedLoss):
    """Binary cross entropy of probabilities ``input`` (logs clamped at -100); ``weight``
    multiplies each element's loss and broadcasts to the input.

    >>> nn.BCELoss()(vkgrad.tensor([0.9]), vkgrad.tensor([1.0]))   # tensor(0.1054)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross entropy of ``sigmoid(input)``, computed from the logits without
    overflow; ``weight`` per element, ``pos_weight`` per class (the last dim) on the positive
    term.

    >>> nn.BCEWithLogitsLoss()(vkgrad.tensor([100.0]), vkgrad.tensor([1.0]))   # tensor(0.)
    """

    def __init__(
        self,
        weight: Tensor | None = None,
        size_average=None,
        reduce=None,
        reduction: str = "mean",
        pos_weight: Tensor | None = None,
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(
            input,
            target,
            self.weight,
            pos_weight=self.pos_weight,
            reduction=self.reduction,
        )


class SmoothL1Loss(_Loss):
    """``0.5 d^2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta`` (d = input - target).

    >>> nn.SmoothL1Loss(beta=0.5)(vkgrad.tensor([3.0]), vkgrad.tensor([0.0]))   # tensor(2.75)
    """

    def __init__(
        self, size_average=None, reduce=None, reduction: str = "mean", beta: float = 1.0
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """``0.5 d^2`` where ``|d| < delta``, else ``delta (|d| - 0.5 delta)``.

    >>> nn.HuberLoss(delta=2.0)(vkgrad.tensor([3.0]), vkgrad.tensor([0.0]))   # tensor(4.)
    """

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class KLDivLoss(_Loss):
    """KL divergence of ``target`` from log-probabilities ``input`` (``log_target=True``:
    the target is given as log-probabilities too); 'batchmean' divides the sum by the batch
    size, which is the mathematical KL divergence.

    >>> p = vkgrad.tensor([[0.5, 0.5]])
    >>> nn.KLDivLoss(reduction="batchmean")(p.log(), p)   # tensor(0.)
    """

    def __init__(
        self, size_average=None, reduce=None, reduction: str = "mean", log_target: bool = False
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class _MarginLoss(_Loss):
    def __init__(
        self, margin: float = 0.0, size_average=None, reduce=None, reduction: str = "mean"
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin


class CosineEmbeddingLoss(_MarginLoss):
    """``1 - cos(x1, x2)`` where target is 1, ``max(0, cos(x1, x2) - margin)`` where -1.

    >>> a = vkgrad.tensor([[1.0, 0.0]])
    >>> nn.CosineEmbeddingLoss()(a, a, vkgrad.tensor([1.0]))   # tensor(0.)
    """

    def forward(self, input1: Tensor, input2: Tensor, target: Tensor) -> Tensor:
        return F.cosine_embedding_loss(
            input1, input2, target, margin=self.margin, reduction=self.reduction
        )


class MarginRankingLoss(_MarginLoss):
    """``max(0, -target (input1 - input2) + margin)``.

    >>> nn.MarginRankingLoss(0.5)(vkgrad.tensor([1.0]), vkgrad.tensor([0.8]), vkgrad.tensor([1]))
    """

    def forward(self, input1: Tensor, input2: Tensor, target: Tensor) -> Tensor:
        return F.margin_ranking_loss(
            input1, input2, target, margin=self.margin, reduction=self.reduction
        )


class TripletMarginLoss(_Loss):
    """``max(0, d(a, p) - d(a, n) + margin)`` with ``d`` the p-norm distance (plus ``eps``);
    ``swap=True`` takes the smaller of d(a, n) and d(p, n).

    >>> a = vkgrad.zeros(4, 8)
    >>> nn.TripletMarginLoss()(a, a, a + 1.0)   # tensor(0.)
    """

    def __init__(
        self,
        margin: float = 1.0,
        p: float = 2.0,
        eps: float = 1e-6,
        swap: bool = False,
        size_average=None,
        reduce=None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        if margin <= 0:
            raise ValueError(f"TripletMarginLoss: margin must be greater than 0, got {margin}")
        self.margin = margin
        self.p = p
        self.eps = eps
        self.swap = swap

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return F.triplet_margin_loss(
            anchor,
            positive,
            negative,
            margin=self.margin,
            p=self.p,
            eps=self.eps,
            swap=self.swap,
            reduction=self.reduction,
        )
