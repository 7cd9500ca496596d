"""Products and linear algebra: mm/bmm/mv/dot/outer/einsum, cross,
cholesky/solve/inv/det/logdet/pinv/svd/svdvals.

The products compose the core ``matmul`` row (with permute/reshape/sum around it). The
factorisations are rows of the ``smallmat`` kind: batches of small square matrices, one
matrix per workgroup on Vulkan (Gaussian elimination with partial pivoting, Cholesky,
triangular substitution; see ``shaders/smallmat.glsl``). Their backward rules are the
standard matrix-calculus identities written with these same rows, so double backward works.

The SVD-based rows (svd, pinv, and the cofactor matrix that is det's gradient) are of the
``svd`` kind: a one-sided Jacobi SVD, one matrix per workgroup (``shaders/svd.glsl``).

The public ``torch.linalg``-style functions are exported as ``vkgrad.linalg``.
"""

from __future__ import annotations

from collections import namedtuple
from typing import TYPE_CHECKING

import numpy as np

from .. import autocasting, autograd
from .. import functional as F
from ..autograd import apply
from ..ops import row
from ..shapes import broadcast_shapes, numel

if TYPE_CHECKING:
    from ..tensor import Tensor

# Public names: ``vkgrad.<name>`` and ``vkgrad.functional.<name>``.
__all__: list[str] = [
    "mm",
    "bmm",
    "mv",
    "dot",
    "outer",
    "ger",
    "einsum",
    "cross",
    "det",
    "logdet",
    "slogdet",
    "inverse",
]
# Names exported by ``vkgrad.nn.functional``.
NN_FUNCTIONAL: list[str] = []
# The core functions of the family, public as well.
__all__ += ["matmul"]
# Exported by ``vkgrad.functional`` only: helpers other families and layers use.
FUNCTIONAL: list[str] = []


def _const(arr: np.ndarray, like):
    """A constant tensor on ``like``'s device and dtype (masks, identity, permutations)."""
    return autograd.tensor(arr, dtype=like.dtype, device=like.device)


def _check_tensors(op: str, *xs) -> None:
    T = autograd.Tensor
    for x in xs:
        if not isinstance(x, T):
            raise TypeError(f"{op}: expected tensors, got {type(x).__name__}")


def _same_dtype(op: str, a, b) -> None:
    if a.dtype is not b.dtype:
        raise RuntimeError(
            f"{op}: expected both inputs to have the same dtype, got {a.dtype} and {b.dtype}"
        )


def _float_input(op: str, x) -> None:
    if not x.dtype.is_floating:
        raise TypeError(f"{op}: expected a floating point tensor, got {x.dtype}")


# ---------------------------------------------------------------- matmul


def _matmul_shape(in_shapes, attrs):
    """Batched ``(B, M, K) @ (B, K, N)``, either side transposed (ta, tb), a batch of 1 reused."""
    a, b = in_shapes
    if len(a) != 3 or len(b) != 3:
        raise ValueError(f"matmul: expected 3-D inputs, got {tuple(a)} and {tuple(b)}")
    m, k = (a[2], a[1]) if attrs["ta"] else (a[1], a[2])
    k2, n = (b[2], b[1]) if attrs["tb"] else (b[1], b[2])
    if k != k2:
        raise ValueError(f"matmul: shapes {tuple(a)} and {tuple(b)} do not align ({k} != {k2})")
    if a[0] != b[0] and 1 not in (a[0], b[0]):
        raise ValueError(f"matmul: batch sizes {a[0]} and {b[0]} do not broadcast")
    return (max(a[0], b[0]), m, n)


def _matmul(ctx, g):
    a, b = ctx.inputs
    ta, tb = ctx.attrs["ta"], ctx.attrs["tb"]
    # C = op(A) op(B), so d op(A) = G op(B)^T and d op(B) = op(A)^T G; each gradient is laid
    # out as its operand is stored (transposed back when ta / tb).
    ga = gb = None
    if ctx.needs_input_grad[0]:
        if ta:
            ga = F.call("matmul", b, g, ta=tb, tb=1)
        else:
            ga = F.call("matmul", g, b, ta=0, tb=1 - tb)
        ga = F.sum_to(ga, a.shape)
    if ctx.needs_input_grad[1]:
        if tb:
            gb = F.call("matmul", g, a, ta=1, tb=ta)
        else:
            gb = F.call("matmul", a, g, ta=1 - ta, tb=0)
        gb = F.sum_to(gb, b.shape)
    return ga, gb


row("matmul", "matmul", 2, _matmul, attrs=("ta", "tb"), saves="i", shape=_matmul_shape)


# ---------------------------------------------------------------- products on the matmul row


@autocasting.policy
def mm(input: Tensor, mat2: Tensor) -> Tensor:
    """Matrix product of two 2-D tensors: (n, k) @ (k, m) -> (n, m).

    >>> vkgrad.mm(vkgrad.ones(2, 3), vkgrad.ones(3, 4)).shape   # (2, 4)
    """
    _check_tensors("mm", input, mat2)
    if input.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(
            f"mm: expected 2-D tensors, got shapes {tuple(input.shape)} and {tuple(mat2.shape)}"
        )
    _same_dtype("mm", input, mat2)
    (n, k), (k2, m) = input.shape, mat2.shape
    if k != k2:
        raise RuntimeError(
            f"mm: shapes {tuple(input.shape)} and {tuple(mat2.shape)} cannot be multiplied "
            f"({k} != {k2})"
        )
    out = F.call("matmul", F.reshape(input, (1, n, k)), F.reshape(mat2, (1, k, m)), ta=0, tb=0)
    return F.reshape(out, (n, m))


