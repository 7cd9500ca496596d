"""Loss modules (nn.CrossEntropyLoss, ...): their options reach the functions, on cpu and
Vulkan, against float64 NumPy (forward; the input's gradient against finite differences of
the reference) and, where PyTorch is importable, against torch.nn's modules built with the
same arguments. The functions themselves are covered by the op specs (specs_loss.py)."""

from __future__ import annotations

import numpy as np
import pytest
from specs_loss import _bce, _bcel, _ce_ref, _cel, _log_softmax, _mrl, _nll_ref, _sl1, _tml

import vkgrad
import vkgrad.nn.functional as NF
from vkgrad import nn

W5 = np.array([0.5, 1.0, 2.0, 1.5, 0.25])


def _red(v, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": lambda a: a}[reduction](v)


def _kl(x, t, log_target, reduction):
    v = (
        np.exp(t) * (t - x)
        if log_target
        else np.where(t > 0, t * (np.log(np.where(t > 0, t, 1)) - x), 0)
    )
    return v.sum() / x.shape[0] if reduction == "batchmean" else _red(v, reduction)


def _huber(d, delta):
    a = np.abs(d)
    return np.where(a < delta, 0.5 * d * d, delta * (a - 0.5 * delta))


def _labels(rng, n, c, ignore=None, every=3):
    t = rng.integers(0, c, n).astype(np.int32)
    if ignore is not None:
        t.reshape(-1)[::every] = ignore
    return t


def _signs(rng, n):
    return np.where(rng.random(n) < 0.5, 1, -1).astype(np.int32)


# (id, module name, constructor kwargs (arrays become tensors), inputs(rng) -> arrays (the
# first one differentiable), float64 reference(*arrays) -> loss).
CASES = [
    (
        "l1_none",
        "L1Loss",
        {"reduction": "none"},
        lambda r: [r.standard_normal((3, 4)), r.standard_normal((3, 4))],
        lambda x, y: np.abs(x - y),
    ),
    (
        "mse_size_average_false",
        "MSELoss",
        {"size_average": False},
        lambda r: [r.standard_normal((3, 4)), r.standard_normal((3, 4))],
        lambda x, y: ((x - y) ** 2).sum(),
    ),
    (
        "nll_weight_ignore",
        "NLLLoss",
        {"weight": W5, "ignore_index": 1},
        lambda r: [_log_softmax(r.standard_normal((9, 5)), -1), _labels(r, 9, 5)],
        lambda x, t: _nll_ref(x, t, W5, "mean", ignore=1),
    ),
    (
        "nll_kdim_none",
        "NLLLoss",
        {"reduction": "none"},
        lambda r: [r.standard_normal((2, 3, 4)), _labels(r, 8, 3).reshape(2, 4)],
        lambda x, t: _nll_ref(
            x.transpose(0, 2, 1).reshape(-1, 3), t.reshape(-1), np.ones(3), "none"
        ).reshape(2, 4),
    ),
    (
        "ce_default_ignores_minus_100",
        "CrossEntropyLoss",
        {},
        lambda r: [r.standard_normal((7, 5)) * 2, _labels(r, 7, 5, ignore=-100)],
        lambda x, t: _ce_ref(x, t, np.ones(5), "mean"),
    ),
    (
        "ce_weight_smoothing_sum",
        "CrossEntropyLoss",
        {"weight": W5, "label_smoothing": 0.2, "reduction": "sum"},
        lambda r: [r.standard_normal((6, 5)) * 2, _labels(r, 6, 5)],
        lambda x, t: _ce_ref(x, t, W5, "sum", ls=0.2),
    ),
    (
        "ce_probabilities",
        "CrossEntropyLoss",
        {"label_smoothing": 0.1},
        lambda r: [r.standard_normal((4, 5)), r.dirichlet(np.ones(5), 4)],
        lambda x, p: np.mean(-((p * 0.9 + 0.1 / 5) * _log_softmax(x, -1)).sum(-1)),
    ),
    (
        "bce_weight",
        "BCELoss",
        {"weight": np.linspace(0.5, 2.0, 4)},
        lambda r: [r.uniform(0.05, 0.95, (3, 4)), r.uniform(0, 1, (3, 4))],
        lambda x, y: np.mean(_bce(x, y) * np.linspace(0.5, 2.0, 4)),
    ),
    (
        "bce_logits_weight_pos_weight",
        "BCEWithLogitsLoss",
        {"weight": np.array([2.0, 0.5, 1.0]), "pos_weight": np.array([1.5, 3.0, 0.5])},
        lambda r: [r.uniform(-4, 4, (5, 3)), r.uniform(0, 1, (5, 3))],
        lambda x, y: np.mean(_bcel(x, y, np.array([1.5, 3.0, 0.5])) * np.array([2.0, 0.5, 1.0])),
    ),
    (
        "smooth_l1_beta_none",
        "SmoothL1Loss",
        {"beta": 0.5, "reduction": "none"},
        lambda r: [r.standard_normal(33), r.standard_normal(33)],
        lambda x, y: _sl1(x - y, 0.5),
    ),
    (
        "huber_delta",
        "HuberLoss",
        {"delta": 0.8},
        lambda r: [r.standard_normal((4, 5)) * 2, r.standard_normal((4, 5))],
        lambda x, y: np.mean(_huber(x - y, 0.8)),
    ),
    (
        "kl_batchmean",
        "KLDivLoss",
        {"reduction": "batchmean"},
        lambda r: [_log_softmax(r.standard_normal((3, 4)), -1), r.dirichlet(np.ones(4), 3)],
        lambda x, t: _kl(x, t, False, "batchmean"),
    ),
    (
        "kl_log_target_sum",
        "KLDivLoss",
        {"reduction": "sum", "log_target": True},
        lambda r: [
            _log_softmax(r.standard_normal((3, 4)), -1),
            _log_softmax(r.standard_normal((3, 4)), -1),
        ],
        lambda x, t: _kl(x, t, True, "sum"),
    ),
    (
        "cosine_embedding_margin",
        "CosineEmbeddingLoss",
        {"margin": 0.2},
        lambda r: [r.standard_normal((6, 5)), r.standard_normal((6, 5)), _signs(r, 6)],
        lambda a, b, y: _cel(a, b, y, 0.2, "mean"),
    ),
    (
        "margin_ranking_sum",
        "MarginRankingLoss",
        {"margin": 0.3, "reduction": "sum"},
        lambda r: [r.standard_normal(7), r.standard_normal(7), _signs(r, 7)],
        lambda a, b, y: _mrl(a, b, y, 0.3, "sum"),
    ),
    (
        "triplet_p1_swap_reduce_false",
        "TripletMarginLoss",
        {"margin": 0.7, "p": 1, "swap": True, "reduce": False},
        lambda r: [r.standard_normal((5, 4)), r.standard_normal((5, 4)), r.standard_normal((5, 4))],
        lambda a, p, n: _tml(a, p, n, 0.7, 1, True, "none"),
    ),
]


def _inputs(case, device):
    name, _, _, make, _ = case
    arrays = make(np.random.default_rng(len(name)))
    tensors = [
        vkgrad.tensor(a, device=device, requires_grad=i == 0)
        if a.dtype.kind == "f"
        else vkgrad.tensor(a, device=device)
        for i, a in enumerate(arrays)
    ]
    return arrays, tensors


def _module(case, device):
    _, cls, kwargs, _, _ = case
    kw = {k: vkgrad.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    # Built on the cpu and moved: weight and pos_weight are buffers and follow the module.
    return getattr(nn, cls)(**kw).to(device)


def _fd(f, arrays, h=1e-6):
    """Central differences of the scalar sum(f(*arrays)) in arrays[0]."""
    a = np.array(arrays[0], np.float64)
    g = np.zeros_like(a)
    for i in range(a.size):
        vals = []
        for s in (h, -h):
            b = a.copy()
            b.reshape(-1)[i] += s
            vals.append(np.sum(f(b, *arrays[1:])))
        g.reshape(-1)[i] = (vals[0] - vals[1]) / (2 * h)
    return g


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_loss_module_vs_numpy(case, device):
    arrays, tensors = _inputs(case, device)
    ref = case[4]
    loss = _module(case, device)(*tensors)
    want = ref(*arrays)
    got = loss.numpy().astype(np.float64)
    assert got.shape == np.shape(want)
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)
    loss.sum().backward()
    np.testing.assert_allclose(tensors[0].grad.numpy(), _fd(ref, arrays), rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_loss_module_vs_torch(case, device):
    torch = pytest.importorskip("torch")
    _, cls, kwargs, _, _ = case
    arrays, tensors = _inputs(case, device)
    tkw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    theirs = getattr(torch.nn, cls)(**tkw)
    targs = [
        torch.tensor(a, requires_grad=i == 0) if a.dtype.kind == "f" else torch.tensor(a).long()
        for i, a in enumerate(arrays)
    ]
    if cls in ("CosineEmbeddingLoss", "MarginRankingLoss"):
        targs[-1] = targs[-1].double()
    want = theirs(*targs)
    ours = _module(case, device)
    assert ours.reduction == theirs.reduction
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)
    loss = ours(*tensors)
    np.testing.assert_allclose(loss.numpy(), want.detach().numpy(), rtol=2e-5, atol=2e-6)
    loss.sum().backward()
    want.sum().backward()
    np.testing.assert_allclose(tensors[0].grad.numpy(), targs[0].grad.numpy(), rtol=1e-4, atol=1e-6)


def test_legacy_size_average_and_reduce():
    # torch.nn._reduction.legacy_get_string, written out.
    for size_average, reduce, want in [
        (None, None, "mean"),
        (True, None, "mean"),
        (False, None, "sum"),
        (None, False, "none"),
        (False, False, "none"),
        (True, True, "mean"),
        (False, True, "sum"),
    ]:
        assert nn.MSELoss(size_average, reduce).reduction == want, (size_average, reduce)
        assert nn.NLLLoss(None, size_average, -100, reduce).reduction == want
    assert nn.L1Loss(reduction="sum").reduction == "sum"
    x, y = vkgrad.tensor([1.0, -3.0]), vkgrad.tensor([0.0, 0.0])
    assert NF.l1_loss(x, y, size_average=False).item() == 4.0
    assert NF.mse_loss(x, y, reduce=False).tolist() == [1.0, 9.0]


def test_cross_entropy_module_ignores_minus_100_where_the_function_does_not():
    x = vkgrad.tensor([[1.0, 2.0, 0.5], [0.0, 0.0, 0.0]])
    t = vkgrad.tensor([1, -100])
    ref = -_log_softmax(np.array([[1.0, 2.0, 0.5]]), -1)[0, 1]
    assert nn.CrossEntropyLoss()(x, t).item() == pytest.approx(ref, rel=1e-6)
    with pytest.raises(IndexError, match="cross_entropy"):
        NF.cross_entropy(x, t)  # the fused kernel, which checks every target


def test_loss_buffers_state_dict_and_device(device):
    w = vkgrad.tensor(W5)
    ce = nn.CrossEntropyLoss(weight=w)
    assert list(ce.state_dict()) == ["weight"]
    assert list(nn.CrossEntropyLoss().state_dict()) == []
    bce = nn.BCEWithLogitsLoss(pos_weight=vkgrad.ones(3)).to(device)
    assert list(bce.state_dict()) == ["pos_weight"]
    assert str(bce.pos_weight.device).startswith(device)
    assert str(ce.to(device).weight.device).startswith(device)


def test_loss_errors_name_the_function_and_shapes():
    a = vkgrad.zeros(3, 4)
    with pytest.raises(ValueError, match=r"margin_ranking_loss: input1, input2 and target must "
                       r"have the same number of dimensions, got input1 \(3, 4\), input2 "
                       r"\(3, 4\), target \(3,\)"):  # fmt: skip
        NF.margin_ranking_loss(a, a, vkgrad.ones(3))
    with pytest.raises(ValueError, match=r"margin_ranking_loss: shapes do not broadcast"):
        nn.MarginRankingLoss()(vkgrad.zeros(3), vkgrad.zeros(4), vkgrad.ones(3))
    with pytest.raises(ValueError, match=r"triplet_margin_loss: anchor, positive and negative "
                       r"must have the same number of dimensions, got anchor \(3, 4\), "
                       r"positive \(4,\)"):  # fmt: skip
        nn.TripletMarginLoss()(a, vkgrad.zeros(4), a)
    with pytest.raises(ValueError, match=r"triplet_margin_loss: shapes do not broadcast.*\(3, 5\)"):
        NF.triplet_margin_loss(a, vkgrad.zeros(3, 5), a)
    with pytest.raises(ValueError, match="TripletMarginLoss: margin must be greater than 0"):
        nn.TripletMarginLoss(margin=0.0)
    with pytest.raises(ValueError, match="triplet_margin_loss: reduction must be one of"):
        NF.triplet_margin_loss(a, a, a, reduction="avg")
    with pytest.raises(ValueError, match=r"mse_loss: input shape \(3, 4\) and target shape"):
        nn.MSELoss()(a, vkgrad.zeros(4, 3))
    with pytest.raises(ValueError, match=r"nll_loss: class-index targets must have shape \(3,\)"):
        nn.NLLLoss()(a, vkgrad.tensor([0, 1]))
    with pytest.raises(TypeError, match="margin_ranking_loss: target must be a tensor"):
        NF.margin_ranking_loss(a, a, 1.0)
