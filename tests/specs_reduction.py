"""Op specs of the reduction family (``vkgrad/library/reduction.py``); see op_specs.py."""

from __future__ import annotations

import numpy as np
from op_specs import U, away, distinct, spec

import vkgrad
import vkgrad.functional as F
import vkgrad.functional as VF
import vkgrad.nn.functional as NF

# Names beyond the family's public functions (test_ops requires a spec for each of those).
WANTED: list[str] = []


def _as_float(t, like):
    """Integer / bool results compared by value: the spec helper compares in the input dtype."""
    return VF.to_dtype(t, like.dtype)


def _with_zeros(rng, shape):
    """Rows with one, two and three exact zeros (prod/cumprod gradients at zeros)."""
    x = rng.uniform(-2, 2, shape)
    x[0, 1] = 0.0
    x[1, [0, 3]] = 0.0
    x[2, [1, 2, 4]] = 0.0
    return x


def _zero_runs(rng, shape):
    """Rows of at least 7 columns with one zero, two zeros in a row (inside, at either end),
    and two separate zeros."""
    x = rng.uniform(-2, 2, shape)
    x[0, 3] = 0.0
    x[1, [2, 3]] = 0.0
    x[2, [0, 1]] = 0.0
    x[3, [5, 6]] = 0.0
    x[4, [1, 4]] = 0.0
    return x


# ---------------------------------------------------------------- prod

spec("prod_all", lambda a: a.prod(), np.prod, [(7,)])
spec("prod_dim", lambda a: vkgrad.prod(a, 1), lambda a: a.prod(1), [(3, 5)])
spec(
    "prod_keepdim",
    lambda a: a.prod(0, keepdim=True),
    lambda a: a.prod(0, keepdims=True),
    [(4, 3)],
)
spec("prod_dims", lambda a: a.prod((0, 2)), lambda a: a.prod((0, 2)), [(2, 3, 2)])
spec("prod_33", lambda a: a.prod(), np.prod, [(33,)], gens=(U(0.7, 1.4),))
# Products are multilinear: central differences are exact at zeros too.
spec("prod_zeros", lambda a: a.prod(1), lambda a: a.prod(1), [(4, 5)], gens=(_with_zeros,))

# ---------------------------------------------------------------- min / max family

spec("min_all", lambda a: a.min(), np.min, [(257,)], gens=(distinct(),))
spec("min_dim", lambda a: a.min(1).values, lambda a: a.min(1), [(3, 5, 2)], gens=(distinct(),))
spec(
    "min_dim_indices",
    lambda a: _as_float(vkgrad.min(a, dim=0, keepdim=True).indices, a),
    lambda a: a.argmin(0)[None].astype(np.float64),
    [(4, 3)],
    gens=(distinct(),),
    grad=False,
)
spec(
    "amax_dims",
    lambda a: vkgrad.amax(a, (0, 2)),
    lambda a: a.max((0, 2)),
    [(3, 4, 2)],
    gens=(distinct(),),
)
spec("amax_all", lambda a: a.amax(), np.max, [(33,)], gens=(distinct(),))
spec(
    "amin_keepdim",
    lambda a: a.amin(1, keepdim=True),
    lambda a: a.min(1, keepdims=True),
    [(3, 7)],
    gens=(distinct(),),
)


def _tied(rng, shape):
    """Values on a coarse grid: many ties, so the first index must win."""
    return rng.integers(-2, 3, shape).astype(np.float64)


spec(
    "argmax_all",
    lambda a: _as_float(vkgrad.argmax(a), a),
    lambda a: np.float64(a.argmax()),
    [(257,)],
    gens=(distinct(),),
    grad=False,
)
spec(
    "argmax_dim_ties",
    lambda a: _as_float(a.argmax(1), a),
    lambda a: a.argmax(1).astype(np.float64),
    [(33, 7)],
    gens=(_tied,),
    grad=False,
)
spec(
    "argmax_keepdim",
    lambda a: _as_float(a.argmax(0, keepdim=True), a),
    lambda a: a.argmax(0)[None].astype(np.float64),
    [(5, 3)],
    gens=(_tied,),
    grad=False,
)
spec(
    "argmin_dim_ties",
    lambda a: _as_float(vkgrad.argmin(a, -1), a),
    lambda a: a.argmin(-1).astype(np.float64),
    [(2, 3, 7)],
    gens=(_tied,),
    grad=False,
)
spec(
    "argmin_all",
    lambda a: _as_float(a.argmin(), a),
    lambda a: np.float64(a.argmin()),
    [(1,)],
    grad=False,
)

# ---------------------------------------------------------------- var / std

