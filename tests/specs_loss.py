"""Op specs of the loss family (``vkgrad/library/loss.py``); see op_specs.py."""

from __future__ import annotations

import numpy as np
from op_specs import U, spec

import vkgrad
import vkgrad.nn.functional as NF

# Names beyond the family's public functions (test_ops requires a spec for each of those)
# that must have a spec: Tensor methods, namespaces, forms with options.
WANTED: list[str] = [
    "cross_entropy_weight",
    "cross_entropy_ignore_index",
    "cross_entropy_label_smoothing",
]

_REDS = ("mean", "sum", "none")
W5 = np.array([0.5, 1.0, 2.0, 1.5, 0.25])


def _reduce(v, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": lambda a: a}[reduction](v)


def _const(a, like):
    return vkgrad.tensor(a, dtype=like.dtype, device=like.device)


def _targets(shape, c, ignore=0):
    """Class indices in [0, c); the first ``ignore`` of them set to -100 (ignored)."""

    def aux(rng):
        t = rng.integers(0, c, shape).astype(np.int32)
        t.reshape(-1)[:ignore] = -100
        return {"t": t}

    return aux


def _log_softmax(x, axis):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def _nll_ref(logp, t, w, reduction, ignore=-100):
    """logp (N, C), t (N,): PyTorch's nll_loss, written out."""
    keep = t != ignore
    tk = np.where(keep, t, 0)
    wt = np.where(keep, w[tk], 0.0)
    losses = -wt * logp[np.arange(len(t)), tk]
    if reduction == "mean":
        return losses.sum() / wt.sum()
    return losses.sum() if reduction == "sum" else losses


# ---------------------------------------------------------------- nll_loss

for _r in _REDS:
    spec(
        f"nll_loss_{_r}",
        lambda x, t, _r=_r: NF.nll_loss(x, t, reduction=_r),
        lambda x, t, _r=_r: _nll_ref(x, t, np.ones(5), _r),
        [(7, 5)],
        aux=_targets(7, 5),
    )
    spec(
        f"nll_loss_weight_ignore_{_r}",
        lambda x, t, _r=_r: NF.nll_loss(x, t, weight=_const(W5, x), reduction=_r),
        lambda x, t, _r=_r: _nll_ref(x, t, W5, _r),
        [(6, 5)],
        aux=_targets(6, 5, ignore=2),
    )
spec(
    "nll_loss_custom_ignore_index",
    lambda x, t: NF.nll_loss(x, t, ignore_index=3),
    lambda x, t: _nll_ref(x, t, np.ones(4), "mean", ignore=3),
    [(33, 4)],
    aux=_targets(33, 4),
)
spec(
    "nll_loss_kdim",
    lambda x, t: NF.nll_loss(x, t, reduction="none"),
    lambda x, t: _nll_ref(
        x.transpose(0, 2, 1).reshape(-1, 3), t.reshape(-1), np.ones(3), "none"
    ).reshape(2, 4),
    [(2, 3, 4)],
    aux=_targets((2, 4), 3),
)

# ---------------------------------------------------------------- cross_entropy's options


def _ce_ref(x, t, w, reduction, ignore=-100, ls=0.0):
    """PyTorch's cross_entropy with class indices, weight, ignore_index, label_smoothing."""
    logp = _log_softmax(x, -1)
    c = x.shape[1]
    keep = t != ignore
    tk = np.where(keep, t, 0)
    wt = np.where(keep, w[tk], 0.0)
    nll = -wt * logp[np.arange(len(t)), tk]
    smooth = np.where(keep, -(logp * w).sum(-1), 0.0)
    losses = (1 - ls) * nll + ls / c * smooth
    if reduction == "mean":
        return losses.sum() / wt.sum()
    return losses.sum() if reduction == "sum" else losses


for _r in _REDS:
    spec(
        f"cross_entropy_weight_{_r}",
        lambda x, t, _r=_r: NF.cross_entropy(x, t, weight=_const(W5, x), reduction=_r),
        lambda x, t, _r=_r: _ce_ref(x, t, W5, _r),
        [(6, 5)],
        gens=(U(-3, 3),),
        aux=_targets(6, 5),
    )
    spec(
        f"cross_entropy_label_smoothing_{_r}",
        lambda x, t, _r=_r: NF.cross_entropy(
            x, t, weight=_const(W5, x), ignore_index=1, reduction=_r, label_smoothing=0.2
        ),
        lambda x, t, _r=_r: _ce_ref(x, t, W5, _r, ignore=1, ls=0.2),
        [(7, 5)],
        gens=(U(-3, 3),),
        aux=_targets(7, 5),
    )
spec(
    "cross_entropy_ignore_index",
    lambda x, t: NF.cross_entropy(x, t, ignore_index=-100),  # the default, given: options path
    lambda x, t: _ce_ref(x, t, np.ones(4), "mean"),
    [(5, 4)],
    aux=_targets(5, 4, ignore=2),
)
spec(
    "cross_entropy_ignore_index_smoothing_kdim",
    lambda x, t: NF.cross_entropy(x, t, label_smoothing=0.1, reduction="sum"),
    lambda x, t: _ce_ref(
        x.transpose(0, 2, 1).reshape(-1, 3), t.reshape(-1), np.ones(3), "sum", ls=0.1
    ),
    [(2, 3, 4)],
    aux=_targets((2, 4), 3, ignore=1),
)


def _probs(rng, shape):
    e = rng.uniform(0.1, 1.0, shape)
    return e / e.sum(axis=-1, keepdims=True)


spec(
    "cross_entropy_label_smoothing_probs_weight",
    lambda x, p: NF.cross_entropy(x, p, weight=_const(W5, x), label_smoothing=0.3),
    lambda x, p: np.mean(-((p * 0.7 + 0.3 / 5) * _log_softmax(x, -1) * W5).sum(-1)),
    [(4, 5), (4, 5)],
    gens=(U(-3, 3), _probs),
)

# ---------------------------------------------------------------- binary cross entropy


def _bce(x, y):
    return -(y * np.maximum(np.log(x), -100) + (1 - y) * np.maximum(np.log(1 - x), -100))


for _r in _REDS:
    spec(
        f"binary_cross_entropy_{_r}",
        lambda x, y, _r=_r: NF.binary_cross_entropy(x, y, reduction=_r),
        lambda x, y, _r=_r: _reduce(_bce(x, y), _r),
        [(3, 7), (3, 7)],
        gens=(U(0.05, 0.95), U(0, 1)),
    )
spec(
    "binary_cross_entropy_weight",
    lambda x, y: NF.binary_cross_entropy(x, y, weight=_const(np.linspace(0.5, 2, 33), x)),
    lambda x, y: np.mean(_bce(x, y) * np.linspace(0.5, 2, 33)),
    [(33,), (33,)],
    gens=(U(0.05, 0.95), U(0, 1)),
)


def _bcel(x, y, pw=1.0):
    sp = np.logaddexp(0, -x)  # softplus(-x)
    return (1 - y) * x + (1 + (pw - 1) * y) * sp


for _r in _REDS:
    spec(
        f"binary_cross_entropy_with_logits_{_r}",
        lambda x, y, _r=_r: NF.binary_cross_entropy_with_logits(x, y, reduction=_r),
        lambda x, y, _r=_r: _reduce(_bcel(x, y), _r),
        [(4, 7), (4, 7)],
        gens=(U(-4, 4), U(0, 1)),
    )
spec(
    "binary_cross_entropy_with_logits_pos_weight",
    lambda x, y, pw: NF.binary_cross_entropy_with_logits(
        x, y, weight=_const(np.array([2.0, 0.5, 1.0]), x), pos_weight=pw
    ),
    lambda x, y, pw: np.mean(_bcel(x, y, pw) * np.array([2.0, 0.5, 1.0])),
    [(5, 3), (5, 3), (3,)],
    gens=(U(-4, 4), U(0, 1), U(0.5, 3)),
)

# ---------------------------------------------------------------- regression losses


def _diff_pair(kinks):
    """(x, y) with x - y at least 0.1 away from each kink."""

    def gen(rng, shapes):
        y = rng.uniform(-2, 2, shapes[1])
        d = rng.uniform(-3, 3, shapes[0])
        for _ in range(100):
            bad = np.zeros(d.shape, bool)
            for k in kinks:
                bad |= np.abs(d - k) < 0.1
            if not bad.any():
                break
            d = np.where(bad, rng.uniform(-3, 3, d.shape), d)
        # Round y first so that x - y keeps its margin after the test rounds x to f16.
        y = np.round(y * 64) / 64
        d = np.round(d * 64) / 64
        return [y + d, y]

    return gen


def _sl1(d, beta):
    a = np.abs(d)
    return np.where(a < beta, 0.5 * a * a / beta, a - 0.5 * beta)


for _r in _REDS:
    spec(
        f"smooth_l1_loss_{_r}",
        lambda x, y, _r=_r: NF.smooth_l1_loss(x, y, reduction=_r),
        lambda x, y, _r=_r: _reduce(_sl1(x - y, 1.0), _r),
        [(3, 7), (3, 7)],
        gen=_diff_pair((-1.0, 1.0)),
    )
spec(
    "smooth_l1_loss_beta",
    lambda x, y: NF.smooth_l1_loss(x, y, beta=0.5),
    lambda x, y: np.mean(_sl1(x - y, 0.5)),
    [(33,), (33,)],
    gen=_diff_pair((-0.5, 0.5)),
)
spec(
    "smooth_l1_loss_beta0",
    lambda x, y: NF.smooth_l1_loss(x, y, beta=0.0, reduction="sum"),
    lambda x, y: np.sum(np.abs(x - y)),
    [(7,), (7,)],
    gen=_diff_pair((0.0,)),
)
for _r in _REDS:
    spec(
        f"huber_loss_{_r}",
        lambda x, y, _r=_r: NF.huber_loss(x, y, reduction=_r, delta=0.5),
        lambda x, y, _r=_r: _reduce(0.5 * _sl1(x - y, 0.5), _r),
        [(2, 7), (2, 7)],
        gen=_diff_pair((-0.5, 0.5)),
    )
    spec(
        f"l1_loss_{_r}",
        lambda x, y, _r=_r: NF.l1_loss(x, y, reduction=_r),
        lambda x, y, _r=_r: _reduce(np.abs(x - y), _r),
        [(3, 5), (3, 5)],
        gen=_diff_pair((0.0,)),
    )

# ---------------------------------------------------------------- kl_div

for _r in _REDS + ("batchmean",):
    spec(
        f"kl_div_{_r}",
        lambda x, t, _r=_r: NF.kl_div(x, t, reduction=_r),
        lambda x, t, _r=_r: (
            (t * (np.log(t) - x)).sum() / x.shape[0]
            if _r == "batchmean"
            else _reduce(t * (np.log(t) - x), _r)
        ),
        [(4, 5), (4, 5)],
        gens=(U(-3, -0.1), U(0.05, 1.0)),
    )
spec(
    "kl_div_log_target",
    lambda x, t: NF.kl_div(x, t, reduction="batchmean", log_target=True),
    lambda x, t: (np.exp(t) * (t - x)).sum() / 3,
    [(3, 7), (3, 7)],
    gens=(U(-3, -0.1), U(-3, -0.1)),
)

# ---------------------------------------------------------------- cosine_embedding_loss


def _cel(a, b, y, margin, reduction):
    eps = 1e-12
    cos = (a * b).sum(-1) / np.sqrt(((a * a).sum(-1) + eps) * ((b * b).sum(-1) + eps))
    losses = np.where(y == 1, 1 - cos, np.maximum(0, cos - margin))
    return _reduce(losses, reduction)


def _signs(n):
    return lambda rng: {"y": np.where(rng.random(n) < 0.5, 1, -1).astype(np.int32)}


for _r in _REDS:
    spec(
        f"cosine_embedding_loss_{_r}",
        lambda a, b, y, _r=_r: NF.cosine_embedding_loss(a, b, y, margin=-0.5, reduction=_r),
        lambda a, b, y, _r=_r: _cel(a, b, y, -0.5, _r),
        [(6, 5), (6, 5)],
        aux=_signs(6),
    )
spec(
    "cosine_embedding_loss_1d",
    lambda a, b, y: NF.cosine_embedding_loss(a, b, y),
    lambda a, b, y: _cel(a, b, y, 0.0, "mean"),
    [(7,), (7,)],
    aux=lambda rng: {"y": np.array(1, np.int32)},
)

# ---------------------------------------------------------------- margin_ranking_loss


def _mrl(x1, x2, y, margin, reduction):
    return _reduce(np.maximum(0.0, -y * (x1 - x2) + margin), reduction)


for _r in _REDS:
    spec(
        f"margin_ranking_loss_{_r}",
        lambda a, b, y, _r=_r: NF.margin_ranking_loss(a, b, y, margin=0.5, reduction=_r),
        lambda a, b, y, _r=_r: _mrl(a, b, y, 0.5, _r),
        [(33,), (33,)],
        # -y (a - b) + 0.5 crosses 0 where a - b = +-0.5: keep a - b away from both.
        gen=_diff_pair((-0.5, 0.5)),
        aux=_signs(33),
    )
spec(
    "margin_ranking_loss_broadcast",
    lambda a, b, y: NF.margin_ranking_loss(a, b, y),
    lambda a, b, y: _mrl(a, b, y, 0.0, "mean"),
    [(4, 3), (4, 1)],
    gen=lambda rng, shapes: [
        # a on a grid of 1/2 offset by 1/4 from b's grid: a - b is never 0.
        rng.integers(-4, 4, shapes[0]) * 0.5 + 0.25,
        rng.integers(-4, 4, shapes[1]) * 0.5,
    ],
    aux=lambda rng: {"y": np.where(rng.random((1, 3)) < 0.5, 1, -1).astype(np.int32)},
)

# ---------------------------------------------------------------- triplet_margin_loss


def _pdist(a, b, p, eps=1e-6):
    d = np.abs(a - b + eps)
    return d.sum(-1) if p == 1 else np.sqrt((d * d).sum(-1))


def _tml(a, pos, neg, margin, p, swap, reduction):
    dn = _pdist(a, neg, p)
    if swap:
        dn = np.minimum(dn, _pdist(pos, neg, p))
    return _reduce(np.maximum(0.0, _pdist(a, pos, p) - dn + margin), reduction)


def _triplets(margin, p, swap):
    """(anchor, positive, negative) on a grid of 1/64 (exact in f16), each row's
    d(a, p) - d(a, n) + margin at least 0.1 from 0 and, with swap, d(a, n) at least 0.1 from
    d(p, n), so that no kink lies within the finite-difference step or f16 rounding."""

    def gen(rng, shapes):
        def draw(shape):
            return np.round(rng.uniform(-1.5, 1.5, shape) * 64) / 64

        a, pos, neg = (draw(s) for s in shapes)
        for _ in range(1000):
            dn, ds = _pdist(a, neg, p), _pdist(pos, neg, p)
            bad = np.abs(_pdist(a, pos, p) - (np.minimum(dn, ds) if swap else dn) + margin) < 0.1
            if swap:
                bad |= np.abs(dn - ds) < 0.1
            if not bad.any():
                return [a, pos, neg]
            rows = bad[..., None]
            a, pos, neg = (np.where(rows, draw(t.shape), t) for t in (a, pos, neg))
        raise AssertionError("could not draw triplets away from the kinks")

    return gen


for _r in _REDS:
    spec(
        f"triplet_margin_loss_{_r}",
        lambda a, p, n, _r=_r: NF.triplet_margin_loss(a, p, n, margin=0.5, reduction=_r),
        lambda a, p, n, _r=_r: _tml(a, p, n, 0.5, 2, False, _r),
        [(7, 5), (7, 5), (7, 5)],
        gen=_triplets(0.5, 2, False),
    )
spec(
    "triplet_margin_loss_p1_swap",
    lambda a, p, n: NF.triplet_margin_loss(a, p, n, margin=1.0, p=1, swap=True),
    lambda a, p, n: _tml(a, p, n, 1.0, 1, True, "mean"),
    [(6, 4), (6, 4), (6, 4)],
    gen=_triplets(1.0, 1, True),
)
spec(
    "triplet_margin_loss_1d",
    lambda a, p, n: NF.triplet_margin_loss(a, p, n, swap=True),
    lambda a, p, n: _tml(a, p, n, 1.0, 2, True, "mean"),
    [(5,), (5,), (5,)],
    gen=_triplets(1.0, 2, True),
)
