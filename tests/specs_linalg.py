"""Op specs of the linalg family (``vkgrad/library/linalg.py``); see op_specs.py.

Matrices for solve/inv/det are well conditioned by construction (condition number below
about 6, see ``wellcond``; SPD inputs of cholesky below about 2.3), so that f16 results are
judged on rounding, not on conditioning. The default f16 tolerances then hold with margin:
the reference is computed on the f16-rounded inputs and the kernels compute in f32, so the
forward error is the output's own rounding (u = 4.9e-4, bound 1e-2); a backward chains
about four f16-rounded ops (solve, transpose, matmul, mask), each error amplified by at most
cond < 6: 4 * 6 * 4.9e-4 ~ 1.2e-2 against the default 2e-2.
"""

from __future__ import annotations

import numpy as np
from op_specs import away, spec

import vkgrad
import vkgrad.nn.functional as NF

# Names beyond the family's public functions (test_ops requires a spec for each of those)
# that must have a spec: Tensor methods, namespaces, forms with options.
WANTED: list[str] = [
    "linear",
    "linalg_cross",
    "solve",
    "solve_triangular",
    "inv",
    "cholesky",
    "pinv",
    "vecdot",
    "svd",
    "svdvals",
]

LA = vkgrad.linalg


# ---------------------------------------------------------------- input generators


def wellcond(positive: bool = False):
    """diag(s) (I + E) with ||E|| ~ 0.45 and |s| in [0.7, 1.5]: singular values in about
    [0.38, 2.2], so cond < 6. ``positive``: s > 0, hence det > 0 (I + E has no eigenvalue
    on the negative axis)."""

    def gen(rng, shape):
        n = shape[-1]
        e = 0.4 * rng.uniform(-1, 1, shape) / np.sqrt(n)
        s = rng.uniform(0.7, 1.5, shape[:-1])
        if not positive:
            s = s * rng.choice([-1.0, 1.0], shape[:-1])
        return s[..., :, None] * (np.eye(n) + e)

    return gen


def rect(rng, shape):
    """A full-rank (m, n) matrix: the first columns (or rows) of a well-conditioned square."""
    m, n = shape[-2:]
    k = max(m, n)
    return wellcond()(rng, tuple(shape[:-2]) + (k, k))[..., :m, :n]


def spd(rng, shape):
    """M M^T / n + I: symmetric positive definite, eigenvalues in [1, about 2.3]."""
    n = shape[-1]
    m = rng.uniform(-1, 1, shape)
    return m @ np.swapaxes(m, -1, -2) / n + np.eye(n)


def with_rhs(a_gen):
    def gen(rng, shapes):
        return [a_gen(rng, shapes[0]), rng.uniform(-2, 2, shapes[1])]

    return gen


def sym(a):
    return (a + a.mT) / 2


def _sym_np(a):
    return (a + np.swapaxes(a, -1, -2)) / 2


# ---------------------------------------------------------------- products


spec("mm", vkgrad.mm, np.matmul, [(7, 33), (33, 5)])
spec("mm_1x1", lambda a, b: a.mm(b), np.matmul, [(1, 1), (1, 1)])
spec("bmm", vkgrad.bmm, np.matmul, [(3, 4, 5), (3, 5, 2)])
spec("bmm_odd", lambda a, b: a.bmm(b), np.matmul, [(2, 7, 33), (2, 33, 3)])
spec("mv", vkgrad.mv, np.matmul, [(7, 33), (33,)])
spec("mv_1", lambda a, b: a.mv(b), np.matmul, [(1, 1), (1,)])
spec("dot", vkgrad.dot, np.dot, [(257,), (257,)])
spec("dot_1", lambda a, b: a.dot(b), np.dot, [(1,), (1,)])
spec("outer", vkgrad.outer, np.outer, [(7,), (5,)])
spec("ger", lambda a, b: a.ger(b), np.outer, [(3,), (4,)])
spec(
    "linear",
    NF.linear,
    lambda x, w, b: x @ w.T + b,
    [(7, 33), (5, 33), (5,)],
)
spec("linear_nobias_3d", NF.linear, lambda x, w: x @ w.T, [(2, 3, 4), (5, 4)])

