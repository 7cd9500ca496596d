"""Op specs of the elementwise family (``vkgrad/library/elementwise.py``); see op_specs.py."""

from __future__ import annotations

import math

import numpy as np
from op_specs import U, away, spec

import vkgrad
import vkgrad.nn.functional as NF

# Names beyond the family's public functions (test_ops requires a spec for each of those).
WANTED: list[str] = []

_den = away(-2.0, 2.0, (0.0,), 0.5)  # denominators away from 0

# ---------------------------------------------------------------- unary math

spec("sin", vkgrad.sin, np.sin, [(33,)], gens=(U(-3, 3),))
spec("sin_method", lambda a: a.sin(), np.sin, [(2, 3)])
spec("cos", vkgrad.cos, np.cos, [(257,)], gens=(U(-3, 3),))
spec("tan", vkgrad.tan, np.tan, [(33,)], gens=(U(-1.2, 1.2),))
spec("atan", vkgrad.atan, np.arctan, [(33,)], gens=(U(-3, 3),))
spec("asin", vkgrad.asin, np.arcsin, [(33,)], gens=(U(-0.9, 0.9),))
spec("acos", lambda a: a.acos(), np.arccos, [(7,)], gens=(U(-0.9, 0.9),))
spec("sinh", vkgrad.sinh, lambda a: (np.exp(a) - np.exp(-a)) / 2, [(33,)], gens=(U(-3, 3),))
spec("cosh", vkgrad.cosh, lambda a: (np.exp(a) + np.exp(-a)) / 2, [(33,)], gens=(U(-3, 3),))
spec("log1p", vkgrad.log1p, lambda a: np.log(1 + a), [(33,)], gens=(U(-0.6, 3),))
spec("expm1", vkgrad.expm1, lambda a: np.exp(a) - 1, [(33,)], gens=(U(-3, 2),))
spec("log2", vkgrad.log2, lambda a: np.log(a) / math.log(2), [(7,)], gens=(U(0.3, 3),))
spec("log10", lambda a: a.log10(), lambda a: np.log(a) / math.log(10), [(7,)], gens=(U(0.3, 3),))
spec("rsqrt", vkgrad.rsqrt, lambda a: a**-0.5, [(33,)], gens=(U(0.3, 3),))
spec("reciprocal", vkgrad.reciprocal, lambda a: 1 / a, [(33,)], gens=(_den,))
spec("square", vkgrad.square, lambda a: a * a, [(257,)])
spec("square_method", lambda a: a.square(), lambda a: a * a, [(1,)])


def _round_half_even(x):
    f = np.floor(x)
    d = x - f
    up = (d > 0.5) | ((d == 0.5) & (np.mod(f, 2) != 0))
    return f + up


def _halves_and_more(rng, shape):
    """Exact halves (0.5, 1.5, -2.5, ...: the ties) mixed with random values."""
    x = rng.uniform(-5, 5, shape)
    ties = rng.integers(-8, 8, shape) + 0.5
    return np.where(rng.random(shape) < 0.5, ties, x)


spec("floor", vkgrad.floor, lambda a: a - np.mod(a, 1.0), [(33,)], gens=(U(-5, 5),), grad=False)
spec("ceil", lambda a: a.ceil(), lambda a: -(-a - np.mod(-a, 1.0)), [(33,)], gens=(U(-5, 5),),
     grad=False)  # fmt: skip
spec("trunc", vkgrad.trunc, lambda a: np.sign(a) * np.floor(np.abs(a)), [(7,)], gens=(U(-5, 5),),
     grad=False)  # fmt: skip
spec("round", vkgrad.round, _round_half_even, [(257,)], gens=(_halves_and_more,), grad=False)
spec(
    "round_decimals",
    lambda a: a.round(decimals=2),
    lambda a: _round_half_even(a * 100) / 100,
    [(33,)],
    gens=(U(-3, 3),),
    grad=False,
)
spec(
    "sign",
    vkgrad.sign,
    lambda a: (a > 0) * 1.0 - (a < 0) * 1.0,
    [(33,)],
    gens=(away(-2, 2),),
    grad=False,
)

# ---------------------------------------------------------------- activations


def _sigmoid(x):
    return 0.5 * (1 + np.tanh(x / 2))