@autocasting.policy
def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    """Batched matrix product of 3-D tensors with equal batch: (b, n, k) @ (b, k, m).

    >>> vkgrad.bmm(vkgrad.ones(5, 2, 3), vkgrad.ones(5, 3, 4)).shape   # (5, 2, 4)
    """
    _check_tensors("bmm", input, mat2)
    if input.ndim != 3 or mat2.ndim != 3:
        raise RuntimeError(
            f"bmm: expected 3-D tensors, got shapes {tuple(input.shape)} and {tuple(mat2.shape)}"
        )
    _same_dtype("bmm", input, mat2)
    if input.shape[0] != mat2.shape[0] or input.shape[2] != mat2.shape[1]:
        raise RuntimeError(
            f"bmm: shapes {tuple(input.shape)} and {tuple(mat2.shape)} do not match: expected "
            f"(b, n, k) and (b, k, m)"
        )
    return F.call("matmul", input, mat2, ta=0, tb=0)


@autocasting.policy
def mv(input: Tensor, vec: Tensor) -> Tensor:
    """Matrix-vector product: (n, m) @ (m,) -> (n,).

    >>> vkgrad.mv(vkgrad.ones(2, 3), vkgrad.ones(3))   # tensor([3., 3.])
    """
    _check_tensors("mv", input, vec)
    if input.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(
            f"mv: expected a 2-D matrix and a 1-D vector, got shapes {tuple(input.shape)} and "
            f"{tuple(vec.shape)}"
        )
    _same_dtype("mv", input, vec)
    n, m = input.shape
    if vec.shape[0] != m:
        raise RuntimeError(
            f"mv: shapes {tuple(input.shape)} and {tuple(vec.shape)} cannot be multiplied "
            f"({m} != {vec.shape[0]})"
        )
    out = F.call("matmul", F.reshape(input, (1, n, m)), F.reshape(vec, (1, m, 1)), ta=0, tb=0)
    return F.reshape(out, (n,))


def dot(input: Tensor, other: Tensor) -> Tensor:
    """Inner product of two 1-D tensors of equal size (a 0-d result).

    >>> vkgrad.dot(vkgrad.ones(3), vkgrad.ones(3))   # tensor(3.)
    """
    _check_tensors("dot", input, other)
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(
            f"dot: expected 1-D tensors, got shapes {tuple(input.shape)} and {tuple(other.shape)}"
        )
    _same_dtype("dot", input, other)
    n = input.shape[0]
    if other.shape[0] != n:
        raise RuntimeError(
            f"dot: inconsistent tensor size, expected tensors of the same size, got {n} and "
            f"{other.shape[0]}"
        )
    out = F.call("matmul", F.reshape(input, (1, 1, n)), F.reshape(other, (1, n, 1)), ta=0, tb=0)
    return F.reshape(out, ())


def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """Outer product of two 1-D tensors: (n,), (m,) -> (n, m).

    >>> vkgrad.outer(vkgrad.ones(2), vkgrad.ones(3)).shape   # (2, 3)
    """
    _check_tensors("outer", input, vec2)
    if input.ndim != 1 or vec2.ndim != 1:
        raise RuntimeError(
            f"outer: expected 1-D tensors, got shapes {tuple(input.shape)} and {tuple(vec2.shape)}"
        )
    # An elementwise broadcast product: a matmul with K = 1 would waste its tiles.
    return F.mul(F.unsqueeze(input, 1), F.unsqueeze(vec2, 0))


def ger(input: Tensor, vec2: Tensor) -> Tensor:
    """Alias of :func:`outer`.

    >>> vkgrad.ger(vkgrad.ones(2), vkgrad.ones(3)).shape   # (2, 3)
    """
    return outer(input, vec2)


# ---------------------------------------------------------------- einsum


def _parse_term(equation: str, term: str, start: int) -> list:
    """Labels of one subscript term: letters, and "..." as the marker ``...``."""
    labels, i = [], 0
    while i < len(term):
        ch = term[i]
        if term.startswith("...", i):
            if "..." in labels:
                raise ValueError(f"einsum(): more than one ellipsis in one term of {equation!r}")
            labels.append("...")
            i += 3
            continue
        if not ch.isascii() or not ch.isalpha():
            raise ValueError(
                f"einsum(): invalid subscript {ch!r} at index {start + i} of {equation!r}; "
                f"subscripts must be letters a-z, A-Z or '...'"
            )
        labels.append(ch)
        i += 1
    return labels


def _expand_ellipsis(equation: str, labels: list, ndim: int, k: int) -> list:
    """Replace ``...`` with one label per covered dim, numbered from the right so that the
    ellipsis dims of different operands broadcast as in NumPy."""
    letters = [lb for lb in labels if lb != "..."]
    if "..." not in labels:
        if len(letters) != ndim:
            raise ValueError(
                f"einsum(): operand {k} has {ndim} dims but {len(letters)} subscripts in "
                f"{equation!r} (and no ellipsis)"
            )
        return labels
    n_ell = ndim - len(letters)
    if n_ell < 0:
        raise ValueError(
            f"einsum(): operand {k} has {ndim} dims, fewer than its {len(letters)} subscripts "
            f"in {equation!r}"
        )
    pos = labels.index("...")
    return labels[:pos] + [("...", n_ell - 1 - j) for j in range(n_ell)] + labels[pos + 1 :]


def _diagonals(x, labels: list):
    """Take the diagonal over every label repeated within one operand ("ii->i")."""
    while len(set(labels)) != len(labels):
        lb = next(lb for lb in labels if labels.count(lb) > 1)
        p = labels.index(lb)
        q = labels.index(lb, p + 1)
        n = x.shape[p]
        if x.shape[q] != n:
            raise ValueError(
                f"einsum(): subscript {lb!r} is repeated for dims of sizes {n} and {x.shape[q]}"
            )
        rest = [d for d in range(x.ndim) if d not in (p, q)]
        x = F.permute(x, rest + [p, q])
        x = F.reshape(x, tuple(x.shape[:-2]) + (n * n,))
        # The diagonal of an n x n block is every (n + 1)-th element of its flattening.
        x = F.getitem(x, (Ellipsis, slice(None, None, n + 1)))
        labels = [labels[d] for d in rest] + [lb]
    return x, labels