_EINSUM = {
    "matmul": ("ij,jk->ik", [(3, 4), (4, 5)]),
    "bmm": ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    "bij_bkj": ("bij,bkj->bik", [(2, 3, 4), (2, 5, 4)]),
    "transpose": ("ij->ji", [(3, 5)]),
    "permute3": ("abc->cab", [(2, 3, 4)]),
    "trace": ("ii->", [(7, 7)]),
    "diag": ("ii->i", [(4, 4)]),
    "colsum": ("ij->j", [(33, 7)]),
    "sum_all": ("ij->", [(3, 4)]),
    "inner": ("ij,ij->", [(3, 4), (3, 4)]),
    "hadamard": ("ij,ij->ij", [(3, 4), (3, 4)]),
    "outer": ("i,j->ij", [(7,), (5,)]),
    "dot": ("i,i->", [(33,), (33,)]),
    "implicit": ("ij,jk", [(3, 4), (4, 2)]),
    "implicit_transpose": ("ba", [(3, 4)]),
    "mat_vec": ("ij,j->i", [(3, 4), (4,)]),
    "batch_diag": ("bii->bi", [(2, 3, 3)]),
    "diag_times_vec": ("ii,i->i", [(3, 3), (3,)]),
    "contract_two": ("ijk,jkl->il", [(2, 3, 4), (3, 4, 5)]),
    "sum_one_side": ("ij,kl->ik", [(2, 3), (4, 5)]),
    "ellipsis": ("...ij,...jk->...ik", [(2, 3, 4), (4, 5)]),
    "ellipsis_implicit": ("...ij->...ji", [(2, 3, 4)]),
    "broadcast_one": ("bij,bjk->bik", [(1, 3, 4), (2, 4, 5)]),
    "upper": ("iJ,Jk->ik", [(3, 4), (4, 2)]),
    "spaces": ("i j , j k -> i k", [(2, 3), (3, 2)]),
    "three": ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
    "three_shared": ("bi,bj,bk->bijk", [(2, 3), (2, 1), (2, 4)]),
}
for _name, (_eq, _shapes) in _EINSUM.items():
    spec(
        f"einsum_{_name}",
        lambda *xs, _e=_eq: vkgrad.einsum(_e, *xs),
        lambda *xs, _e=_eq: np.einsum(_e.replace(" ", ""), *xs),
        _shapes,
    )
spec(
    "einsum_list_operands",
    lambda a, b: vkgrad.einsum("ij,jk->ik", [a, b]),
    np.matmul,
    [(2, 3), (3, 4)],
)

spec("cross", lambda a, b: vkgrad.cross(a, b, dim=-1), np.cross, [(4, 3), (4, 3)])
spec(
    "cross_dim0",
    lambda a, b: vkgrad.cross(a, b, dim=0),
    lambda a, b: np.cross(a, b, axis=0),
    [(3, 5), (3, 5)],
)
spec("cross_bcast", lambda a, b: a.cross(b, dim=2), np.cross, [(2, 1, 3), (4, 3)])
# dim=None: the first dim of size 3 (dim 1 here), as torch.cross.
spec(
    "cross_default_dim",
    vkgrad.cross,
    lambda a, b: np.cross(a, b, axis=1),
    [(5, 3, 3), (5, 3, 3)],
)
spec("cross_1d", vkgrad.cross, np.cross, [(3,), (3,)])
spec("linalg_cross", LA.cross, np.cross, [(2, 3), (2, 3)])
spec("vecdot", LA.vecdot, lambda a, b: (a * b).sum(-1), [(4, 3), (3,)])

# ---------------------------------------------------------------- solve, inverse, determinants

