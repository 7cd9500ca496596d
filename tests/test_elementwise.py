"""Elementwise family beyond the op specs: activations at large |x|, f32 accuracy over wide
ranges (many workgroups), rounding ties, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

import vkgrad
import vkgrad.nn.functional as NF

# ---------------------------------------------------------------- activations at large |x|

_erfc = np.vectorize(math.erfc, otypes=[np.float64])
_K = math.sqrt(2 / math.pi)
_SELU_A, _SELU_S = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def _sig(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _gelu_tanh_parts(x):
    u = _K * (x + 0.044715 * x**3)
    return np.tanh(u), _K * (1 + 3 * 0.044715 * x**2)


# name: (function, float64 reference, its derivative), all written here from the definitions.
ACTIVATIONS = {
    "relu": (vkgrad.relu, lambda x: np.maximum(x, 0), lambda x: (x > 0) * 1.0),
    "sigmoid": (vkgrad.sigmoid, _sig, lambda x: _sig(x) * _sig(-x)),
    "tanh": (vkgrad.tanh, np.tanh, lambda x: 1 / np.cosh(x) ** 2),
    "silu": (NF.silu, lambda x: x * _sig(x), lambda x: _sig(x) * (1 + x * _sig(-x))),
    "gelu": (
        NF.gelu,
        lambda x: 0.5 * x * _erfc(-x / math.sqrt(2)),
        lambda x: 0.5 * _erfc(-x / math.sqrt(2)) + x * np.exp(-0.5 * x * x) / math.sqrt(2 * np.pi),
    ),
    "gelu_tanh": (
        lambda t: NF.gelu(t, approximate="tanh"),
        lambda x: 0.5 * x * (1 + _gelu_tanh_parts(x)[0]),
        lambda x: (
            0.5 * (1 + _gelu_tanh_parts(x)[0])
            + 0.5 * x * (1 - _gelu_tanh_parts(x)[0] ** 2) * _gelu_tanh_parts(x)[1]
        ),
    ),
    "leaky_relu": (
        NF.leaky_relu,
        lambda x: np.where(x > 0, x, 0.01 * x),
        lambda x: np.where(x > 0, 1.0, 0.01),
    ),
    "elu": (
        NF.elu,
        lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
        lambda x: np.where(x > 0, 1.0, np.exp(np.minimum(x, 0))),
    ),
    "selu": (
        NF.selu,
        lambda x: _SELU_S * np.where(x > 0, x, _SELU_A * np.expm1(np.minimum(x, 0))),
        lambda x: _SELU_S * np.where(x > 0, 1.0, _SELU_A * np.exp(np.minimum(x, 0))),
    ),
    # PyTorch's threshold: x itself where x > 20
    "softplus": (
        NF.softplus,
        lambda x: np.where(x > 20, x, np.logaddexp(0, x)),
        lambda x: np.where(x > 20, 1.0, _sig(x)),
    ),
    "hardswish": (
        NF.hardswish,
        lambda x: x * np.clip(x + 3, 0, 6) / 6,
        lambda x: np.where(x < -3, 0.0, np.where(x <= 3, x / 3 + 0.5, 1.0)),
    ),
    "hardsigmoid": (
        NF.hardsigmoid,
        lambda x: np.clip(x + 3, 0, 6) / 6,
        lambda x: np.where(np.abs(x) < 3, 1 / 6, 0.0),
    ),
    "mish": (
        NF.mish,
        lambda x: x * np.tanh(np.logaddexp(0, x)),
        lambda x: np.tanh(np.logaddexp(0, x)) + x * _sig(x) / np.cosh(np.logaddexp(0, x)) ** 2,
    ),
    "logsigmoid": (NF.logsigmoid, lambda x: -np.logaddexp(0, -x), lambda x: _sig(-x)),
}

LARGE_X = np.array([-80.0, -20.0, -1.5, 0.7, 20.0, 80.0])
# (rtol, atol) per element. f32: exp on a GPU may be off by (3 + 2|x|) ulp (~1e-5 at |x| = 80);
# f16: an 11-bit significand, as DEFAULT_TOL in helpers.py.
LARGE_TOL = {"f32": (2e-5, 1e-6), "f16": (1e-2, 1e-3)}


def _close(got, want, rtol, atol, what):
    got = np.asarray(got, np.float64)
    assert np.all(np.isfinite(got)), f"{what}: not finite: {got}"
    err = np.abs(got - want)
    bad = err > rtol * np.abs(want) + atol
    assert not bad.any(), f"{what}: got {got}, expected {want} (x = {LARGE_X})"


@pytest.mark.parametrize("dt", ["f32", "f16"])
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_large_inputs(name, dt, device):
    fn, ref, deriv = ACTIVATIONS[name]
    x = vkgrad.tensor(LARGE_X, dtype=dt, device=device, requires_grad=True)
    y = fn(x)
    rtol, atol = LARGE_TOL[dt]
    where = f"{name} on {device}/{dt}"
    _close(y.numpy(), ref(LARGE_X), rtol, atol, f"forward {where}")
    (g,) = vkgrad.autograd.grad(y.sum(), [x], create_graph=True)
    _close(g.numpy(), deriv(LARGE_X), rtol, atol, f"gradient {where}")
    if g.requires_grad:  # relu's, leaky_relu's, hardsigmoid's gradient is piecewise constant
        (g2,) = vkgrad.autograd.grad(g.sum(), [x], allow_unused=True)
        if g2 is not None:
            assert np.all(np.isfinite(g2.numpy())), f"second derivative {where}: {g2.numpy()}"


# ---------------------------------------------------------------- f32 accuracy, many workgroups

# (function, float64 reference, lo, hi, max relative error). The bounds are what the shaders
# reach on lavapipe with a margin of ~3x; exp-based ops carry GLSL's (3 + 2|x|)-ulp exp.
ACCURACY = {
    "sin": (vkgrad.sin, np.sin, -10, 10, 1e-6),
    "cos": (vkgrad.cos, np.cos, -10, 10, 1e-6),
    "tan": (vkgrad.tan, np.tan, -1.5, 1.5, 1e-6),
    "atan": (vkgrad.atan, np.arctan, -100, 100, 1e-6),
    "asin": (vkgrad.asin, np.arcsin, -1, 1, 1e-6),
    "acos": (vkgrad.acos, np.arccos, -1, 1, 1e-6),
    "sinh": (vkgrad.sinh, np.sinh, -89, 89, 2e-5),
    "sinh_small": (vkgrad.sinh, np.sinh, -1e-3, 1e-3, 1e-6),
    "cosh": (vkgrad.cosh, np.cosh, -89, 89, 2e-5),
    "log1p": (vkgrad.log1p, np.log1p, -0.999, 10, 1e-6),
    "log1p_small": (vkgrad.log1p, np.log1p, -1e-4, 1e-4, 1e-6),
    "expm1": (vkgrad.expm1, np.expm1, -20, 20, 5e-6),
    "expm1_small": (vkgrad.expm1, np.expm1, -1e-4, 1e-4, 1e-6),
    "log2": (vkgrad.log2, np.log2, 0.01, 100, 1e-6),
    "log10": (vkgrad.log10, np.log10, 0.01, 100, 1e-6),
    "rsqrt": (vkgrad.rsqrt, lambda a: 1 / np.sqrt(a), 0.01, 100, 1e-6),
    "reciprocal": (vkgrad.reciprocal, lambda a: 1 / a, 0.01, 100, 1e-6),
}


@pytest.mark.parametrize("name", sorted(ACCURACY))
def test_f32_accuracy(name, device):
    fn, ref, lo, hi, bound = ACCURACY[name]
    x = np.random.default_rng(len(name)).uniform(lo, hi, 100_003).astype(np.float32)
    got = fn(vkgrad.tensor(x, dtype="f32", device=device)).numpy().astype(np.float64)
    want = ref(x.astype(np.float64))
    rel = np.abs(got - want) / np.abs(want)
    worst = int(np.argmax(rel))
    assert rel[worst] <= bound, f"{name}: relative error {rel[worst]:.3g} at x = {x[worst]!r}"


# ---------------------------------------------------------------- rounding


@pytest.mark.parametrize("dt", ["f32", "f16"])
def test_round_half_to_even(dt, device):
    x = vkgrad.tensor([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49, 3.75], dtype=dt, device=device)
    assert vkgrad.round(x).tolist() == [0.0, 2.0, 2.0, -0.0, -2.0, -2.0, 0.0, 4.0]
    assert x.round().dtype is vkgrad.dtypes.get(dt)


def test_round_large_and_decimals(device):
    x = vkgrad.tensor([8388607.5, -8388606.5, 1.25, 1.35], dtype="f32", device=device)
    assert vkgrad.round(x).tolist()[:2] == [8388608.0, -8388606.0]
    np.testing.assert_allclose(vkgrad.round(x, decimals=1).numpy()[2:], [1.2, 1.4], rtol=1e-6)
    y = vkgrad.tensor([1234.0, 1250.0, -1350.0], dtype="f32", device=device)
    assert vkgrad.round(y, decimals=-2).tolist() == [1200.0, 1200.0, -1400.0]


def test_rounding_has_no_gradient(device):
    x = vkgrad.tensor([0.3, 1.7], device=device, requires_grad=True)
    for fn in (vkgrad.floor, vkgrad.ceil, vkgrad.round, vkgrad.trunc, vkgrad.sign):
        assert not fn(x).requires_grad


# ---------------------------------------------------------------- the public surface


def test_names_are_exported():
    for name in ("leaky_relu", "elu", "selu", "softplus", "hardswish", "hardsigmoid", "mish"):
        assert getattr(NF, name) is getattr(vkgrad, name)
    assert NF.logsigmoid is vkgrad.logsigmoid
    assert vkgrad.arcsin is vkgrad.asin and vkgrad.arctan is vkgrad.atan
    assert vkgrad.functional.clip is vkgrad.clip
    t = vkgrad.tensor([0.25])
    assert t.rsqrt().tolist() == [2.0] and t.reciprocal().tolist() == [4.0]


# ---------------------------------------------------------------- bad input


def test_unary_needs_a_tensor():
    with pytest.raises(TypeError, match=r"sin: expected a tensor, got float"):
        vkgrad.sin(1.0)
    with pytest.raises(TypeError, match=r"lerp: expected a tensor or a Python number, got str"):
        vkgrad.lerp(vkgrad.zeros(2), vkgrad.ones(2), "half")


def test_three_input_shapes_must_broadcast(device):
    a = vkgrad.zeros(2, 3, device=device)
    with pytest.raises(ValueError, match=r"addcmul: shapes \(2, 3\) and \(4,\)"):
        vkgrad.addcmul(a, vkgrad.ones(4, device=device), a)
    with pytest.raises(ValueError, match=r"lerp: shapes .*\(2, 3\).*\(5, 1, 4\)"):
        vkgrad.lerp(a, a, vkgrad.ones(5, 1, 4, device=device))


def test_clamp_tensor_bounds_errors(device):
    x = vkgrad.zeros(3, device=device)
    with pytest.raises(ValueError, match=r"clamp_tensor: shapes \(3,\) and \(2,\)"):
        vkgrad.clamp(x, vkgrad.zeros(2, device=device))
    with pytest.raises(ValueError, match="clamp: at least one of min and max"):
        vkgrad.clip(x)


# ---------------------------------------------------------------- clamp, lerp gradients


def test_clamp_tensor_gradients_follow_pytorch(device):
    # x at a bound: the gradient goes to x (x >= min and x <= max), not to the bound.
    x = vkgrad.tensor([-2.0, 0.0, 0.5, 2.0, 1.0], device=device, requires_grad=True)
    lo = vkgrad.tensor([-1.0, 0.0, -1.0, -1.0, 3.0], device=device, requires_grad=True)
    hi = vkgrad.tensor([1.0, 1.0, 0.5, 1.0, 2.0], device=device, requires_grad=True)
    y = vkgrad.clamp(x, lo, hi)
    assert y.tolist() == [-1.0, 0.0, 0.5, 1.0, 2.0]
    y.backward(vkgrad.tensor([1.0, 2.0, 3.0, 4.0, 5.0], device=device))
    assert x.grad.tolist() == [0.0, 2.0, 3.0, 0.0, 0.0]
    assert lo.grad.tolist() == [1.0, 0.0, 0.0, 0.0, 0.0]
    assert hi.grad.tolist() == [0.0, 0.0, 0.0, 4.0, 5.0]  # last: min > max, max wins


def test_lerp_exact_at_ends(device):
    a = vkgrad.tensor([1e-3, 3.0], dtype="f32", device=device)
    b = vkgrad.tensor([1e8, -7.0], dtype="f32", device=device)
    assert vkgrad.lerp(a, b, 1.0).tolist() == b.tolist()
    assert vkgrad.lerp(a, b, 0.0).tolist() == a.tolist()


def test_pow_tensor_exponent_grad_to_both(device):
    dev = device
    a = vkgrad.tensor([[0.5], [2.0]], device=dev, requires_grad=True)
    b = vkgrad.tensor([1.0, -1.5, 3.0], device=dev, requires_grad=True)
    y = a**b
    np.testing.assert_allclose(y.numpy(), np.array([[0.5], [2.0]]) ** [1.0, -1.5, 3.0], rtol=1e-6)
    y.sum().backward()
    an, bn = np.array([[0.5], [2.0]]), np.array([1.0, -1.5, 3.0])
    np.testing.assert_allclose(a.grad.numpy(), (bn * an ** (bn - 1)).sum(1, keepdims=True), 1e-5)
    np.testing.assert_allclose(b.grad.numpy(), (an**bn * np.log(an)).sum(0), rtol=1e-5)


# ---------------------------------------------------------------- int32 and bool tensors

I32, BOOL, F32, F16 = vkgrad.int32, vkgrad.bool, vkgrad.float32, vkgrad.float16


def _check(t, values, dtype, device):
    assert t.dtype is dtype, f"dtype {t.dtype}, expected {dtype}"
    assert t.device == vkgrad.Device.parse(device)
    assert t.tolist() == values, f"{t.tolist()} != {values}"


def test_int_bool_creation_and_printing(device):
    a = vkgrad.tensor([1, 2], device=device)
    m = vkgrad.tensor([True, False], device=device)
    _check(a, [1, 2], I32, device)
    _check(m, [True, False], BOOL, device)
    _check(vkgrad.zeros(2, dtype="int32", device=device), [0, 0], I32, device)
    _check(vkgrad.arange(3, device=device), [0, 1, 2], I32, device)
    assert repr(a).startswith("tensor([1, 2]") and "dtype=vkgrad.int32" in repr(a)
    assert repr(m).startswith("tensor([ True, False]") and "dtype=vkgrad.bool" in repr(m)


def test_casts(device):
    f = vkgrad.tensor([1.7, -2.7, 0.0], dtype="f32", device=device)
    _check(f.int(), [1, -2, 0], I32, device)  # toward zero, as PyTorch
    _check(f.long(), [1, -2, 0], I32, device)  # no int64: long() is int32
    _check(f.bool(), [True, True, False], BOOL, device)
    _check(f.to(vkgrad.int32), [1, -2, 0], I32, device)
    _check(f.int().float(), [1.0, -2.0, 0.0], F32, device)
    _check(f.bool().int(), [1, 1, 0], I32, device)
    _check(vkgrad.tensor([3, -4], device=device).to("f16"), [3.0, -4.0], F16, device)
    _check(vkgrad.tensor([0, 5], device=device).bool(), [False, True], BOOL, device)


def test_comparisons_give_bool(device):
    a = vkgrad.tensor([1, 5, 3], device=device)
    _check(a > 2, [False, True, True], BOOL, device)
    _check(a == vkgrad.tensor([1, 0, 3], device=device), [True, False, True], BOOL, device)
    _check(vkgrad.tensor([0.5, 2.5], device=device) <= 1, [True, False], BOOL, device)


def test_where_bool_condition(device):
    c = vkgrad.tensor([True, False, True], device=device)
    a, b = vkgrad.tensor([1, 2, 3], device=device), vkgrad.tensor([-1, -2, -3], device=device)
    _check(vkgrad.where(c, a, b), [1, -2, 3], I32, device)
    _check(vkgrad.where(c, a, 0), [1, 0, 3], I32, device)
    _check(vkgrad.where(c, a, 0.5), [1.0, 0.5, 3.0], F32, device)  # a float number: float32
    with pytest.raises(TypeError, match="where: condition must be a bool tensor, got"):
        vkgrad.where(a, a, b)


def test_int_arithmetic_keeps_int(device):
    a = vkgrad.tensor([7, -7, 3], device=device)
    b = vkgrad.tensor([2, 2, -2], device=device)
    _check(a + b, [9, -5, 1], I32, device)
    _check(a - b, [5, -9, 5], I32, device)
    _check(a * b, [14, -14, -6], I32, device)
    _check(a + 1, [8, -6, 4], I32, device)
    _check(2 * a, [14, -14, 6], I32, device)
    _check(-a, [-7, 7, -3], I32, device)
    _check(abs(a), [7, 7, 3], I32, device)
    _check(vkgrad.maximum(a, b), [7, 2, 3], I32, device)
    _check(a * 0.5, [3.5, -3.5, 1.5], F32, device)  # a float number: float32
    _check(a + vkgrad.tensor([0.5, 0.5, 0.5], dtype="f16", device=device), [7.5, -6.5, 3.5], F16,
           device)  # fmt: skip
    _check(a / b, [3.5, -3.5, -1.5], F32, device)  # true division gives float
    m = vkgrad.tensor([True, False, True], device=device)
    _check(m + m, [True, False, True], BOOL, device)
    _check(m + 1, [2, 1, 2], I32, device)
    _check(m * a, [7, 0, 3], I32, device)


def test_int_floor_divide_and_remainder_signs(device):
    a = vkgrad.tensor([7, -7, 7, -7, 6, 0], device=device)
    b = vkgrad.tensor([2, 2, -2, -2, 3, 5], device=device)
    _check(a // b, [3, -4, -4, 3, 2, 0], I32, device)  # toward -inf
    _check(a % b, [1, 1, -1, -1, 0, 0], I32, device)  # the divisor's sign
    _check(a // 2, [3, -4, 3, -4, 3, 0], I32, device)
    _check(-7 // b, [-4, -4, 3, 3, -3, -2], I32, device)
    _check(a % 3, [1, 2, 1, 2, 0, 0], I32, device)
    _check(a // 2.0, [3.0, -4.0, 3.0, -4.0, 3.0, 0.0], F32, device)
    f = vkgrad.tensor([7.5, -7.5, 7.5, -7.5], dtype="f32", device=device)
    g = vkgrad.tensor([2.0, 2.0, -2.0, -2.0], dtype="f32", device=device)
    _check(f // g, [3.0, -4.0, -4.0, 3.0], F32, device)
    _check(f % g, [1.5, 0.5, -0.5, -1.5], F32, device)
    big = vkgrad.tensor([16_777_215, -16_777_215], device=device)  # 2^24 - 1: still exact
    _check(big // 4, [4_194_303, -4_194_304], I32, device)
    _check(big % 4, [3, 1], I32, device)


def test_remainder_gradient(device):
    a = vkgrad.tensor([7.5, -7.5], dtype="f32", device=device, requires_grad=True)
    b = vkgrad.tensor([2.0, 2.0], dtype="f32", device=device, requires_grad=True)
    (a % b).sum().backward()
    assert a.grad.tolist() == [1.0, 1.0]
    assert b.grad.tolist() == [-3.0, 4.0]  # -floor(a / b)
    assert not (a // b).requires_grad


def test_bool_logic(device):
    m = vkgrad.tensor([True, True, False, False], device=device)
    n = vkgrad.tensor([True, False, True, False], device=device)
    _check(m & n, [True, False, False, False], BOOL, device)
    _check(m | n, [True, True, True, False], BOOL, device)
    _check(m ^ n, [False, True, True, False], BOOL, device)
    _check(~m, [False, False, True, True], BOOL, device)
    _check(m & True, [True, True, False, False], BOOL, device)
    _check(vkgrad.logical_and(m, n), [True, False, False, False], BOOL, device)
    _check(vkgrad.logical_or(m, n), [True, True, True, False], BOOL, device)
    _check(vkgrad.logical_xor(m, n), [False, True, True, False], BOOL, device)
    _check(vkgrad.logical_not(n), [False, True, False, True], BOOL, device)
    x = vkgrad.tensor([0.0, 2.5, -1.0, 0.0], device=device)
    _check(vkgrad.logical_and(x, m), [False, True, False, False], BOOL, device)
    _check(x.logical_not(), [True, False, False, True], BOOL, device)


def test_int_bitwise(device):
    a = vkgrad.tensor([6, -7, 12], device=device)
    _check(a & 3, [2, 1, 0], I32, device)
    _check(a | vkgrad.tensor([1, 2, 3], device=device), [7, -5, 15], I32, device)
    _check(a ^ 5, [3, -4, 9], I32, device)
    _check(~a, [-7, 6, -13], I32, device)
    with pytest.raises(TypeError, match=r"bitwise_and: expected integer or bool .* got .*float"):
        _ = vkgrad.tensor([1.0], device=device) & vkgrad.tensor([1], device=device)


def test_sum_of_int_and_bool_is_int32(device):
    m = vkgrad.tensor([[True, False, True], [True, True, True]], device=device)
    _check(m.sum(), 5, I32, device)
    _check(m.sum(1), [2, 3], I32, device)
    _check(vkgrad.tensor([3, -10, 4], device=device).sum(), -3, I32, device)
    _check(m.sum(dtype=vkgrad.float32), 5.0, F32, device)


def test_integer_results_do_not_require_grad(device):
    x = vkgrad.tensor([1.5, -2.5], dtype="f32", device=device, requires_grad=True)
    for t in (x.int(), x.bool(), x > 0, x.long()):
        assert not t.requires_grad and t.grad_fn is None


@pytest.mark.parametrize("cast", ["half", "float", "double", "to_f16", "to_f32"])
def test_cast_backward_casts_gradient_back(cast, device):
    if cast == "double" and device != "cpu":
        # float64 is cpu-only: on Vulkan the cast must refuse, naming the dtype.
        x = vkgrad.tensor([1.5], device=device, requires_grad=True)
        with pytest.raises(TypeError, match="float64"):
            x.double()
        return
    for src in ("f32", "f16"):
        x = vkgrad.tensor([1.5, -2.0, 0.25], dtype=src, device=device, requires_grad=True)
        y = {
            "half": lambda t: t.half(),
            "float": lambda t: t.float(),
            "double": lambda t: t.double(),
            "to_f16": lambda t: t.to(vkgrad.float16),
            "to_f32": lambda t: t.to("f32"),
        }[cast](x)
        (y * y).sum().backward()
        assert x.grad.dtype is x.dtype, f"{cast} from {src}: grad dtype {x.grad.dtype}"
        np.testing.assert_allclose(x.grad.numpy(), [3.0, -4.0, 0.5])


# Integer and bool variants of the kernels (each case runs a shader variant no float test
# reaches), against NumPy on the same values.
_I = np.array([[3, -2, 0], [7, 5, -4]], np.int32)
_J = np.array([[1, -2, 4], [-7, 5, 0]], np.int32)
_B = np.array([[True, False, True], [False, False, True]])
_C = np.array([[True, True, False], [False, True, True]])
_X = np.array([[1.5, -2.0, 0.0], [0.25, 0.0, -1.0]])
_Y = np.array([[0.0, 3.0, 0.0], [2.0, -0.5, 1.0]])
_IDX = np.array([[2, 0], [1, 1]], np.int32)

INT_BOOL_CASES = {
    "abs_bool": (lambda t: vkgrad.abs(t["b"]), lambda: _B),
    "ceil_int": (lambda t: vkgrad.ceil(t["i"]), lambda: _I),
    "ceil_bool": (lambda t: vkgrad.ceil(t["b"]), lambda: _B),
    "floor_int": (lambda t: vkgrad.floor(t["i"]), lambda: _I),
    "floor_bool": (lambda t: vkgrad.floor(t["b"]), lambda: _B),
    "round_int": (lambda t: vkgrad.round(t["i"]), lambda: _I),
    "round_bool": (lambda t: vkgrad.round(t["b"]), lambda: _B),
    "trunc_int": (lambda t: vkgrad.trunc(t["i"]), lambda: _I),
    "trunc_bool": (lambda t: vkgrad.trunc(t["b"]), lambda: _B),
    "sign_int": (lambda t: vkgrad.sign(t["i"]), lambda: np.sign(_I)),
    "square_int": (lambda t: vkgrad.square(t["i"]), lambda: _I * _I),
    "square_bool": (lambda t: vkgrad.square(t["b"]), lambda: _B),
    "ge_int": (lambda t: t["i"] >= t["j"], lambda: _I >= _J),
    "gt_int": (lambda t: t["i"] > t["j"], lambda: _I > _J),
    "le_int": (lambda t: t["i"] <= t["j"], lambda: _I <= _J),
    "lt_int": (lambda t: t["i"] < t["j"], lambda: _I < _J),
    "ne_int": (lambda t: t["i"] != t["j"], lambda: _I != _J),
    "maximum_bool": (lambda t: vkgrad.maximum(t["b"], t["c"]), lambda: _B | _C),
    "minimum_int": (lambda t: vkgrad.minimum(t["i"], t["j"]), lambda: np.minimum(_I, _J)),
    "minimum_bool": (lambda t: vkgrad.minimum(t["b"], t["c"]), lambda: _B & _C),
    "mul_bool": (lambda t: t["b"] * t["c"], lambda: _B & _C),
    "logical_not_float": (lambda t: vkgrad.logical_not(t["x"]), lambda: _X == 0),
    "logical_not_int": (lambda t: vkgrad.logical_not(t["i"]), lambda: _I == 0),
    "diagonal_int": (lambda t: vkgrad.diagonal(t["i"]), lambda: np.diagonal(_I)),
    "diagonal_bool": (lambda t: vkgrad.diagonal(t["b"]), lambda: np.diagonal(_B)),
    "flip_bool": (lambda t: vkgrad.flip(t["b"], [1]), lambda: _B[:, ::-1]),
    "slice_bool": (lambda t: t["b"][:, 1:], lambda: _B[:, 1:]),
    "gather_bool": (
        lambda t: vkgrad.gather(t["b"], 1, t["idx"]),
        lambda: np.take_along_axis(_B, _IDX, 1),
    ),
    "scatter_bool": (
        lambda t: vkgrad.scatter(t["b"], 1, t["idx"][:, :1], t["s"]),
        lambda: np.array([[True, False, False], [False, True, True]]),  # row 0 col 2, row 1 col 1
    ),
    "scatter_add_int": (
        lambda t: vkgrad.scatter_add(t["i"], 1, t["idx"], t["j"]),
        lambda: np.array([[3 - 2, -2, 0 + 1], [7, 5 - 7 + 5, -4]], np.int32),
    ),
}  # fmt: skip


def _logical(name: str, a: str, b: str):
    ref = {"x": _X, "y": _Y, "i": _I, "j": _J}
    return (
        lambda t: getattr(vkgrad, name)(t[a], t[b]),
        lambda: getattr(np, name)(ref[a] != 0, ref[b] != 0),
    )


for _name in ("logical_and", "logical_or", "logical_xor"):
    INT_BOOL_CASES[f"{_name}_float"] = _logical(_name, "x", "y")
    INT_BOOL_CASES[f"{_name}_int"] = _logical(_name, "i", "j")


@pytest.mark.parametrize(
    "case,dt",
    [(c, dt) for c in INT_BOOL_CASES for dt in (("f32", "f16") if "float" in c else ("f32",))],
)
def test_int_and_bool_kernels(case, dt, device):
    fn, ref = INT_BOOL_CASES[case]
    host = dict(i=_I, j=_J, b=_B, c=_C, s=np.array([[False], [True]]), idx=_IDX)
    t = {k: vkgrad.tensor(v, device=device) for k, v in host.items()}
    t["x"], t["y"] = (vkgrad.tensor(v, dtype=dt, device=device) for v in (_X, _Y))
    out, want = fn(t), ref()
    assert out.dtype is (BOOL if want.dtype == np.bool_ else I32)
    np.testing.assert_array_equal(out.numpy(), want)


def test_bool_arithmetic_that_pytorch_refuses(device):
    m = vkgrad.tensor([True, False], device=device)
    with pytest.raises(TypeError, match=r"neg: not supported for bool .* use ~ or logical_not"):
        _ = -m
    with pytest.raises(TypeError, match=r"sub: not supported for bool .* use \^ or logical_xor"):
        _ = m - m
    with pytest.raises(TypeError, match=r"remainder: not supported for bool"):
        _ = m % m
    with pytest.raises(TypeError, match=r"floor_divide: not supported for bool"):
        _ = m // m
    assert (m - 1).tolist() == [0, -1]  # with an int, the result is int32: allowed