spec(
    "leaky_relu",
    NF.leaky_relu,
    lambda a: np.where(a > 0, a, 0.01 * a),
    [(257,)],
    gens=(away(-2, 2),),
)
spec(
    "leaky_relu_slope",
    lambda a: vkgrad.leaky_relu(a, 0.2),
    lambda a: np.where(a > 0, a, 0.2 * a),
    [(7,)],
    gens=(away(-2, 2),),
)
spec(
    "elu",
    NF.elu,
    lambda a: np.where(a > 0, a, np.exp(np.minimum(a, 0)) - 1),
    [(33,)],
    gens=(away(-3, 3),),
)
spec(
    "elu_alpha",
    lambda a: NF.elu(a, alpha=0.5),
    lambda a: np.where(a > 0, a, 0.5 * (np.exp(np.minimum(a, 0)) - 1)),
    [(7,)],
    gens=(away(-3, 3),),
)
_SELU_A, _SELU_S = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
spec(
    "selu",
    NF.selu,
    lambda a: _SELU_S * np.where(a > 0, a, _SELU_A * (np.exp(np.minimum(a, 0)) - 1)),
    [(33,)],
    gens=(away(-3, 3),),
)
spec("softplus", NF.softplus, lambda a: np.log(1 + np.exp(a)), [(33,)], gens=(U(-5, 5),))
spec(
    "softplus_beta_threshold",
    lambda a: NF.softplus(a, beta=2.0, threshold=3.0),
    lambda a: np.where(2 * a > 3, a, np.log(1 + np.exp(2 * a)) / 2),
    [(33,)],
    # softplus jumps at beta x = threshold (x vs log(1 + e^3) / 2): stay away from x = 1.5
    gens=(away(-3, 3, (1.5,)),),
)
spec(
    "hardswish",
    NF.hardswish,
    lambda a: a * np.minimum(np.maximum(a + 3, 0), 6) / 6,
    [(33,)],
    gens=(away(-5, 5, (-3.0, 3.0)),),
)
spec(
    "hardsigmoid",
    NF.hardsigmoid,
    lambda a: np.minimum(np.maximum(a / 6 + 0.5, 0), 1),
    [(33,)],
    gens=(away(-5, 5, (-3.0, 3.0)),),
)
spec(
    "mish",
    NF.mish,
    lambda a: a * np.tanh(np.log(1 + np.exp(a))),
    [(257,)],
    gens=(U(-5, 5),),
)
spec("logsigmoid", NF.logsigmoid, lambda a: np.log(_sigmoid(a)), [(33,)], gens=(U(-5, 5),))

# ---------------------------------------------------------------- clamp with tensor bounds


def _clamp_ref(x, lo=None, hi=None):
    if lo is not None:
        x = np.where(x < lo, lo, x)
    if hi is not None:
        x = np.where(x > hi, hi, x)
    return x


def _bounds_gen(inverted: bool = False, which: str = "xlh", extra: tuple = ()):
    """x, lo, hi (those named in ``which``) with x at least 0.1 from both bounds; lo < hi, or
    lo > hi when inverted."""

    def gen(rng, shapes):
        shape_of = dict(zip(which, shapes))
        lo = rng.uniform(-1.5, -0.2, shape_of.get("l", ()))
        hi = rng.uniform(0.2, 1.5, shape_of.get("h", ()))
        if inverted:
            lo, hi = hi, lo
        x = rng.uniform(-2, 2, shapes[0])
        for _ in range(1000):
            bad = (np.abs(x - lo) < 0.1) | (np.abs(x - hi) < 0.1)
            for p in extra:
                bad |= np.abs(x - p) < 0.1
            if not bad.any():
                break
            x = np.where(bad, rng.uniform(-2, 2, np.shape(x)), x)
        return [{"x": x, "l": lo, "h": hi}[k] for k in which]

    return gen