_WC = wellcond()
spec("solve", LA.solve, np.linalg.solve, [(3, 3), (3,)], gen=with_rhs(_WC))
spec("solve_7x7", LA.solve, np.linalg.solve, [(7, 7), (7, 2)], gen=with_rhs(_WC))
spec("solve_1x1", LA.solve, np.linalg.solve, [(1, 1), (1, 1)], gen=with_rhs(_WC))
spec("solve_batch", LA.solve, np.linalg.solve, [(2, 3, 3), (2, 3, 4)], gen=with_rhs(_WC))
spec(
    "solve_batch_vectors",
    LA.solve,
    lambda a, b: np.linalg.solve(a, b[..., None])[..., 0],
    [(2, 3, 3), (2, 3)],
    gen=with_rhs(_WC),
)
# One matrix for a batch of right-hand sides (broadcast in the kernel), and the reverse.
spec("solve_bcast_a", LA.solve, np.linalg.solve, [(3, 3), (2, 3, 2)], gen=with_rhs(_WC))
spec("solve_bcast_b", LA.solve, np.linalg.solve, [(2, 1, 3, 3), (3, 3)], gen=with_rhs(_WC))
spec(
    "solve_left_false",
    lambda a, b: LA.solve(a, b, left=False),
    lambda a, b: np.swapaxes(np.linalg.solve(a.T, b.T), 0, 1),
    [(3, 3), (2, 3)],
    gen=with_rhs(_WC),
)

spec("inv", LA.inv, np.linalg.inv, [(3, 3)], gens=(_WC,))
spec("inv_7x7", LA.inv, np.linalg.inv, [(7, 7)], gens=(_WC,))
spec("inv_1x1", LA.inv, np.linalg.inv, [(1, 1)], gens=(_WC,))
spec("inv_batch", LA.inv, np.linalg.inv, [(2, 3, 3)], gens=(_WC,))
spec("inverse", lambda a: a.inverse(), np.linalg.inv, [(3, 3)], gens=(_WC,))

spec("det", LA.det, np.linalg.det, [(3, 3)], gens=(_WC,))
spec("det_7x7", lambda a: a.det(), np.linalg.det, [(7, 7)], gens=(_WC,))
spec("det_1x1", vkgrad.det, np.linalg.det, [(1, 1)], gens=(_WC,))
spec("det_batch", LA.det, np.linalg.det, [(2, 3, 3)], gens=(_WC,))
_WCP = wellcond(positive=True)
spec("logdet", vkgrad.logdet, lambda a: np.log(np.linalg.det(a)), [(3, 3)], gens=(_WCP,))
spec(
    "logdet_batch",
    lambda a: a.logdet(),
    lambda a: np.log(np.linalg.det(a)),
    [(2, 7, 7)],
    gens=(_WCP,),
)
spec(
    "slogdet_logabsdet",
    lambda a: LA.slogdet(a).logabsdet,
    lambda a: np.linalg.slogdet(a)[1],
    [(2, 3, 3)],
    gens=(_WC,),
)
# The sign is piecewise constant: its gradient is zero, as finite differences agree.
spec(
    "slogdet_sign",
    lambda a: vkgrad.slogdet(a).sign,
    lambda a: np.linalg.slogdet(a)[0],
    [(7, 7)],
    gens=(_WC,),
)

# ---------------------------------------------------------------- triangular solve, Cholesky


def _tri_np(a, upper, unit):
    t = np.triu(a) if upper else np.tril(a)
    if unit:
        t = t - np.diag(np.diag(t)) + np.eye(a.shape[-1])
    return t


def _tri_ref(upper, unit=False, left=True):
    def ref(a, b):
        t = _tri_np(a, upper, unit)
        if left:
            return np.linalg.solve(t, b)
        return np.swapaxes(np.linalg.solve(t.T, np.swapaxes(b, -1, -2)), -1, -2)

    return ref


for _upper in (False, True):
    _u = "upper" if _upper else "lower"
    spec(
        f"solve_triangular_{_u}",
        lambda a, b, _up=_upper: LA.solve_triangular(a, b, upper=_up),
        _tri_ref(_upper),
        [(7, 7), (7, 3)],
        gen=with_rhs(_WC),
    )
spec(
    "solve_triangular_unit",
    lambda a, b: LA.solve_triangular(a, b, upper=False, unitriangular=True),
    _tri_ref(False, unit=True),
    [(3, 3), (3, 2)],
    gen=with_rhs(_WC),
)
spec(
    "solve_triangular_right",
    lambda a, b: LA.solve_triangular(a, b, upper=True, left=False),
    _tri_ref(True, left=False),
    [(3, 3), (2, 3)],
    gen=with_rhs(_WC),
)
spec(
    "solve_triangular_batch",
    lambda a, b: LA.solve_triangular(a, b, upper=False),
    lambda a, b: np.stack([_tri_ref(False)(x, y) for x, y in zip(a, b)]),
    [(2, 3, 3), (2, 3, 1)],
    gen=with_rhs(_WC),
)