def _to_order(x, labels: list, order: list):
    return F.permute(x, [labels.index(lb) for lb in order]) if labels != order else x


def einsum(equation: str, *operands: Tensor) -> Tensor:
    """Einstein summation, as ``torch.einsum``.

    Repeated subscripts in one operand take diagonals, subscripts absent from the output are
    summed, and each pair of operands (left to right) reduces to one batched matmul:
    ``(batch, left, contracted) @ (batch, contracted, right)``.

    >>> vkgrad.einsum("bij,bjk->bik", vkgrad.ones(2, 3, 4), vkgrad.ones(2, 4, 5)).shape
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise TypeError(f"einsum(): the equation must be a string, got {type(equation).__name__}")
    _check_tensors("einsum", *operands)
    if not operands:
        raise ValueError("einsum(): at least one operand is needed")
    eq = equation.replace(" ", "")
    if eq.count("->") > 1:
        raise ValueError(f"einsum(): more than one '->' in {equation!r}")
    lhs, arrow, rhs = eq.partition("->")
    if "-" in lhs or ">" in lhs or "-" in rhs or ">" in rhs:
        raise ValueError(f"einsum(): malformed '->' in {equation!r}")
    terms = lhs.split(",")
    if len(terms) != len(operands):
        raise ValueError(
            f"einsum(): {equation!r} has {len(terms)} operand terms for {len(operands)} operands"
        )
    labels, start = [], 0
    for k, (term, x) in enumerate(zip(terms, operands)):
        parsed = _parse_term(equation, term, start)
        labels.append(_expand_ellipsis(equation, parsed, x.ndim, k))
        start += len(term) + 1
    ell = sorted({lb for ls in labels for lb in ls if isinstance(lb, tuple)}, key=lambda t: -t[1])
    if arrow:
        out_parsed = _parse_term(equation, rhs, len(lhs) + 2)
        out = []
        for lb in out_parsed:
            out += ell if lb == "..." else [lb]
        for lb in out:
            if out.count(lb) > 1:
                raise ValueError(f"einsum(): output subscript {lb!r} appears more than once")
            if not any(lb in ls for ls in labels):
                raise ValueError(
                    f"einsum(): output subscript {lb!r} does not appear in any input of "
                    f"{equation!r}"
                )
    else:
        counts: dict = {}
        for ls in labels:
            for lb in ls:
                if isinstance(lb, str):
                    counts[lb] = counts.get(lb, 0) + 1
        out = ell + sorted(lb for lb, c in counts.items() if c == 1)

    xs = list(operands)
    for x in xs[1:]:
        _same_dtype("einsum", xs[0], x)
    # One size per label; size-1 dims broadcast against the others.
    size: dict = {}
    for x, ls in zip(xs, labels):
        for d, lb in enumerate(ls):
            s = x.shape[d]
            if lb in size and size[lb] != s and 1 not in (size[lb], s):
                raise ValueError(
                    f"einsum(): subscript {lb if isinstance(lb, str) else '...'!r} has sizes "
                    f"{size[lb]} and {s} in {equation!r}, which do not broadcast"
                )
            if s != 1 or lb not in size:
                size[lb] = s
    # Per operand: diagonals, then sum the labels no one else needs.
    for k in range(len(xs)):
        x, ls = _diagonals(xs[k], labels[k])
        others = {lb for j, o in enumerate(labels) if j != k for lb in o}
        gone = [d for d, lb in enumerate(ls) if lb not in out and lb not in others]
        if gone:
            x = F.sum(x, gone)
            ls = [lb for d, lb in enumerate(ls) if d not in gone]
        xs[k], labels[k] = x, ls
    # Contract left to right, keeping the labels the output or a later operand needs.
    while len(xs) > 1:
        later = {lb for ls in labels[2:] for lb in ls}
        union = labels[0] + [lb for lb in labels[1] if lb not in labels[0]]
        keep = [lb for lb in union if lb in out or lb in later]
        x, ls = _contract2(xs[0], labels[0], xs[1], labels[1], keep, size)
        xs[:2], labels[:2] = [x], [ls]
    return _to_order(xs[0], labels[0], out)


def _contract2(a, la: list, b, lb: list, keep: list, size: dict):
    """sum over the labels not in ``keep`` of a * b, as one batched matmul
    ``(batch, left, contracted) @ (batch, contracted, right)``; returns (result, its labels)."""

    def full(x, ls):  # broadcast size-1 dims to the label's size
        want = tuple(size[lb] for lb in ls)
        return F.expand(x, want) if want != tuple(x.shape) else x

    def drop(x, ls, other):  # labels of one side only that are not kept: sum them first
        gone = [d for d, lb in enumerate(ls) if lb not in keep and lb not in other]
        if not gone:
            return x, ls
        return F.sum(x, gone), [lb for d, lb in enumerate(ls) if d not in gone]

    (a, la), (b, lb) = drop(full(a, la), la, lb), drop(full(b, lb), lb, la)
    batch = [x for x in la if x in lb and x in keep]
    contract = [x for x in la if x in lb and x not in keep]
    left = [x for x in la if x not in lb]
    right = [x for x in lb if x not in la]
    nb, m, k, n = (numel(size[x] for x in g) for g in (batch, left, contract, right))
    a3 = F.reshape(_to_order(a, la, batch + left + contract), (nb, m, k))
    b3 = F.reshape(_to_order(b, lb, batch + contract + right), (nb, k, n))
    res = F.call("matmul", a3, b3, ta=0, tb=0)
    got = batch + left + right
    return F.reshape(res, tuple(size[x] for x in got)), got


# ---------------------------------------------------------------- cross


def _roll_matrix(shift: int) -> np.ndarray:
    """P with (x @ P)[j] = x[(j + shift) % 3]."""
    p = np.zeros((3, 3))
    for j in range(3):
        p[(j + shift) % 3, j] = 1.0
    return p


def cross(input: Tensor, other: Tensor, dim: int | None = None) -> Tensor:
    """Cross product of 3-vectors along ``dim`` (inputs broadcast).

    ``dim=None`` takes the first dim of size 3, as ``torch.cross``; ``vkgrad.linalg.cross``
    defaults to the last dim.

    >>> vkgrad.cross(vkgrad.tensor([1., 0, 0]), vkgrad.tensor([0., 1, 0]))   # [0, 0, 1]
    """
    _check_tensors("cross", input, other)
    _same_dtype("cross", input, other)
    try:
        shape = broadcast_shapes("cross", tuple(input.shape), tuple(other.shape))
    except ValueError as e:
        raise RuntimeError(str(e)) from None
    nd = len(shape)
    if dim is None:
        dims = [d for d, s in enumerate(shape) if s == 3]
        if not dims:
            raise RuntimeError(f"cross: no dimension of size 3 in shape {shape}")
        dim = dims[0]
    if not -nd <= dim < nd:
        raise IndexError(f"cross: dim {dim} is out of range for {nd}-D inputs")
    dim %= nd
    xs = []
    for x in (input, other):
        x = F.reshape(x, (1,) * (nd - x.ndim) + tuple(x.shape))
        if x.shape[dim] != 3:
            raise RuntimeError(
                f"cross: inputs must have size 3 at dim {dim}, got shapes "
                f"{tuple(input.shape)} and {tuple(other.shape)}"
            )
        xs.append(F.transpose(x, dim, -1))
    a, b = xs
    # Rolls of the 3-axis as products with permutation matrices (exact: one 1 per column).
    p1, p2 = _const(_roll_matrix(1), a), _const(_roll_matrix(2), a)
    a1, a2, b1, b2 = (F.matmul(x, p) for x in (a, b) for p in (p1, p2))
    out = F.sub(F.mul(a1, b2), F.mul(a2, b1))
    return F.transpose(out, dim, -1)


# ---------------------------------------------------------------- small square matrices


def _smallmat_shape(nin: int, out: str):
    """Shape rule of a smallmat row: (b, n, n) [and (b, n, k)] -> out ('rhs', 'square', '2',
    '1')."""

    def shape(in_shapes, attrs):
        a = tuple(in_shapes[0])
        name = attrs.get("caller", "linalg")
        if len(a) != 3 or a[1] != a[2]:
            raise ValueError(f"{name}: expected a (batch, n, n) stack of matrices, got {a}")
        if nin == 2:
            b = tuple(in_shapes[1])
            if len(b) != 3 or b[1] != a[1]:
                raise ValueError(f"{name}: right-hand side {b} does not match matrices {a}")
            if a[0] != b[0] and 1 not in (a[0], b[0]):
                raise ValueError(f"{name}: batch sizes {a[0]} and {b[0]} do not broadcast")
            return (max(a[0], b[0]), a[1], b[2])
        return {"2": (a[0], 2), "1": (a[0],)}.get(out, a)

    return shape


def _mT(x):
    return F.transpose(x, -2, -1)


def _tri_mask(n: int, like, lower: bool, diag: bool):
    k = 0 if diag else -1
    m = np.tril(np.ones((n, n)), k) if lower else np.triu(np.ones((n, n)), -k)
    return _const(m, like)


def _solve_rule(ctx, g):
    # X = A^-1 B: dB = A^-T g, dA = -dB X^T.
    a, _ = ctx.inputs
    gb = F.call("linalg_solve", _mT(a), g)
    ga = None
    if ctx.needs_input_grad[0]:
        ga = F.neg(F.call("matmul", gb, ctx.out, ta=0, tb=1))
    return ga, gb


def _slogdet_rule(ctx, g):
    # d log|det A| = A^-T; the sign is piecewise constant (no gradient).
    (a,) = ctx.inputs
    n = a.shape[-1]
    inv_t = F.call("linalg_solve", _mT(a), _const(np.eye(n)[None], a))
    glog = F.getitem(g, (slice(None), slice(1, 2)))
    return (F.mul(inv_t, F.unsqueeze(glog, -1)),)


def _cholesky_rule(ctx, g):
    # A = L L^T. With P = tril(L^T g) and S = (P + tril(P, -1)^T) / 2 (symmetric),
    # dA = L^-T S L^-1 (symmetric, as PyTorch's).
    lo = ctx.out
    n = lo.shape[-1]
    p = F.mul(F.call("matmul", lo, g, ta=1, tb=0), _tri_mask(n, lo, True, True))
    s = F.mul(F.add(p, _mT(F.mul(p, _tri_mask(n, lo, True, False)))), 0.5)
    up = _mT(lo)
    y = F.call("solve_triangular", up, s, upper=1, unitriangular=0)
    # Y L^-1 = (L^-T Y^T)^T
    return (_mT(F.call("solve_triangular", up, _mT(y), upper=1, unitriangular=0)),)


def _solve_triangular_rule(ctx, g):
    # X = T^-1 B: dB = T^-T g; dT = -dB X^T, kept on T's triangle (the rest is never read).
    t, _ = ctx.inputs
    upper, unit = ctx.attrs["upper"], ctx.attrs["unitriangular"]
    gb = F.call("solve_triangular", _mT(t), g, upper=1 - upper, unitriangular=unit)
    gt = None
    if ctx.needs_input_grad[0]:
        gt = F.neg(F.call("matmul", gb, ctx.out, ta=0, tb=1))
        gt = F.mul(gt, _tri_mask(t.shape[-1], t, not upper, not unit))
    return gt, gb


_SOLVE = _smallmat_shape(2, "rhs")
# caller (the public name, for errors) is not in attrs: it is never pushed to a shader.
row("linalg_solve", "smallmat", 2, _solve_rule, saves="io", shape=_SOLVE)
row(
    "solve_triangular",
    "smallmat",
    2,
    _solve_triangular_rule,
    attrs=("upper", "unitriangular"),
    saves="io",
    shape=_SOLVE,
)
row("linalg_cholesky", "smallmat", 1, _cholesky_rule, saves="o", shape=_smallmat_shape(1, "sq"))
# Output (batch, 2): sign and log|det|.
row("linalg_slogdet", "smallmat", 1, _slogdet_rule, saves="i", shape=_smallmat_shape(1, "2"))


def _det_rule(ctx, g):
    # d det(A) = cof(A) = adj(A)^T: det(A) A^-T where A is invertible, and still defined (and
    # a polynomial in A) where it is not; computed from the SVD (linalg_cofactor) always, so
    # that no branch on singularity (a host sync) is needed.
    (a,) = ctx.inputs
    return (F.mul(F.call("linalg_cofactor", a), F.unsqueeze(F.unsqueeze(g, -1), -1)),)


row("linalg_det", "smallmat", 1, _det_rule, saves="i", shape=_smallmat_shape(1, "1"))


def _square(op: str, a) -> tuple:
    """(batch shape, n) of a stack of square matrices, with PyTorch's errors."""
    _check_tensors(op, a)
    if a.ndim < 2:
        raise RuntimeError(f"{op}: the input tensor A must have at least 2 dimensions")
    if a.shape[-1] != a.shape[-2]:
        raise RuntimeError(
            f"{op}: A must be batches of square matrices, but they are {a.shape[-2]} by "
            f"{a.shape[-1]} matrices"
        )
    _float_input(op, a)
    return tuple(a.shape[:-2]), a.shape[-1]