spec("var_all", lambda a: a.var(), lambda a: a.var(ddof=1), [(33,)])
spec("var_dim", lambda a: vkgrad.var(a, 1), lambda a: a.var(1, ddof=1), [(3, 7)])
spec(
    "var_correction0_keepdim",
    lambda a: a.var((0, 2), correction=0, keepdim=True),
    lambda a: a.var((0, 2), keepdims=True),
    [(2, 3, 4)],
)
spec(
    "var_unbiased_false",
    lambda a: vkgrad.var(a, 0, unbiased=False),
    lambda a: a.var(0),
    [(5, 2)],
)
# Offset data: a one-pass E[x^2] - E[x]^2 would lose the spread to cancellation.
spec("var_offset", lambda a: a.var(1), lambda a: a.var(1, ddof=1), [(4, 9)], gens=(U(99, 101),))
spec("std_all", lambda a: a.std(), lambda a: a.std(ddof=1), [(7, 3)])
spec(
    "std_dim_correction2",
    lambda a: vkgrad.std(a, -1, correction=2),
    lambda a: a.std(-1, ddof=2),
    [(3, 6)],
)

# ---------------------------------------------------------------- logsumexp


def _lse(a, axis, keepdims=False):
    m = a.max(axis=axis, keepdims=True)
    out = m + np.log(np.exp(a - m).sum(axis=axis, keepdims=True))
    return out if keepdims else np.squeeze(out, axis)


spec("logsumexp_dim", lambda a: a.logsumexp(1), lambda a: _lse(a, 1), [(3, 7)])
spec(
    "logsumexp_dims_keepdim",
    lambda a: vkgrad.logsumexp(a, (0, 2), keepdim=True),
    lambda a: _lse(a, (0, 2), True),
    [(2, 3, 4)],
)
spec("logsumexp_all", lambda a: vkgrad.logsumexp(a), lambda a: _lse(a, None), [(257,)])
# exp(100) overflows f16 and exp(800) f32/f64: only a max-shifted sum survives.
spec(
    "logsumexp_large",
    lambda a: a.logsumexp(0),
    lambda a: _lse(a, 0),
    [(5, 3)],
    gens=(U(797, 803),),
)

# ---------------------------------------------------------------- norm


def _pnorm(a, p, axis=None, keepdims=False):
    b = np.abs(a)
    if p == np.inf:
        return b.max(axis=axis, keepdims=keepdims)
    if p == -np.inf:
        return b.min(axis=axis, keepdims=keepdims)
    if p == 0:
        return (b != 0).sum(axis=axis, keepdims=keepdims).astype(np.float64)
    return (b**p).sum(axis=axis, keepdims=keepdims) ** (1 / p)


_nz = away(-2, 2, (0.0,))


def _distinct_abs(rng, shape):
    """Nonzero values with distinct |x| (no ties for the inf norms, no kink at 0)."""
    n = int(np.prod(shape))
    mags = (rng.permutation(n) + 1) * 0.25
    return (mags * rng.choice([-1.0, 1.0], n)).reshape(shape)


spec("norm_fro", lambda a: a.norm(), lambda a: _pnorm(a, 2), [(3, 5)], gens=(_nz,))
spec("norm_p1_dim", lambda a: a.norm(1, 1), lambda a: _pnorm(a, 1, 1), [(3, 7)], gens=(_nz,))
spec(
    "norm_p2_dims_keepdim",
    lambda a: vkgrad.norm(a, 2, (0, 2), keepdim=True),
    lambda a: _pnorm(a, 2, (0, 2), True),
    [(2, 3, 4)],
    gens=(_nz,),
)
spec("norm_p3", lambda a: a.norm(3, 0), lambda a: _pnorm(a, 3, 0), [(5, 2)], gens=(_nz,))
spec("norm_p05", lambda a: a.norm(0.5, 1), lambda a: _pnorm(a, 0.5, 1), [(2, 6)], gens=(_nz,))
spec(
    "norm_inf",
    lambda a: a.norm(float("inf"), 1),
    lambda a: _pnorm(a, np.inf, 1),
    [(4, 5)],
    gens=(_distinct_abs,),
)
spec(
    "norm_neginf",
    lambda a: vkgrad.norm(a, -float("inf"), 0),
    lambda a: _pnorm(a, -np.inf, 0),
    [(5, 3)],
    gens=(_distinct_abs,),
)
spec(
    "norm_p0",
    lambda a: a.norm(0, 1),
    lambda a: _pnorm(a, 0, 1),
    [(3, 5)],
    gens=(lambda rng, s: rng.integers(-1, 2, s).astype(np.float64),),
)
spec("norm_257", lambda a: a.norm(), lambda a: _pnorm(a, 2), [(257,)], gens=(_nz,))

# ---------------------------------------------------------------- scans