# The input is symmetrised first: cholesky reads one triangle, so finite differences of an
# unsymmetrised input would see a one-sided gradient, while PyTorch's (and ours) is symmetric.
spec(
    "cholesky",
    lambda a: LA.cholesky(sym(a)),
    lambda a: np.linalg.cholesky(_sym_np(a)),
    [(3, 3)],
    gens=(spd,),
)
spec(
    "cholesky_7x7",
    lambda a: LA.cholesky(sym(a)),
    lambda a: np.linalg.cholesky(_sym_np(a)),
    [(7, 7)],
    gens=(spd,),
)
spec(
    "cholesky_1x1",
    lambda a: LA.cholesky(sym(a)),
    lambda a: np.linalg.cholesky(_sym_np(a)),
    [(1, 1)],
    gens=(spd,),
)
spec(
    "cholesky_batch_upper",
    lambda a: LA.cholesky(sym(a), upper=True),
    lambda a: np.swapaxes(np.linalg.cholesky(_sym_np(a)), -1, -2),
    [(2, 3, 3)],
    gens=(spd,),
)

# ---------------------------------------------------------------- SVD, pinv, det at singular A


def with_svals(svals):
    """Q1 diag(svals) Q2^T with random orthogonal Q1, Q2: (m, n) matrices whose singular values
    are exactly ``svals`` (min(m, n) of them; zeros make a rank-deficient matrix)."""

    def gen(rng, shape):
        m, n = shape[-2:]
        k = min(m, n)
        q1 = np.linalg.qr(rng.standard_normal(tuple(shape[:-2]) + (m, m)))[0][..., :k]
        q2 = np.linalg.qr(rng.standard_normal(tuple(shape[:-2]) + (n, n)))[0][..., :k]
        return (q1 * np.asarray(svals, np.float64)) @ np.swapaxes(q2, -1, -2)

    return gen


def factors(sv_left, sv_right):
    """B (m, r) and C (r, n) with the given singular values: their product has rank r, and
    stays rank r under any perturbation of B and C."""

    def gen(rng, shapes):
        return [with_svals(sv_left)(rng, shapes[0]), with_svals(sv_right)(rng, shapes[1])]

    return gen


def _weights(k: int) -> np.ndarray:
    return np.linspace(1.0, -0.5, k)


def _vk_weights(like, k: int):
    return vkgrad.tensor(_weights(k), dtype=like.dtype, device=like.device)


# Singular vectors are unique only up to sign (and LAPACK's need not match the Jacobi
# kernel's), so the specs of svd check sign-invariant functions of them: U diag(w) Vh with
# fixed weights w (not S: this is no spectral function of A, so every term of the backward
# formula matters), and the projectors U diag(w) U^T, V diag(w) V^T. Inputs have singular
# values at least 0.5 apart: the U/V derivatives scale with 1 / (s_i - s_j). The default f16
# tolerances hold: singular vectors of the f16-rounded input come out of the f32 Jacobi to
# about eps32 * s_max / gap, and rounding the outputs to f16 (u = 4.9e-4) dominates; the
# backward's chained roundings are amplified by s_max / gap < 5 (cf. the module docstring).
def _usv(k: int, full: bool = False):
    def fn(a):
        u, s, vh = LA.svd(a, full_matrices=full)
        return (u[..., :k] * _vk_weights(a, k)) @ vh[..., :k, :]

    def ref(a):
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        return (u * _weights(k)) @ vh

    return fn, ref


def _left_proj(a):
    u = LA.svd(a, full_matrices=False).U
    k = u.shape[-1]
    return (u * _vk_weights(a, k)) @ u.mT


def _left_proj_ref(a):
    u = np.linalg.svd(a, full_matrices=False)[0]
    return (u * _weights(u.shape[-1])) @ np.swapaxes(u, -1, -2)


def _right_proj(a):
    vh = LA.svd(a).Vh
    k = min(a.shape[-2:])
    vh = vh[..., :k, :]
    return (vh.mT * _vk_weights(a, k)) @ vh


def _right_proj_ref(a):
    vh = np.linalg.svd(a, full_matrices=False)[2]
    return (np.swapaxes(vh, -1, -2) * _weights(vh.shape[-2])) @ vh