spec(
    "clamp_tensor",
    lambda x, lo, hi: vkgrad.clamp(x, lo, hi),
    _clamp_ref,
    [(33,), (33,), (33,)],
    gen=_bounds_gen(),
)
spec(
    "clamp_tensor_bcast",
    lambda x, lo, hi: x.clamp(min=lo, max=hi),
    _clamp_ref,
    [(3, 4), (4,), (3, 1)],
    gen=_bounds_gen(),
)
# min > max: the result is max, and the gradient goes to max (as PyTorch)
spec(
    "clamp_tensor_inverted",
    lambda x, lo, hi: vkgrad.clamp(x, lo, hi),
    lambda x, lo, hi: np.broadcast_to(hi, np.broadcast_shapes(x.shape, lo.shape, hi.shape)),
    [(7,), (7,), (7,)],
    gen=_bounds_gen(inverted=True),
)
spec(
    "clamp_tensor_min_only",
    lambda x, lo: vkgrad.clamp(x, min=lo),
    lambda x, lo: _clamp_ref(x, lo=lo),
    [(2, 7), (7,)],
    gen=_bounds_gen(which="xl"),
)
spec(
    "clamp_tensor_max_only",
    lambda x, hi: vkgrad.clamp(x, max=hi),
    lambda x, hi: _clamp_ref(x, hi=hi),
    [(7,), (7,)],
    gen=_bounds_gen(which="xh"),
)
spec(
    "clamp_tensor_scalar_max",
    lambda x, lo: vkgrad.clamp(x, lo, 0.6),
    lambda x, lo: _clamp_ref(x, lo, 0.6),
    [(5, 3), (5, 1)],
    gen=_bounds_gen(which="xl", extra=(0.6,)),
)
spec(
    "clip",
    lambda a: vkgrad.clip(a, -0.5, 0.8),
    lambda a: _clamp_ref(a, -0.5, 0.8),
    [(33,)],
    gens=(away(-2, 2, (-0.5, 0.8)),),
)
spec(
    "clip_method_tensor",
    lambda x, lo, hi: x.clip(lo, hi),
    _clamp_ref,
    [(7,), (7,), (7,)],
    gen=_bounds_gen(),
)

# ---------------------------------------------------------------- lerp, addcmul, addcdiv

spec(
    "lerp",
    lambda a, b: vkgrad.lerp(a, b, 0.3),
    lambda a, b: a + 0.3 * (b - a),
    [(33,), (33,)],
)
spec(
    "lerp_high_weight",
    lambda a, b: a.lerp(b, 0.8),
    lambda a, b: a + 0.8 * (b - a),
    [(7,), (7,)],
)
spec(
    "lerp_tensor_weight",
    vkgrad.lerp,
    lambda a, b, w: a + w * (b - a),
    [(2, 3), (3,), (2, 1)],
    gens=(U(), U(), U(-0.2, 1.2)),
)
spec(
    "lerp_tensor_weight_257",
    vkgrad.lerp,
    lambda a, b, w: a + w * (b - a),
    [(257,), (257,), (257,)],
    gens=(U(), U(), U(0, 1)),
)
spec(
    "addcmul",
    lambda a, b, c: vkgrad.addcmul(a, b, c, value=0.5),
    lambda a, b, c: a + 0.5 * b * c,
    [(33,), (33,), (33,)],
)
spec(
    "addcmul_bcast",
    lambda a, b, c: a.addcmul(b, c),
    lambda a, b, c: a + b * c,
    [(2, 3), (3,), (2, 1)],
)
spec(
    "addcdiv",
    lambda a, b, c: vkgrad.addcdiv(a, b, c, value=-2),
    lambda a, b, c: a - 2 * b / c,
    [(33,), (33,), (33,)],
    gens=(U(), U(), _den),
)
spec(
    "addcdiv_bcast",
    lambda a, b, c: a.addcdiv(b, c),
    lambda a, b, c: a + b / c,
    [(1, 3), (2, 3), (2, 1)],
    gens=(U(), U(), _den),
)


# ---------------------------------------------------------------- integer division and logic


def _off_integer_ratio(rng, shapes):
    """a, b with frac(a / b) in [0.15, 0.85]: floor(a / b) is far from a jump, even after the
    inputs are rounded to f16."""
    b = rng.choice([-1.0, 1.0], shapes[1]) * rng.uniform(0.5, 2.0, shapes[1])
    q = rng.integers(-4, 4, shapes[0]) + rng.uniform(0.15, 0.85, shapes[0])
    return [q * b, b]


spec(
    "floor_divide",
    lambda a, b: a // b,
    lambda a, b: np.floor(a / b),
    [(33,), (33,)],
    gen=_off_integer_ratio,
    grad=False,
)
spec(
    "floor_divide_scalar",
    lambda a: vkgrad.floor_divide(a, 0.75),
    lambda a: np.floor(a / 0.75),
    [(7,)],
    # floor(a / 0.75) jumps at multiples of 0.75; keep a (in f16 too) away from them.
    gens=(away(-3, 3, tuple(0.75 * k for k in range(-4, 5))),),
    grad=False,
)
spec(
    "remainder",
    lambda a, b: a % b,
    lambda a, b: a - b * np.floor(a / b),
    [(33,), (33,)],
    gen=_off_integer_ratio,
)
spec(
    "remainder_scalar_left",
    lambda b: 5.5 % b,
    lambda b: 5.5 - b * np.floor(5.5 / b),
    [(7,)],
    gens=(U(0.7, 0.9),),  # 5.5 / b in (6.1, 7.9): no jump
)


def _as(dtype_of, t):
    return t.to(dtype_of.dtype)