def _as3(x, n_rows: int):
    return F.reshape(x, (numel(x.shape[:-2]), n_rows, x.shape[-1]))


def _solve_general(op: str, a, b, row: str, caller: str, **attrs):
    """Batched solve with broadcasting batch dims; b is (*, n, k)."""
    batch_a, n = _square(op, a)
    _check_tensors(op, b)
    _same_dtype(op, a, b)
    if b.ndim < 2 or b.shape[-2] != n:
        raise RuntimeError(
            f"{op}: incompatible shapes of A and B for the equation AX = B "
            f"({tuple(a.shape)} and {tuple(b.shape)})"
        )
    try:
        batch = broadcast_shapes(op, batch_a, tuple(b.shape[:-2]))
    except ValueError as e:
        raise RuntimeError(str(e)) from None
    k = b.shape[-1]
    # A batch of 1 is broadcast by the kernel; any other broadcast is an expand.
    a3 = _as3(a if numel(batch_a) == 1 else F.expand(a, batch + (n, n)), n)
    b3 = _as3(b if numel(b.shape[:-2]) == 1 else F.expand(b, batch + (n, k)), n)
    x = F.call(row, a3, b3, caller=caller, **attrs)
    return F.reshape(x, batch + (n, k))


def solve(A: Tensor, B: Tensor, *, left: bool = True) -> Tensor:
    """Solve ``A X = B`` (``X A = B`` with ``left=False``) for square, invertible A.

    B is a batch of vectors (shape (*, n)) or of matrices (*, n, k); batch dims broadcast.
    Gaussian elimination with partial pivoting.

    >>> vkgrad.linalg.solve(2 * vkgrad.eye(2), vkgrad.ones(2))   # tensor([0.5, 0.5])
    """
    _, n = _square("linalg.solve", A)
    _check_tensors("linalg.solve", B)
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    if vector:
        if not left:
            raise RuntimeError("linalg.solve: vector B is only supported with left=True")
        x = _solve_general("linalg.solve", A, F.unsqueeze(B, -1), "linalg_solve", "linalg.solve")
        return F.squeeze(x, -1)
    if not left:
        return _mT(_solve_general("linalg.solve", _mT(A), _mT(B), "linalg_solve", "linalg.solve"))
    return _solve_general("linalg.solve", A, B, "linalg_solve", "linalg.solve")