spec("cumsum_dim1", lambda a: a.cumsum(1), lambda a: a.cumsum(1), [(3, 7)])
spec("cumsum_dim0", lambda a: vkgrad.cumsum(a, 0), lambda a: a.cumsum(0), [(33, 2)])
spec("cumsum_3d", lambda a: a.cumsum(-2), lambda a: a.cumsum(-2), [(2, 3, 4)])
spec("cumsum_257", lambda a: a.cumsum(0), lambda a: a.cumsum(0), [(257,)])
spec("cumprod_dim1", lambda a: a.cumprod(1), lambda a: a.cumprod(1), [(3, 7)])
spec("cumprod_dim0", lambda a: vkgrad.cumprod(a, 0), lambda a: a.cumprod(0), [(6, 4)])
spec("cumprod_3d", lambda a: a.cumprod(-2), lambda a: a.cumprod(-2), [(2, 3, 4)])
spec(
    "cumprod_zeros",
    lambda a: a.cumprod(-1),
    lambda a: a.cumprod(-1),
    [(4, 5)],
    gens=(_with_zeros,),
)
spec(
    "cumprod_zero_runs",
    lambda a: a.cumprod(1),
    lambda a: a.cumprod(1),
    [(6, 7)],
    gens=(_zero_runs,),
)
# A reversed scan through flip: the gradient runs the recurrence the other way.
spec(
    "cumprod_flip",
    lambda a: a.flip(1).cumprod(1).flip(1),
    lambda a: a[:, ::-1].cumprod(1)[:, ::-1],
    [(6, 7)],
    gens=(_zero_runs,),
)
spec(
    "cumprod_257",
    lambda a: a.cumprod(0),
    lambda a: a.cumprod(0),
    [(257,)],
    gens=(U(0.95, 1.05),),
)


def _cumprod_grad_ref(reverse, exclusive):
    """R = M g, M_ik = product of x strictly between i and k (k included when inclusive),
    for k at or after i in scan order (strictly after when exclusive)."""

    def ref(x, g):
        if reverse:
            x, g = x[:, ::-1], g[:, ::-1]
        out = np.zeros_like(g)
        n = x.shape[1]
        for i in range(n):
            for k in range(i + exclusive, n):
                out[:, i] += g[:, k] * np.prod(x[:, i + 1 : k + 1 - exclusive], axis=1)
        return out[:, ::-1] if reverse else out

    return ref


# cumprod's gradient row in all four scan forms (cumprod and prod's backward use them): its
# own first and second derivatives, with runs of zeros in x.
for _r in (0, 1):
    for _e in (0, 1):
        spec(
            f"cumprod_grad_r{_r}e{_e}",
            lambda x, g, r=_r, e=_e: F.call("cumprod_grad", x, g, reverse=r, exclusive=e),
            _cumprod_grad_ref(_r, _e),
            [(6, 7), (6, 7)],
            gens=(_zero_runs, U()),
        )

# ---------------------------------------------------------------- all / any

spec(
    "all_dim",
    lambda a: _as_float(vkgrad.all(a > -1.0, 1), a),
    lambda a: (a > -1.0).all(1).astype(np.float64),
    [(33, 3)],
    gens=(away(-2, 2, (-1.0,)),),
    grad=False,
)
spec(
    "all_float_input",
    lambda a: _as_float(a.all(), a),
    lambda a: np.float64(a.all()),
    [(7,)],
    gens=(away(-2, 2),),
    grad=False,
)
spec(
    "any_dims_keepdim",
    lambda a: _as_float(vkgrad.any(a > 1.5, (0, 2), keepdim=True), a),
    lambda a: (a > 1.5).any((0, 2), keepdims=True).astype(np.float64),
    [(2, 5, 3)],
    gens=(away(-2, 2, (1.5,)),),
    grad=False,
)
spec(
    "any_all",
    lambda a: _as_float(vkgrad.any(a), a),
    lambda a: np.float64(a.any()),
    [(3, 2)],
    gens=(lambda rng, s: np.zeros(s),),
    grad=False,
)

# ---------------------------------------------------------------- nn.functional


def _normalize(a, p, axis, eps):
    return a / np.maximum(_pnorm(a, p, axis, True), eps)


spec(
    "normalize_dim1",
    lambda a: NF.normalize(a),
    lambda a: _normalize(a, 2, 1, 1e-12),
    [(3, 5)],
    gens=(_nz,),
)
spec(
    "normalize_p1_dim0",
    lambda a: NF.normalize(a, p=1, dim=0),
    lambda a: _normalize(a, 1, 0, 1e-12),
    [(4, 3)],
    gens=(_nz,),
)


def _cos(a, b, axis, eps):
    a, b = np.broadcast_arrays(a, b)
    na = np.maximum(np.sqrt((a * a).sum(axis)), eps)
    nb = np.maximum(np.sqrt((b * b).sum(axis)), eps)
    return (a * b).sum(axis) / (na * nb)


spec(
    "cosine_similarity",
    lambda a, b: NF.cosine_similarity(a, b),
    lambda a, b: _cos(a, b, 1, 1e-8),
    [(4, 5), (4, 5)],
)
spec(
    "cosine_similarity_bcast_dim0",
    lambda a, b: NF.cosine_similarity(a, b, dim=0),
    lambda a, b: _cos(a, b, 0, 1e-8),
    [(3, 4), (3, 1)],
)
spec(
    "pairwise_distance",
    lambda a, b: NF.pairwise_distance(a, b),
    lambda a, b: _pnorm(a - b + 1e-6, 2, -1),
    [(4, 6), (4, 6)],
)
spec(
    "pairwise_distance_p1_keepdim",
    lambda a, b: NF.pairwise_distance(a, b, p=1.0, keepdim=True),
    lambda a, b: _pnorm(a - b + 1e-6, 1, -1, True),
    [(3, 5), (3, 5)],
)
