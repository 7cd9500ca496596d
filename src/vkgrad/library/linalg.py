"""Products and linear algebra: mm/bmm/mv/dot/outer/einsum, cross,
cholesky/solve/inv/det/logdet/pinv.

The products compose the core ``matmul`` row (with permute/reshape/sum around it). The
factorisations are rows of the ``smallmat`` kind: batches of small square matrices, one
matrix per workgroup on Vulkan (Gaussian elimination with partial pivoting, Cholesky,
triangular substitution; see ``shaders/smallmat.glsl``). Their backward rules are the
standard matrix-calculus identities written with these same rows, so double backward works.

The public ``torch.linalg``-style functions are exported as ``vkgrad.linalg``.
"""

from __future__ import annotations

from collections import namedtuple
from typing import TYPE_CHECKING

import numpy as np

from ..ops import F, _row, broadcast_shapes

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


def _prod(shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def _tensor_cls():
    from ..tensor import Tensor

    return Tensor


def _const(arr: np.ndarray, like):
    """A constant tensor on ``like``'s device and dtype (masks, identity, permutations)."""
    from ..tensor import tensor

    return tensor(arr, dtype=like.dtype, device=like.device)


def _check_tensors(op: str, *xs) -> None:
    T = _tensor_cls()
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


# ---------------------------------------------------------------- products on the matmul row


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
    nb, m, k, n = (_prod(size[x] for x in g) for g in (batch, left, contract, right))
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
    """Shape rule of a smallmat row: (b, n, n) [and (b, n, k)] -> out ('rhs', 'square', '2')."""

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
        return (a[0], 2) if out == "2" else a

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
_row("linalg_solve", "smallmat", 2, _solve_rule, saves="io", shape=_SOLVE)
_row(
    "solve_triangular",
    "smallmat",
    2,
    _solve_triangular_rule,
    attrs=("upper", "unitriangular"),
    saves="io",
    shape=_SOLVE,
)
_row("linalg_cholesky", "smallmat", 1, _cholesky_rule, saves="o", shape=_smallmat_shape(1, "sq"))
# Output (batch, 2): sign and log|det|.
_row("linalg_slogdet", "smallmat", 1, _slogdet_rule, saves="i", shape=_smallmat_shape(1, "2"))


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
    return F.reshape(x, (_prod(x.shape[:-2]), n_rows, x.shape[-1]))


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
    a3 = _as3(a if _prod(batch_a) == 1 else F.expand(a, batch + (n, n)), n)
    b3 = _as3(b if _prod(b.shape[:-2]) == 1 else F.expand(b, batch + (n, k)), n)
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

    The gradient is ``det(A) A^-T``: defined for invertible A only (NaN/inf otherwise).

    >>> vkgrad.linalg.det(2 * vkgrad.eye(3))   # tensor(8.)
    """
    sign, logabs = slogdet(A)
    return F.mul(sign, F.exp(logabs))


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


def pinv(A: Tensor, *, atol=None, rtol=None, hermitian: bool = False) -> Tensor:
    """Moore-Penrose pseudo-inverse of full-rank matrices (batched), from the normal
    equations of the smaller side: ``(A^T A)^-1 A^T`` for tall A, ``A^T (A A^T)^-1`` for
    wide A. Rank-deficient inputs are not supported (their normal matrix is singular).

    >>> vkgrad.linalg.pinv(vkgrad.ones(3, 1)).shape   # (1, 3)
    """
    _check_tensors("linalg.pinv", A)
    if atol is not None or rtol is not None:
        raise NotImplementedError(
            "linalg.pinv: atol/rtol (singular-value cut-offs) are not supported; this pinv "
            "assumes a full-rank input"
        )
    if A.ndim < 2:
        raise RuntimeError(f"linalg.pinv: expected at least 2 dims, got {tuple(A.shape)}")
    _float_input("linalg.pinv", A)
    m, n = A.shape[-2:]
    at = _mT(A)
    if m >= n:
        return solve(F.matmul(at, A), at)
    return _mT(solve(F.matmul(A, at), A))


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