def solve_triangular(
    A: Tensor, B: Tensor, *, upper: bool, left: bool = True, unitriangular: bool = False
) -> Tensor:
    """Solve ``A X = B`` (``X A = B`` with ``left=False``) for triangular A.

    Only the triangle that ``upper`` names is read (and its diagonal, unless unitriangular).

    >>> vkgrad.linalg.solve_triangular(2 * vkgrad.eye(2), vkgrad.ones(2, 1), upper=False)
    """
    op = "linalg.solve_triangular"
    _check_tensors(op, B)
    if B.ndim < 2:
        raise RuntimeError(f"{op}: B must have at least 2 dimensions, got {tuple(B.shape)}")
    if not left:
        # X A = B  <=>  A^T X^T = B^T, and A^T has the other triangle.
        x = _solve_general(
            op,
            _mT(A),
            _mT(B),
            "solve_triangular",
            op,
            upper=int(not upper),
            unitriangular=int(unitriangular),
        )
        return _mT(x)
    return _solve_general(
        op, A, B, "solve_triangular", op, upper=int(upper), unitriangular=int(unitriangular)
    )


def inv(A: Tensor) -> Tensor:
    """The inverse of square, invertible matrices (batched over leading dims).

    >>> vkgrad.linalg.inv(2 * vkgrad.eye(2))   # 0.5 * eye
    """
    batch, n = _square("linalg.inv", A)
    eye = _const(np.eye(n), A)
    x = F.call("linalg_solve", _as3(A, n), F.reshape(eye, (1, n, n)), caller="linalg.inv")
    return F.reshape(x, batch + (n, n))