_SV3 = with_svals([2.0, 1.4, 0.8])
_SV4 = with_svals([2.2, 1.6, 1.0, 0.5])
spec("svd", *_usv(3), [(5, 3)], gens=(_SV3,))
spec("svd_wide_full", *_usv(3, full=True), [(3, 5)], gens=(_SV3,))
spec("svd_square_batch", *_usv(4), [(2, 4, 4)], gens=(_SV4,))
spec("svd_left_projector", _left_proj, _left_proj_ref, [(4, 3)], gens=(_SV3,))
spec("svd_right_projector", _right_proj, _right_proj_ref, [(3, 4)], gens=(_SV3,))
_sv = lambda a: np.linalg.svd(a, compute_uv=False)  # noqa: E731
spec("svdvals", LA.svdvals, _sv, [(5, 3)], gens=(_SV3,))
spec("svdvals_wide", LA.svdvals, _sv, [(3, 7)], gens=(_SV3,))
spec("svdvals_batch", LA.svdvals, _sv, [(2, 4, 4)], gens=(_SV4,))
spec("svdvals_1x1", LA.svdvals, _sv, [(1, 1)], gens=(away(-2.0, 2.0),))


def _pinv_ref(atol=None, rtol=None):
    def ref(*xs):
        a = xs[0] if len(xs) == 1 else xs[0] @ xs[1]
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        cut = max(atol or 0.0, (rtol or 0.0) * s[..., 0].max())
        s_inv = np.where(s > cut, 1.0 / np.where(s > cut, s, 1.0), 0.0)
        return np.swapaxes(vh, -1, -2) @ (s_inv[..., None] * np.swapaxes(u, -1, -2))

    return ref


# Rank-deficient pinv: finite differences of pinv(A) perturbing single entries of a rank-r A
# would change its rank, where pinv jumps (not differentiable). So the input is the pair of
# factors B (m, r), C (r, n) and the function pinv(B C): every perturbation keeps rank r, and
# dA = dB C + B dC spans the whole tangent space of the rank-r matrices at A, so these
# differences check the gradient's tangent part completely. Its normal part (U_perp^T gA
# V_perp) is zero by the formula's structure; test_linalg checks it against a float64 NumPy
# reference of the formula. rtol (atol) cuts the rounding-level singular values of B C in
# every dtype (f16: ~1e-3 of s_max), far below the kept ones (>= 0.5).
_FAC = factors([1.2, 0.8], [1.1, 0.7])
spec(
    "pinv_rank_deficient_rtol",
    lambda b, c: LA.pinv(b @ c, rtol=0.05),
    _pinv_ref(rtol=0.05),
    [(5, 2), (2, 4)],
    gen=_FAC,
)
spec(
    "pinv_rank_deficient_atol_wide",
    lambda b, c: LA.pinv(b @ c, atol=0.1),
    _pinv_ref(atol=0.1),
    [(3, 2), (2, 6)],
    gen=_FAC,
)
spec(
    "pinv_hermitian",
    lambda a: LA.pinv(sym(a), hermitian=True),
    lambda a: np.linalg.pinv(_sym_np(a)),
    [(4, 4)],
    gens=(spd,),
)

# det at singular A: det is a polynomial, so finite differences of single entries are valid
# even where the rank changes. Rank n - 1: the gradient (the cofactor matrix) is nonzero;
# rank n - 2: it is zero, and the second derivative is not.
spec("det_singular", LA.det, np.linalg.det, [(4, 4)], gens=(with_svals([1.8, 1.2, 0.7, 0.0]),))
spec(
    "det_rank_n_minus_2",
    LA.det,
    np.linalg.det,
    [(2, 4, 4)],
    gens=(with_svals([1.8, 1.2, 0.0, 0.0]),),
)

# ---------------------------------------------------------------- pinv (full rank)

spec("pinv_tall", LA.pinv, np.linalg.pinv, [(5, 3)], gens=(rect,))
spec("pinv_wide", LA.pinv, np.linalg.pinv, [(3, 5)], gens=(rect,))
spec("pinv_batch", LA.pinv, np.linalg.pinv, [(2, 4, 3)], gens=(rect,))
spec("pinv_square", LA.pinv, np.linalg.pinv, [(3, 3)], gens=(_WC,))