spec(
    "logical_and",
    lambda a, b: _as(a, vkgrad.logical_and(a > 0, b)),
    lambda a, b: ((a > 0) & (b != 0)) * 1.0,
    [(33,), (33,)],
    gens=(away(-2, 2), U()),
    grad=False,
)
spec(
    "logical_or",
    lambda a, b: _as(a, a.logical_or(b < 0)),
    lambda a, b: ((a != 0) | (b < 0)) * 1.0,
    [(7,), (7,)],
    gens=(U(), away(-2, 2)),
    grad=False,
)
spec(
    "logical_xor",
    lambda a, b: _as(a, vkgrad.logical_xor(a > 0, b > 0)),
    lambda a, b: ((a > 0) != (b > 0)) * 1.0,
    [(3, 4), (4,)],
    gens=(away(-2, 2), away(-2, 2)),
    grad=False,
)
spec(
    "logical_not",
    lambda a: _as(a, vkgrad.logical_not(a > 0)),
    lambda a: (a <= 0) * 1.0,
    [(7,)],
    gens=(away(-2, 2),),
    grad=False,
)


def _ints(lo, hi):
    return lambda rng, shape: rng.integers(lo, hi, shape).astype(np.float64)


_I = _ints(-300, 300)  # exact in f16 (integers up to 2048)
spec(
    "bitwise_and",
    lambda a, b: _as(a, a.int() & b.int()),
    lambda a, b: np.bitwise_and(a.astype(np.int64), b.astype(np.int64)) * 1.0,
    [(33,), (33,)],
    gens=(_I, _I),
    grad=False,
)
spec(
    "bitwise_and_bool",
    lambda a, b: _as(a, (a > 0) & (b > 0)),
    lambda a, b: ((a > 0) & (b > 0)) * 1.0,
    [(7,), (7,)],
    gens=(away(-2, 2), away(-2, 2)),
    grad=False,
)
spec(
    "bitwise_or",
    lambda a, b: _as(a, a.int() | b.int()),
    lambda a, b: np.bitwise_or(a.astype(np.int64), b.astype(np.int64)) * 1.0,
    [(2, 5), (5,)],
    gens=(_I, _I),
    grad=False,
)
spec(
    "bitwise_xor",
    lambda a, b: _as(a, a.int() ^ b.int()),
    lambda a, b: np.bitwise_xor(a.astype(np.int64), b.astype(np.int64)) * 1.0,
    [(33,), (33,)],
    gens=(_I, _I),
    grad=False,
)
spec(
    "bitwise_not",
    lambda a: _as(a, ~a.int()),
    lambda a: -a - 1,
    [(7,)],
    gens=(_I,),
    grad=False,
)
spec(
    "bitwise_not_bool",
    lambda a: _as(a, ~(a > 0)),
    lambda a: (a <= 0) * 1.0,
    [(7,)],
    gens=(away(-2, 2),),
    grad=False,
)
spec(
    "floor_divide_int",
    lambda a, b: _as(a, a.int() // b.int()),
    lambda a, b: np.floor_divide(a, b),
    [(33,), (33,)],
    gens=(_I, lambda rng, shape: rng.choice([-7.0, -3.0, -1.0, 2.0, 5.0, 16.0], shape)),
    grad=False,
)
spec(
    "remainder_int",
    lambda a, b: _as(a, a.int() % b.int()),
    lambda a, b: a - b * np.floor(a / b),
    [(33,), (33,)],
    gens=(_I, lambda rng, shape: rng.choice([-7.0, -3.0, -1.0, 2.0, 5.0, 16.0], shape)),
    grad=False,
)

# ---------------------------------------------------------------- pow with tensor exponents

spec(
    "pow_bcast_both",
    lambda a, b: vkgrad.pow(a, b),
    lambda a, b: np.exp(b * np.log(a)),
    [(3, 1), (1, 4)],
    gens=(U(0.5, 2.0), U(-1.5, 1.5)),
)
spec(
    "pow_bcast_exponent_3d",
    lambda a, b: a**b,
    lambda a, b: np.exp(b * np.log(a)),
    [(4,), (2, 3, 4)],
    gens=(U(0.5, 2.0), U(-2, 2)),
)
spec(
    "pow_scalar_base_rpow",
    lambda b: 0.5**b,
    lambda b: np.exp(b * math.log(0.5)),
    [(33,)],
)
spec(
    "pow_scalar_base_function",
    lambda b: vkgrad.pow(3.0, b),
    lambda b: np.exp(b * math.log(3.0)),
    [(7,)],
)