def inverse(input: Tensor) -> Tensor:
    """Alias of :func:`vkgrad.linalg.inv` (``torch.inverse``).

    >>> vkgrad.inverse(2 * vkgrad.eye(2))   # 0.5 * eye
    """
    return inv(input)


SlogdetResult = namedtuple("slogdet", "sign logabsdet")


def slogdet(A: Tensor) -> SlogdetResult:
    """(sign, log|det|) of square matrices; sign is 0 and logabsdet -inf when singular.

    >>> vkgrad.linalg.slogdet(-2 * vkgrad.eye(3))   # sign -1, logabsdet 3 log 2
    """
    batch, n = _square("linalg.slogdet", A)
    r = F.call("linalg_slogdet", _as3(A, n), caller="linalg.slogdet")
    sign = F.reshape(F.getitem(r, (slice(None), 0)), batch)
    logabs = F.reshape(F.getitem(r, (slice(None), 1)), batch)
    return SlogdetResult(sign, logabs)


def det(A: Tensor) -> Tensor:
    """Determinant of square matrices (batched), from the LU factorisation.

    The gradient is the cofactor matrix ``adj(A)^T`` (``det(A) A^-T`` for invertible A),
    computed from the SVD, so it is finite and exact for singular A too: nonzero at rank
    n - 1, zero at rank n - 2 and below. Double backward works (also at singular A).

    >>> vkgrad.linalg.det(2 * vkgrad.eye(3))   # tensor(8.)
    """
    batch, n = _square("linalg.det", A)
    return F.reshape(F.call("linalg_det", _as3(A, n), caller="linalg.det"), batch)


def logdet(input: Tensor) -> Tensor:
    """log(det(A)): NaN where det < 0, -inf where det = 0 (as ``torch.logdet``).

    >>> vkgrad.logdet(2 * vkgrad.eye(3))   # tensor(2.0794)
    """
    sign, logabs = slogdet(input)
    return F.where(F.call("lt", sign, 0.0), float("nan"), logabs)


def cholesky(A: Tensor, *, upper: bool = False) -> Tensor:
    """Cholesky factor L (lower, ``A = L L^T``) of symmetric positive-definite matrices;
    ``upper=True`` gives ``U = L^T``. Only the lower triangle of A is read.

    >>> vkgrad.linalg.cholesky(4 * vkgrad.eye(2))   # 2 * eye
    """
    batch, n = _square("linalg.cholesky", A)
    lo = F.call("linalg_cholesky", _as3(A, n), caller="linalg.cholesky")
    lo = F.reshape(lo, batch + (n, n))
    return _mT(lo) if upper else lo


# ---------------------------------------------------------------- SVD, pinv, cofactor


def _svd_shape(op_out: str):
    """Shape rule of an svd-kind row: (b, m, n) with m >= n -> out ('svd', 'pinv', 'square')."""

    def shape(in_shapes, attrs):
        a = tuple(in_shapes[0])
        name = attrs.get("caller", "linalg")
        if len(a) != 3 or a[1] < a[2]:
            raise ValueError(f"{name}: expected a (batch, m, n) stack with m >= n, got {a}")
        b, m, n = a
        if op_out == "square" and m != n:
            raise ValueError(f"{name}: expected square matrices, got {a}")
        if op_out == "pinv":
            return (b, n, m)
        if op_out == "svd":
            ku = m if attrs.get("full") else n
            return (b, m * ku + n + n * n)
        return a

    return shape


def _svd_parts(packed, m: int, n: int, ku: int) -> tuple:
    """U (b, m, ku), S (b, n), Vh (b, n, n) of a linalg_svd row's packed output."""
    b = packed.shape[0]
    u = F.reshape(F.getitem(packed, (slice(None), slice(0, m * ku))), (b, m, ku))
    s = F.getitem(packed, (slice(None), slice(m * ku, m * ku + n)))
    vh = F.reshape(F.getitem(packed, (slice(None), slice(m * ku + n, None))), (b, n, n))
    return u, s, vh


def _safe_inv(x):
    """1 / x where x != 0, else 0; both branches finite, so where's gradient is too."""
    nz = F.call("ne", x, 0.0)
    return F.where(nz, F.div(1.0, F.where(nz, x, 1.0)), 0.0)


def _svd_rule(ctx, g):
    # The standard SVD derivative (real, m >= n), with J = U^T gU, K = V^T gV, E_ij = s_j^2 -
    # s_i^2 and F = 1 / E off the diagonal:
    #   dA = U [(F o (J - J^T)) S + S (F o (K - K^T)) + diag(gS)] V^T
    #        + (I - U U^T) gU S^-1 V^T            (m > n only; zero for square A).
    # Not defined for repeated singular values (F) nor, when m > n, for zero ones (S^-1), as in
    # PyTorch. Where E or s is exactly 0 the factor is taken as 0 instead of inf, so that
    # gradients through S alone (gU = gV = 0, as svdvals) stay exact: U diag(gS) V^T.
    # Gradients through the columns that full_matrices adds to U are ignored, as PyTorch's
    # (any orthonormal completion is valid, they carry no information about A).
    (a,) = ctx.inputs
    m, n = a.shape[-2:]
    ku = m if ctx.attrs.get("full") else n
    u, s, vh = _svd_parts(ctx.out, m, n, ku)
    gu, gs, gvh = _svd_parts(g, m, n, ku)
    if ku > n:
        u = F.getitem(u, (Ellipsis, slice(0, n)))
        gu = F.getitem(gu, (Ellipsis, slice(0, n)))
    j = F.call("matmul", u, gu, ta=1, tb=0)
    k = F.call("matmul", vh, gvh, ta=0, tb=1)
    s2 = F.mul(s, s)
    f = _safe_inv(F.sub(F.unsqueeze(s2, -2), F.unsqueeze(s2, -1)))
    row_s, col_s = F.unsqueeze(s, -2), F.unsqueeze(s, -1)
    inner = F.add(
        F.mul(F.mul(f, F.sub(j, _mT(j))), row_s),
        F.mul(col_s, F.mul(f, F.sub(k, _mT(k)))),
    )
    inner = F.add(inner, F.mul(F.unsqueeze(gs, -1), _const(np.eye(n), a)))
    ga = F.matmul(F.matmul(u, inner), vh)
    if m > n:
        resid = F.sub(gu, F.matmul(u, j))
        ga = F.add(ga, F.matmul(resid, F.mul(F.unsqueeze(_safe_inv(s), -1), vh)))
    return (ga,)


