"""The op specs: one row per tested form of every public op.

Each spec has a callable on vkgrad tensors, an independent float64 NumPy reference (written
here, never vkgrad's own kernels), input shapes, how to draw inputs, and tolerance overrides.
``tests/helpers.py`` runs every spec over every backend x dtype (forward, backward, double
backward); ``tests/test_ops.py`` parametrizes it.

Defaults: inputs uniform in [-2, 2], tolerances from ``helpers.DEFAULT_TOL``. Inputs are drawn
away from non-smooth points (relu/abs at 0, clamp bounds, max ties, maximum/minimum ties) by
at least 0.05, so that finite differences (eps 1e-6) and f16 rounding (~1e-3) never cross one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

import vkgrad
import vkgrad.functional as VF

# ---------------------------------------------------------------- input generators


def U(lo: float = -2.0, hi: float = 2.0) -> Callable:
    """Uniform in [lo, hi]."""
    return lambda rng, shape: rng.uniform(lo, hi, shape)


def away(lo: float, hi: float, points=(0.0,), margin: float = 0.1) -> Callable:
    """Uniform in [lo, hi], at least ``margin`` from each of ``points`` (non-smooth points)."""

    def gen(rng, shape):
        x = rng.uniform(lo, hi, shape)
        for _ in range(1000):
            bad = np.zeros(np.shape(x), bool)
            for p in points:
                bad |= np.abs(x - p) < margin
            if not bad.any():
                return x
            x = np.where(bad, rng.uniform(lo, hi, np.shape(x)), x)
        raise AssertionError("could not draw values away from the non-smooth points")

    return gen


def distinct(step: float = 0.125) -> Callable:
    """Distinct values on a grid (exact in f16): no ties for max, even after rounding."""

    def gen(rng, shape):
        n = int(np.prod(shape))
        return ((rng.permutation(n) - n // 2) * step).reshape(shape)

    return gen


def off_grid_pair(rng, shapes):
    """Two inputs that never tie (maximum/minimum): a on multiples of 0.5, b offset by 0.25."""
    a = rng.integers(-4, 5, shapes[0]) * 0.5
    b = rng.integers(-4, 5, shapes[1]) * 0.5 + 0.25
    return [a.astype(np.float64), b.astype(np.float64)]


def probs(rng, shape):
    """Rows of positive values summing to 1 (cross_entropy probability targets)."""
    e = rng.uniform(0.1, 1.0, shape)
    return e / e.sum(axis=-1, keepdims=True)


# ---------------------------------------------------------------- the spec


@dataclass(frozen=True)
class Spec:
    name: str
    fn: Callable  # (*tensors, **aux_tensors) -> tensor
    ref: Callable  # (*float64 arrays, **aux_arrays) -> float64 array
    shapes: tuple  # one shape per differentiable input
    gens: tuple = ()  # one generator per input; default U(-2, 2)
    gen: Callable | None = None  # (rng, shapes) -> arrays, when inputs depend on each other
    aux: Callable | None = None  # rng -> {name: int32/bool array}: non-differentiable inputs
    # {(kind, dtype short name): (rtol, atol)}; kinds: fwd, bwd, bwd2, fd, fd2
    tol: dict = field(default_factory=dict)
    # False for ops without a gradient (sign, round, argmax, all): the backward test then
    # checks that the output does not require grad.
    grad: bool = True
    # False where the backward is not itself differentiable; say why in a comment. The
    # double-backward test is then not generated for the spec.
    double: bool = True

    def draw(self, rng) -> list:
        if self.gen is not None:
            return [np.asarray(a, np.float64) for a in self.gen(rng, self.shapes)]
        gens = self.gens or (U(),) * len(self.shapes)
        return [np.asarray(g(rng, s), np.float64) for g, s in zip(gens, self.shapes)]


SPECS: list[Spec] = []


def spec(name, fn, ref, shapes, **kw) -> None:
    SPECS.append(Spec(name, fn, ref, tuple(tuple(s) for s in shapes), **kw))


_erf = np.vectorize(math.erf, otypes=[np.float64])


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _log_softmax(x, axis):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def _reduce(losses, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction](losses)


# ---------------------------------------------------------------- arithmetic, broadcasting

spec("add", lambda a, b: a + b, np.add, [(7,), (7,)])
spec("add_257", lambda a, b: a + b, np.add, [(257,), (257,)])  # not a workgroup multiple
spec("add_bcast", lambda a, b: a + b, np.add, [(3, 1, 5), (4, 5)])
spec("add_scalar_right", lambda a: a + 1.5, lambda a: a + 1.5, [(2, 3)])
spec("add_scalar_left", lambda a: 1.5 + a, lambda a: 1.5 + a, [(1,)])
spec(
    "add_alpha",
    lambda a, b: vkgrad.functional.add(a, b, alpha=2),
    lambda a, b: a + 2 * b,
    [(4,), (4,)],
)
spec("sub", lambda a, b: a - b, np.subtract, [(33,), (33,)])
spec("sub_bcast", lambda a, b: a - b, np.subtract, [(2, 3, 4), (3, 1)])
spec("sub_scalar_right", lambda a: a - 0.5, lambda a: a - 0.5, [(5,)])
spec("sub_scalar_left", lambda a: 2.5 - a, lambda a: 2.5 - a, [(2, 3)])
spec("mul", lambda a, b: a * b, np.multiply, [(7,), (7,)])
spec("mul_bcast", lambda a, b: a * b, np.multiply, [(5, 1), (1, 7)])
spec("mul_scalar_right", lambda a: a * -3.0, lambda a: a * -3.0, [(33,)])
spec("mul_scalar_left", lambda a: 3 * a, lambda a: 3 * a, [(2, 2)])
_den = away(-2.0, 2.0, (0.0,), 0.5)  # keep denominators away from 0
spec("div", lambda a, b: a / b, np.divide, [(7,), (7,)], gens=(U(), _den))
spec("div_bcast", lambda a, b: a / b, np.divide, [(2, 3), (3,)], gens=(U(), _den))
spec("div_scalar_right", lambda a: a / 4.0, lambda a: a / 4.0, [(6,)])
spec("div_scalar_left", lambda a: 1.5 / a, lambda a: 1.5 / a, [(2, 4)], gens=(_den,))
spec("neg", lambda a: -a, np.negative, [(257,)])
spec("pow_tensor", lambda a, b: a**b, np.power, [(7,), (7,)], gens=(U(0.5, 2.0), U(-1.5, 1.5)))
spec(
    "pow_tensor_bcast",
    lambda a, b: a.pow(b),
    np.power,
    [(2, 3), (1,)],
    gens=(U(0.5, 2.0), U(-1.5, 1.5)),
)
# An integer-valued exponent is defined for negative bases (as in PyTorch).
spec("pow_scalar_int", lambda a: a**3, lambda a: a**3, [(33,)])
spec("pow_scalar_square", lambda a: a**2, lambda a: a**2, [(7,)])
spec("pow_scalar_frac", lambda a: a**0.5, lambda a: a**0.5, [(7,)], gens=(U(0.3, 3.0),))
spec("pow_scalar_neg", lambda a: a**-2.0, lambda a: a**-2.0, [(7,)], gens=(U(0.5, 2.0),))
spec("pow_scalar_base", lambda a: 2.0**a, lambda a: 2.0**a, [(7,)])

# ---------------------------------------------------------------- elementwise functions

spec("exp", vkgrad.exp, np.exp, [(33,)])
spec("log", vkgrad.log, np.log, [(33,)], gens=(U(0.3, 3.0),))
spec("sqrt", vkgrad.sqrt, np.sqrt, [(7,)], gens=(U(0.3, 3.0),))
spec("abs", vkgrad.abs, np.abs, [(33,)], gens=(away(-2, 2),))
spec("relu", vkgrad.relu, lambda a: np.maximum(a, 0.0), [(257,)], gens=(away(-2, 2),))
spec("sigmoid", vkgrad.sigmoid, _sigmoid, [(33,)], gens=(U(-4, 4),))
spec("tanh", vkgrad.tanh, np.tanh, [(33,)], gens=(U(-3, 3),))
spec("gelu", VF.gelu, lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2))), [(33,)], gens=(U(-3, 3),))
spec(
    "gelu_tanh",
    lambda x: VF.gelu(x, approximate="tanh"),
    lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))),
    [(33,)],
    gens=(U(-3, 3),),
)
spec("silu", VF.silu, lambda x: x * _sigmoid(x), [(33,)], gens=(U(-4, 4),))
spec(
    "clamp",
    lambda a: a.clamp(-0.5, 0.8),
    lambda a: np.clip(a, -0.5, 0.8),
    [(33,)],
    gens=(away(-2, 2, (-0.5, 0.8)),),
)
spec(
    "clamp_min",
    lambda a: vkgrad.clamp(a, min=0.25),
    lambda a: np.maximum(a, 0.25),
    [(7,)],
    gens=(away(-2, 2, (0.25,)),),
)
spec(
    "clamp_max",
    lambda a: vkgrad.clamp(a, max=-0.25),
    lambda a: np.minimum(a, -0.25),
    [(7,)],
    gens=(away(-2, 2, (-0.25,)),),
)
spec("maximum", vkgrad.maximum, np.maximum, [(7,), (7,)], gen=off_grid_pair)
spec("maximum_bcast", vkgrad.maximum, np.maximum, [(3, 4), (4,)], gen=off_grid_pair)
spec("minimum", vkgrad.minimum, np.minimum, [(33,), (33,)], gen=off_grid_pair)
spec("minimum_bcast", vkgrad.minimum, np.minimum, [(2, 1), (1, 3)], gen=off_grid_pair)


def _cond(shape):
    return lambda rng: {"c": rng.random(shape) < 0.5}


spec(
    "where",
    lambda a, b, c: vkgrad.where(c, a, b),
    lambda a, b, c: np.where(c, a, b),
    [(7,), (7,)],
    aux=_cond((7,)),
)
spec(
    "where_bcast",
    lambda a, b, c: vkgrad.where(c, a, b),
    lambda a, b, c: np.where(c, a, b),
    [(3, 1), (4,)],
    aux=_cond((3, 4)),
)
spec(
    "where_scalar",
    lambda a, c: vkgrad.where(c, a, 0.5),
    lambda a, c: np.where(c, a, 0.5),
    [(2, 5)],
    aux=_cond((2, 5)),
)

# ---------------------------------------------------------------- matmul

spec("matmul_2d", lambda a, b: a @ b, np.matmul, [(3, 4), (4, 5)])
spec("matmul_odd", lambda a, b: a @ b, np.matmul, [(7, 33), (33, 5)])  # not multiples of 16
spec("matmul_batched", lambda a, b: a @ b, np.matmul, [(2, 3, 4), (2, 4, 5)])
spec("matmul_batch_bcast", vkgrad.matmul, np.matmul, [(2, 1, 3, 4), (3, 4, 2)])
spec("matmul_batch_one", vkgrad.matmul, np.matmul, [(3, 4), (2, 4, 5)])
spec("matmul_vec_mat", vkgrad.matmul, np.matmul, [(4,), (4, 5)])
spec("matmul_mat_vec", vkgrad.matmul, np.matmul, [(3, 4), (4,)])
spec("matmul_dot", vkgrad.matmul, np.matmul, [(7,), (7,)])
spec("matmul_batched_vec", vkgrad.matmul, np.matmul, [(2, 3, 4), (4,)])

# ---------------------------------------------------------------- reductions

spec("sum_all", lambda a: a.sum(), np.sum, [(3, 4)])
spec("sum_all_257", lambda a: vkgrad.sum(a), np.sum, [(257,)])
spec("sum_dim0", lambda a: a.sum(0), lambda a: a.sum(0), [(3, 4)])
spec(
    "sum_dims_keepdim",
    lambda a: a.sum((0, 2), keepdim=True),
    lambda a: a.sum((0, 2), keepdims=True),
    [(2, 3, 4)],
)
spec("sum_neg_dim", lambda a: a.sum(-1), lambda a: a.sum(-1), [(33, 7)])
spec("mean_all", lambda a: a.mean(), np.mean, [(7, 3)])
spec("mean_dim", lambda a: a.mean(1), lambda a: a.mean(1), [(2, 3, 4)])
spec(
    "mean_keepdim",
    lambda a: vkgrad.mean(a, dim=(0, 1), keepdim=True),
    lambda a: a.mean((0, 1), keepdims=True),
    [(3, 2, 5)],
)
spec("max_all", lambda a: a.max(), np.max, [(257,)], gens=(distinct(),))
spec("max_dim", lambda a: a.max(1).values, lambda a: a.max(1), [(3, 5, 2)], gens=(distinct(),))
spec(
    "max_dim_keepdim",
    lambda a: vkgrad.max(a, dim=0, keepdim=True).values,
    lambda a: a.max(0, keepdims=True),
    [(4, 3)],
    gens=(distinct(),),
)

# ---------------------------------------------------------------- shapes and views

spec("reshape", lambda a: a.reshape(2, 6), lambda a: a.reshape(2, 6), [(3, 4)])
spec("view_infer", lambda a: a.view(6, -1), lambda a: a.reshape(6, -1), [(2, 3, 4)])
spec("transpose", lambda a: a.transpose(0, 2), lambda a: a.transpose(2, 1, 0), [(2, 3, 4)])
spec("permute", lambda a: a.permute(2, 0, 1), lambda a: a.transpose(2, 0, 1), [(2, 3, 4)])
spec("T_2d", lambda a: a.T, lambda a: a.T, [(3, 5)])
spec("T_3d", lambda a: a.T, lambda a: a.T, [(2, 3, 4)])
spec("expand", lambda a: a.expand(2, 3, 4), lambda a: np.broadcast_to(a, (2, 3, 4)), [(3, 1)])
spec("expand_minus1", lambda a: a.expand(-1, 5), lambda a: np.broadcast_to(a, (7, 5)), [(7, 1)])
spec("unsqueeze", lambda a: a.unsqueeze(1), lambda a: a[:, None], [(3, 4)])
spec("unsqueeze_neg", lambda a: vkgrad.unsqueeze(a, -1), lambda a: a[..., None], [(3, 4)])
spec("squeeze_all", lambda a: a.squeeze(), np.squeeze, [(1, 3, 1, 4)])
spec("squeeze_dim", lambda a: vkgrad.squeeze(a, 2), lambda a: a.squeeze(2), [(1, 3, 1, 4)])

# ---------------------------------------------------------------- softmax family

spec("softmax_last", lambda a: a.softmax(-1), lambda a: np.exp(_log_softmax(a, -1)), [(3, 7)])
spec(
    "softmax_dim0", lambda a: vkgrad.softmax(a, 0), lambda a: np.exp(_log_softmax(a, 0)), [(33, 3)]
)
spec(
    "softmax_dim1_3d",
    lambda a: vkgrad.softmax(a, dim=1),
    lambda a: np.exp(_log_softmax(a, 1)),
    [(2, 3, 4)],
)
spec("log_softmax_last", lambda a: a.log_softmax(-1), lambda a: _log_softmax(a, -1), [(3, 7)])
spec("log_softmax_dim0", lambda a: vkgrad.log_softmax(a, 0), lambda a: _log_softmax(a, 0), [(5, 3)])
spec(
    "log_softmax_dim1_3d",
    lambda a: vkgrad.log_softmax(a, dim=1),
    lambda a: _log_softmax(a, 1),
    [(2, 3, 4)],
)

# ---------------------------------------------------------------- losses


def _ce_index_ref(reduction):
    def ref(x, t):
        return _reduce(-_log_softmax(x, -1)[np.arange(x.shape[0]), t], reduction)

    return ref


def _targets(n, c):
    return lambda rng: {"t": rng.integers(0, c, n).astype(np.int32)}


for _red in ("mean", "sum", "none"):
    spec(
        f"cross_entropy_index_{_red}",
        lambda x, t, _r=_red: VF.cross_entropy(x, t, reduction=_r),
        _ce_index_ref(_red),
        [(6, 5)],
        gens=(U(-3, 3),),
        aux=_targets(6, 5),
    )
    spec(
        f"cross_entropy_prob_{_red}",
        lambda x, p, _r=_red: VF.cross_entropy(x, p, reduction=_r),
        lambda x, p, _r=_red: _reduce(-(p * _log_softmax(x, -1)).sum(-1), _r),
        [(4, 7), (4, 7)],
        gens=(U(-3, 3), probs),
    )
    spec(
        f"mse_loss_{_red}",
        lambda a, b, _r=_red: VF.mse_loss(a, b, reduction=_r),
        lambda a, b, _r=_red: _reduce((a - b) ** 2, _r),
        [(3, 5), (3, 5)],
    )
spec(
    "cross_entropy_index_one_row",
    lambda x, t: VF.cross_entropy(x, t),
    _ce_index_ref("mean"),
    [(1, 7)],
    aux=_targets(1, 7),
)

# ---------------------------------------------------------------- basic indexing

for _name, _idx in {
    "int": (1,),
    "neg_int": (-1,),
    "slice_step": (slice(1, 6, 2),),
    "neg_slice": (slice(-4, -1),),
    "step3": (slice(None, None, 3),),
    "none": (None, slice(1, None)),
    "ellipsis": (Ellipsis, 0),
    "mixed": (slice(None), None, slice(None, None, 2)),
    "int_ellipsis_step": (1, Ellipsis, slice(None, None, 2)),
    "two_ints": (-2, 3),
}.items():
    _shape = (7, 5) if _name not in ("ellipsis", "int_ellipsis_step") else (3, 4, 5)
    spec(f"getitem_{_name}", lambda a, _i=_idx: a[_i], lambda a, _i=_idx: a[_i], [_shape])


# The op families' specs, one module each (they append to SPECS through `spec`).
import specs_conv  # noqa: E402,F401
import specs_elementwise  # noqa: E402,F401
import specs_indexing  # noqa: E402,F401
import specs_linalg  # noqa: E402,F401
import specs_loss  # noqa: E402,F401
import specs_norm  # noqa: E402,F401
import specs_random  # noqa: E402,F401
import specs_reduction  # noqa: E402,F401
import specs_shape  # noqa: E402,F401

FAMILY_SPECS = (
    specs_elementwise,
    specs_reduction,
    specs_shape,
    specs_indexing,
    specs_linalg,
    specs_conv,
    specs_norm,
    specs_loss,
    specs_random,
)