def _pinv_rule(ctx, g):
    # Golub & Pereyra's derivative of P = pinv(A) at constant rank:
    #   dP = -P dA P + P P^T dA^T (I - A P) + (I - P A) dA^T P^T P,
    # hence, with G = dL/dP,
    #   dL/dA = -P^T G P^T + (I - A P) G^T P P^T + P^T P G^T (I - P A).
    # A P and P A are the projections onto the kept left/right singular spaces, also when
    # atol/rtol cut nonzero singular values: the result is then the gradient at constant rank
    # (the dependence of the cut-off part is ignored, as PyTorch's pinv backward does).
    (a,) = ctx.inputs
    p = ctx.out
    pt, gt = _mT(p), _mT(g)
    t1 = F.neg(F.matmul(F.matmul(pt, g), pt))
    x = F.matmul(gt, F.matmul(p, pt))
    t2 = F.sub(x, F.matmul(a, F.matmul(p, x)))
    y = F.matmul(F.matmul(pt, p), gt)
    t3 = F.sub(y, F.matmul(F.matmul(y, p), a))
    return (F.add(F.add(t1, t2), t3),)


def _pairwise_products(s):
    """c[..., i, j] = prod over k not in {i, j} of s[..., k] for i != j, 0 on the diagonal."""
    n = s.shape[-1]
    eye = np.eye(n)
    drop = np.maximum(eye[:, None, :], eye[None, :, :])  # [i, j, k]: k is i or j
    keep = _const(1.0 - drop, s)
    t = F.add(F.mul(F.unsqueeze(F.unsqueeze(s, -2), -2), keep), _const(drop, s))
    return F.mul(F.prod(t, -1), _const(1.0 - eye, s))


def _cofactor_rule(ctx, g):
    # cof(A) = sigma U diag(c) V^T (sigma = det(U) det(V), c_i = prod_{j != i} s_j). For fixed
    # U, V, A + dA = U (S + B) V^T with B = U^T dA V, so d cof = sigma U dadj(S; B)^T V^T,
    # where for diagonal S: dadj_ii = sum_{k != i} B_kk c_ik and dadj_ij = -B_ij c_ij
    # (c_ij = prod_{k != i, j} s_k). With H = V^T G^T U: dL/dB = M, M_kk = sum_i c_ki H_ii,
    # M_ij = -H_ij c_ij, and dL/dA = sigma U M V^T. Only products of singular values appear:
    # defined at singular A and at repeated singular values (cof is a polynomial in A).
    (a,) = ctx.inputs
    n = a.shape[-1]
    u, s, vh = _svd_parts(F.call("linalg_svd", a, full=0, caller="linalg.det"), n, n, n)
    sign = F.getitem(F.call("linalg_slogdet", F.matmul(u, vh)), (slice(None), slice(0, 1)))
    h = F.matmul(F.matmul(vh, _mT(g)), u)
    c = _pairwise_products(s)
    eye = _const(np.eye(n), a)
    hdiag = F.sum(F.mul(h, eye), -1, keepdim=True)
    m_ = F.sub(F.mul(F.matmul(c, hdiag), eye), F.mul(h, c))
    ga = F.matmul(F.matmul(u, m_), vh)
    return (F.mul(ga, F.unsqueeze(sign, -1)),)


row("linalg_svd", "svd", 1, _svd_rule, attrs=("full",), saves="io", shape=_svd_shape("svd"))
row(
    "linalg_pinv",
    "svd",
    1,
    _pinv_rule,
    attrs=("atol", "rtol"),
    saves="io",
    shape=_svd_shape("pinv"),
)
row("linalg_cofactor", "svd", 1, _cofactor_rule, saves="i", shape=_svd_shape("square"))


def _matrices(op: str, A) -> tuple:
    """(batch shape, m, n) of a stack of matrices, with PyTorch's errors."""
    _check_tensors(op, A)
    if A.ndim < 2:
        raise RuntimeError(f"{op}: the input tensor A must have at least 2 dimensions")
    _float_input(op, A)
    return tuple(A.shape[:-2]), A.shape[-2], A.shape[-1]


SVDResult = namedtuple("svd", "U S Vh")


def svd(A: Tensor, full_matrices: bool = True) -> SVDResult:
    """Singular value decomposition ``A = U diag(S) Vh`` (batched), S decreasing.

    U is (*, m, m) and Vh (*, n, n) with ``full_matrices`` (the default, as PyTorch), else
    (*, m, k) and (*, k, n) with k = min(m, n). On Vulkan: one-sided Jacobi, one workgroup per
    matrix, float32 arithmetic; singular vectors are unique only up to sign (and within
    repeated singular values), so they may differ from the cpu device's (LAPACK).

    Gradients through U and Vh are not defined for repeated singular values (nor, for
    non-square A, for zero ones), as in PyTorch; gradients through S alone always are.
    With ``full_matrices=True`` gradients through the columns of U (rows of Vh) beyond
    min(m, n) are ignored, as PyTorch's.

    >>> U, S, Vh = vkgrad.linalg.svd(vkgrad.ones(3, 2), full_matrices=False)   # S[0] = 6 ** .5
    """
    batch, m, n = _matrices("linalg.svd", A)
    wide = m < n
    big, small = (n, m) if wide else (m, n)
    ku = big if full_matrices else small
    a = _mT(A) if wide else A
    packed = F.call("linalg_svd", _as3(a, big), full=int(full_matrices), caller="linalg.svd")
    u, s, vh = _svd_parts(packed, big, small, ku)
    u = F.reshape(u, batch + (big, ku))
    s = F.reshape(s, batch + (small,))
    vh = F.reshape(vh, batch + (small, small))
    if wide:  # A^T = U' S V'^T, so A = V' S U'^T
        u, vh = _mT(vh), _mT(u)
    return SVDResult(u, s, vh)


def svdvals(A: Tensor) -> Tensor:
    """Singular values of A (batched), decreasing: ``svd(A, full_matrices=False).S``.

    The gradient ``U diag(gS) Vh`` is defined for every A.

    >>> vkgrad.linalg.svdvals(vkgrad.tensor([[3.0, 0.0], [0.0, -4.0]]))   # tensor([4., 3.])
    """
    _matrices("linalg.svdvals", A)
    return svd(A, full_matrices=False).S


def _tolerance(op: str, name: str, v) -> float | None:
    if v is None:
        return None
    if isinstance(v, autograd.Tensor):
        raise TypeError(
            f"{op}: {name} must be a Python float (tensor tolerances are not supported)"
        )
    return float(v)


def pinv(A: Tensor, *, atol=None, rtol=None, hermitian: bool = False) -> Tensor:
    """Moore-Penrose pseudo-inverse (batched) of any rank, from the SVD.

    Singular values at or below ``max(atol, rtol * s_max)`` are treated as zero. As in
    PyTorch: ``atol`` defaults to 0; ``rtol`` defaults to ``max(m, n) * eps`` of A's dtype,
    or to 0 when only a positive ``atol`` is given. ``hermitian=True`` (A symmetric) takes
    the same path. The gradient is Golub and Pereyra's, at constant rank: exact wherever the
    rank does not change under small perturbations (full rank, or exact rank deficiency with
    the cut-off at the zero singular values).

    >>> vkgrad.linalg.pinv(vkgrad.ones(3, 1)).shape   # (1, 3)
    """
    op = "linalg.pinv"
    batch, m, n = _matrices(op, A)
    atol_f, rtol_f = _tolerance(op, "atol", atol), _tolerance(op, "rtol", rtol)
    if rtol_f is None:
        eps = float(np.finfo(A.dtype.np).eps)
        rtol_f = 0.0 if atol_f is not None and atol_f > 0 else max(m, n) * eps
    wide = m < n
    big, small = (n, m) if wide else (m, n)
    a = _mT(A) if wide else A
    p = F.call("linalg_pinv", _as3(a, big), atol=atol_f or 0.0, rtol=rtol_f, caller=op)
    p = F.reshape(p, batch + (small, big))
    return _mT(p) if wide else p


def vecdot(x: Tensor, y: Tensor, *, dim: int = -1) -> Tensor:
    """Dot products of (broadcast) vectors along ``dim``.

    >>> vkgrad.linalg.vecdot(vkgrad.ones(2, 3), vkgrad.ones(3))   # tensor([3., 3.])
    """
    _check_tensors("linalg.vecdot", x, y)
    return F.sum(F.mul(x, y), dim)


def linalg_cross(input: Tensor, other: Tensor, *, dim: int = -1) -> Tensor:
    """Cross product of 3-vectors along ``dim`` (default: the last), inputs broadcast.

    >>> vkgrad.linalg.cross(vkgrad.tensor([1., 0, 0]), vkgrad.tensor([0., 1, 0]))
    """
    return cross(input, other, dim=dim)


# Tensor methods: {method name: function(self, ...)}.
TENSOR_METHODS: dict = {
    "mm": mm,
    "bmm": bmm,
    "mv": mv,
    "dot": dot,
    "outer": outer,
    "ger": ger,
    "cross": cross,
    "det": det,
    "logdet": logdet,
    "slogdet": slogdet,
    "inverse": inverse,
}


# ---------------------------------------------------------------- matmul: function


@autocasting.policy
def matmul(a, b):
    T = autograd.Tensor
    if not isinstance(a, T) or not isinstance(b, T):
        raise TypeError("matmul: expected two tensors")
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(
            f"matmul: both arguments need at least 1 dimension, got shapes {tuple(a.shape)} and "
            f"{tuple(b.shape)}"
        )
    a_vec, b_vec = a.ndim == 1, b.ndim == 1
    a2 = F.unsqueeze(a, 0) if a_vec else a
    b2 = F.unsqueeze(b, -1) if b_vec else b
    m, k = a2.shape[-2:]
    k2, n = b2.shape[-2:]
    if k != k2:
        raise RuntimeError(
            f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} do not align ({k} != {k2})"
        )
    try:
        batch = broadcast_shapes("matmul", tuple(a2.shape[:-2]), tuple(b2.shape[:-2]))
    except ValueError:
        raise ValueError(
            f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)}: batch dims "
            f"{tuple(a2.shape[:-2])} and {tuple(b2.shape[:-2])} cannot be broadcast together"
        ) from None
    nb = numel(batch)

    def as3(t, rows, cols):
        tb = tuple(t.shape[:-2])
        if numel(tb) == 1:
            return F.reshape(t, (1, rows, cols))
        if tb != batch:
            t = F.expand(t, batch + (rows, cols))
        return F.reshape(t, (nb, rows, cols))

    out = apply("matmul", as3(a2, m, k), as3(b2, k, n), ta=0, tb=0)
    shape = batch + (m, n)
    if a_vec:
        shape = shape[:-2] + (n,)
    if b_vec:
        shape = shape[:-1] if not a_vec else shape[:-1]
    return F.reshape(out, shape)
