"""Reduction family: large shapes (>= 1e5 elements, many workgroups and long rows) on both
backends against float64 NumPy, exact gradients at zeros, dtypes of index/bool results, and
bad-input errors. Small shapes are covered by the op specs (specs_reduction.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import vulkan_param

import vkgrad
import vkgrad.nn.functional as NF

LARGE = ["cpu", vulkan_param("vulkan", id="vulkan")]
# One long row (many tiles of a workgroup) and many short rows (many workgroups).
SHAPES = {"long_row": (1, 200_003), "short_rows": (20_011, 7)}


def _data(shape, seed, lo=-1.0, hi=1.0):
    return np.random.default_rng(seed).uniform(lo, hi, shape).astype(np.float32)


def _t(a, dev, grad=False):
    return vkgrad.tensor(a, dtype="f32", device=dev, requires_grad=grad)


def _close(got, ref, rtol, atol, what):
    got = np.asarray(got, np.float64)
    err = np.abs(got - ref)
    bound = atol + rtol * np.abs(ref)
    assert np.all(err <= bound), f"{what}: max err {err.max():.3g}"


@pytest.mark.parametrize("dev", LARGE)
@pytest.mark.parametrize("which", list(SHAPES))
def test_large_prod_and_grad(dev, which):
    shape = SHAPES[which]
    # exp of small noise: the product of 2e5 factors stays near 1 (no under/overflow).
    rng = np.random.default_rng(1)
    a = np.exp(rng.normal(0, 1e-3, shape)).astype(np.float32)
    a[0, 3] = 0.0  # one zero: only its gradient is nonzero in that row
    x = _t(a, dev, True)
    y = x.prod(1)
    a64 = a.astype(np.float64)
    # f32 products: each factor adds ~6e-8 relative error, ~K of them in sequence at worst.
    _close(y.numpy(), a64.prod(1), 2e-7 * shape[1] ** 0.5 * 10, 1e-30, "prod")
    y.sum().backward()
    g = x.grad.numpy()
    others = np.delete(a64[0], 3).prod()
    assert g[0, 3] == pytest.approx(others, rel=1e-3)
    assert np.all(g[0, np.arange(shape[1]) != 3] == 0)
    if shape[0] > 1:
        ref = np.array(
            [[np.prod(np.delete(a64[i], j)) for j in range(shape[1])] for i in range(1, 500)]
        )
        _close(g[1:500], ref, 1e-6, 0, "prod grad")


@pytest.mark.parametrize("dev", LARGE)
@pytest.mark.parametrize("which", list(SHAPES))
def test_large_min_argmax_argmin_amax(dev, which):
    shape = SHAPES[which]
    a = _data(shape, 2)
    a[-1, shape[1] // 2] = -5.0
    a[-1, shape[1] - 1] = 5.0
    x = _t(a, dev)
    np.testing.assert_array_equal(x.min(1).values.numpy(), a.min(1))
    np.testing.assert_array_equal(x.amax(1).numpy(), a.max(1))
    am, an = x.argmax(1), x.argmin(1)
    assert am.dtype is vkgrad.int32 and an.dtype is vkgrad.int32
    np.testing.assert_array_equal(am.numpy(), a.argmax(1))
    np.testing.assert_array_equal(an.numpy(), a.argmin(1))
    assert vkgrad.argmax(x).item() == a.argmax()
    assert x.min().item() == -5.0


@pytest.mark.parametrize("dt", ["f32", "f16"])
@pytest.mark.parametrize("dev", LARGE)
def test_long_rows_of_sum_max_min_prod(dev, dt):
    # A few rows longer than two chunks of 4096: on Vulkan each row is reduced in chunks into
    # f32 partials, then the partials are reduced (f16 reads f16 and writes f32, then back).
    rng = np.random.default_rng(7)
    a = rng.uniform(-1, 1, (3, 50_001))
    a[1, 12_345] = 7.0
    a[2, 40_000] = -7.0
    f = np.exp(rng.normal(0, 1e-3, (3, 50_001)))  # a product that stays near 1
    x = vkgrad.tensor(a, dtype=dt, device=dev)
    p = vkgrad.tensor(f, dtype=dt, device=dev)
    a64, f64 = x.numpy().astype(np.float64), p.numpy().astype(np.float64)
    out_eps = {"f32": 2.0**-24, "f16": 2.0**-11}[dt]  # the result's own rounding
    # f32 sums of 5e4 terms of |x| <= 7: ~sqrt(K) * 6e-8 * max partial, and the rounding.
    _close(x.sum(1).numpy(), a64.sum(1), 2 * out_eps, 1e-3, "sum")
    _close(x.sum().numpy(), a64.sum(), 2 * out_eps, 3e-3, "sum of all")
    np.testing.assert_array_equal(x.amax(1).numpy(), a64.max(1))
    np.testing.assert_array_equal(x.min(1).values.numpy(), a64.min(1))
    _close(p.prod(1).numpy(), f64.prod(1), 2 * out_eps + 1e-4, 0, "prod")


@pytest.mark.parametrize("dev", LARGE)
def test_large_argmax_first_of_ties(dev):
    a = np.zeros((3, 100_003), np.float32)
    a[0, [7, 70_000]] = 1.0
    a[1, [99_999, 100_002]] = 1.0
    a[2] = 2.0  # all equal: index 0
    got = vkgrad.tensor(a, device=dev).argmax(1).numpy()
    np.testing.assert_array_equal(got, [7, 99_999, 0])
    got = vkgrad.tensor(-a, device=dev).argmin(1).numpy()
    np.testing.assert_array_equal(got, [7, 99_999, 0])


@pytest.mark.parametrize("dev", LARGE)
@pytest.mark.parametrize("which", list(SHAPES))
def test_large_var_std_and_grad(dev, which):
    shape = SHAPES[which]
    a = _data(shape, 3, 999.0, 1001.0)  # a large mean: E[x^2] - E[x]^2 would cancel
    x = _t(a, dev, True)
    a64 = a.astype(np.float64)
    v = x.var(1)
    _close(v.numpy(), a64.var(1, ddof=1), 1e-4, 1e-6, "var")
    _close(x.std(1, correction=0).numpy(), a64.std(1), 1e-4, 1e-6, "std")
    v.sum().backward()
    ref = 2 * (a64 - a64.mean(1, keepdims=True)) / (shape[1] - 1)
    # x - mean of ~1000-valued f32 data is good to a few ulp(1000) = 6e-5 (rounded inputs,
    # a rounded mean): 5e-4 absolute, scaled by 2 / (K - 1) as the gradient is.
    _close(x.grad.numpy(), ref, 1e-3, 1e-3 / (shape[1] - 1), "var grad")


@pytest.mark.parametrize("dev", LARGE)
@pytest.mark.parametrize("which", list(SHAPES))
def test_large_logsumexp(dev, which):
    shape = SHAPES[which]
    a = _data(shape, 4, -50.0, 50.0)
    x = _t(a, dev, True)
    a64 = a.astype(np.float64)
    m = a64.max(1, keepdims=True)
    ref = (m + np.log(np.exp(a64 - m).sum(1, keepdims=True)))[:, 0]
    y = x.logsumexp(1)
    _close(y.numpy(), ref, 1e-6, 1e-5, "logsumexp")
    y.sum().backward()
    _close(x.grad.numpy(), np.exp(a64 - ref[:, None]), 1e-4, 1e-7, "logsumexp grad")


@pytest.mark.parametrize("dev", LARGE)
@pytest.mark.parametrize("which", list(SHAPES))
@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, math.inf])
def test_large_norm(dev, which, p):
    shape = SHAPES[which]
    a = _data(shape, 5)
    x = _t(a, dev, True)
    b = np.abs(a.astype(np.float64))
    ref = b.max(1) if p == math.inf else (b**p).sum(1) ** (1 / p)
    y = x.norm(p, 1)
    _close(y.numpy(), ref, 2e-5, 0, f"norm p={p}")
    if p != math.inf:
        y.sum().backward()
        gref = np.sign(a) * (b / ref[:, None]) ** (p - 1)
        _close(x.grad.numpy(), gref, 1e-4, 1e-7, f"norm p={p} grad")


@pytest.mark.parametrize("dev", LARGE)
def test_norm_overflow_safe(dev):
    # |x|^2 overflows f32 at 1e20; the scaled kernel does not.
    a = np.array([[3e20, 4e20], [3e-30, 4e-30]], np.float32)
    got = vkgrad.tensor(a, device=dev).norm(dim=1).numpy()
    np.testing.assert_allclose(got, [5e20, 5e-30], rtol=1e-6)


@pytest.mark.parametrize("dev", LARGE)
@pytest.mark.parametrize("which", list(SHAPES))
def test_large_cumsum_and_grad(dev, which):
    shape = SHAPES[which]
    a = _data(shape, 6)
    x = _t(a, dev, True)
    a64 = a.astype(np.float64)
    y = x.cumsum(1)
    # f32 running sums: error bounded by ~ eps * (sum of |x| so far) * log-depth.
    bound = 1e-6 * np.cumsum(np.abs(a64), 1) + 1e-6
    assert np.all(np.abs(y.numpy() - a64.cumsum(1)) <= bound)
    g = _data(shape, 7)
    y.backward(_t(g, dev))
    rev = np.cumsum(g.astype(np.float64)[:, ::-1], 1)[:, ::-1]
    bound = 1e-6 * np.cumsum(np.abs(g.astype(np.float64))[:, ::-1], 1)[:, ::-1] + 1e-6
    assert np.all(np.abs(x.grad.numpy() - rev) <= bound)


@pytest.mark.parametrize("dev", LARGE)
@pytest.mark.parametrize("which", list(SHAPES))
def test_large_cumprod_and_grad(dev, which):
    shape = SHAPES[which]
    rng = np.random.default_rng(8)
    a = np.exp(rng.normal(0, 1e-3, shape)).astype(np.float32)
    a[0, 5] = 0.0
    x = _t(a, dev, True)
    a64 = a.astype(np.float64)
    y = x.cumprod(1)
    ref = np.cumprod(a64, 1)
    # Relative error grows with the number of factors (~K * 6e-8 in the worst case).
    rtol = 1e-6 * max(1.0, shape[1] ** 0.5)
    _close(y.numpy(), ref, rtol, 1e-30, "cumprod")
    g = _data(shape, 9)
    y.backward(_t(g, dev))
    # Reference without division: gx_k = sum_{i >= k} g_i prod_{j <= i, j != k} x_j, by the
    # recurrence R_k = g_k + x_{k+1} R_{k+1} times the exclusive prefix product.
    g64 = g.astype(np.float64)
    excl = np.concatenate([np.ones((shape[0], 1)), ref[:, :-1]], 1)
    r = np.zeros(shape)
    acc = np.zeros(shape[0])
    for k in range(shape[1] - 1, -1, -1):
        acc = g64[:, k] + (a64[:, k + 1] * acc if k + 1 < shape[1] else 0)
        r[:, k] = acc
    gref = excl * r
    scale = np.abs(excl) * np.cumsum(np.abs(g64)[:, ::-1], 1)[:, ::-1] * 1.5
    err = np.abs(x.grad.numpy() - gref)
    assert np.all(err <= rtol * 10 * scale + 1e-30), f"cumprod grad: max err {err.max():.3g}"
    assert np.all(x.grad.numpy()[0, 6:] == 0)  # after the zero, x_k never reaches the output


@pytest.mark.parametrize("dev", LARGE)
@pytest.mark.parametrize("which", list(SHAPES))
def test_large_all_any(dev, which):
    shape = SHAPES[which]
    a = _data(shape, 10) > -0.9999
    x = vkgrad.tensor(a, device=dev)
    r = vkgrad.all(x, 1)
    assert r.dtype is vkgrad.bool_
    np.testing.assert_array_equal(r.numpy(), a.all(1))
    np.testing.assert_array_equal(vkgrad.any(vkgrad.tensor(~a, device=dev), 1).numpy(), (~a).any(1))
    assert vkgrad.all(x).item() == a.all()
    ones = vkgrad.ones(shape, device=dev)
    assert vkgrad.all(ones).item() and not vkgrad.any(ones - 1.0).item()


# ---------------------------------------------------------------- semantics


def test_prod_grad_zero_cases(device):
    x = vkgrad.tensor(
        [[2.0, 0.0, 3.0, 4.0], [0.0, 5.0, 0.0, 1.0], [1.0, 2.0, 3.0, 4.0]],
        device=device,
        requires_grad=True,
    )
    x.prod(1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 24, 0, 0], [0, 0, 0, 0], [24, 12, 8, 6]])


def test_cumprod_grad_with_zero(device):
    x = vkgrad.tensor([2.0, 0.0, 3.0], device=device, requires_grad=True)
    x.cumprod(0).sum().backward()
    # y = (2, 0, 0): dy/dx0 = 1, dy/dx1 = 2 + 2*3, dy/dx2 = 0
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 8.0, 0.0])


def _third_ref(x, w, sets, u, v):
    """Third derivative of f(x) = sum_k w_k prod_{j in sets[k]} x_j (per row) contracted with
    u and v: f is multilinear, so d3f/dx_a dx_b dx_c sums w_k times the product of x over
    sets[k] without a, b, c, for distinct a, b, c all in sets[k]. Float64, no division."""
    rows, n = x.shape
    out = np.zeros((rows, n))
    for k, idx in enumerate(sets):
        for a in idx:
            for b in idx:
                for c in idx:
                    if len({a, b, c}) < 3:
                        continue
                    rest = np.prod(x[:, [j for j in idx if j not in (a, b, c)]], axis=1)
                    out[:, c] += w[:, k] * rest * u[:, a] * v[:, b]
    return out


def _third(f, x, u, v):
    (g1,) = vkgrad.autograd.grad(f(x), x, create_graph=True)
    (g2,) = vkgrad.autograd.grad((g1 * u).sum(), x, create_graph=True)
    (g3,) = vkgrad.autograd.grad((g2 * v).sum(), x)
    return g3.numpy()


_CUMPROD_LIKE = {
    # (function of x, sets[k]: the x_j in output k) for _third_ref
    "cumprod": (lambda t: t.cumprod(1), lambda n: [list(range(k + 1)) for k in range(n)]),
    "cumprod_flip": (
        lambda t: t.flip(1).cumprod(1).flip(1),
        lambda n: [list(range(k, n)) for k in range(n)],
    ),
    "prod": (lambda t: t.prod(1, keepdim=True), lambda n: [list(range(n))]),
}


@pytest.mark.parametrize("op", list(_CUMPROD_LIKE))
@pytest.mark.parametrize(
    "device, dt", [("cpu", "f64"), ("cpu", "f32"), vulkan_param("vulkan", "f32", id="vulkan-f32")]
)
def test_third_order_with_zeros(device, dt, op):
    n = 7
    rng = np.random.default_rng(21)
    a = rng.uniform(-2, 2, (5, n))
    a[1, 3] = 0.0  # one zero
    a[2, [2, 3]] = 0.0  # two zeros in a row
    a[3, [0, 1]] = 0.0  # two zeros in a row, first in scan order
    a[4, [1, 5]] = 0.0  # two zeros apart
    fn, sets = _CUMPROD_LIKE[op][0], _CUMPROD_LIKE[op][1](n)
    w = rng.uniform(-1, 1, (5, len(sets)))
    u, v = (rng.uniform(-1, 1, (5, n)) for _ in range(2))
    W = vkgrad.tensor(w, dtype=dt, device=device)
    x = vkgrad.tensor(a, dtype=dt, device=device, requires_grad=True)
    U_, V_ = (vkgrad.tensor(b, dtype=dt, device=device) for b in (u, v))
    got = _third(lambda t: (fn(t) * W).sum(), x, U_, V_)
    ref = _third_ref(a, w, sets, u, v)
    # Bound by the sum of |terms|: f32 rounds each product of up to 7 factors and the sums.
    scale = _third_ref(np.abs(a), np.abs(w), sets, np.abs(u), np.abs(v))
    rtol = 1e-12 if dt == "f64" else 1e-5
    assert np.all(np.abs(got - ref) <= rtol * scale + 1e-300), (
        f"third derivative of {op}: max err {np.abs(got - ref).max():.3g}"
    )
    # Rows with two zeros: a third derivative needs three factors gone, so only (a, b, c)
    # containing both zeros survive; it is nonzero there (the test is not vacuous).
    assert np.any(got[2] != 0) and np.any(got[4] != 0)


def test_norm_grad_at_zero_is_zero(device):
    x = vkgrad.tensor([[0.0, 0.0], [3.0, 4.0]], device=device, requires_grad=True)
    x.norm(dim=1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0, 0], [0.6, 0.8]], rtol=1e-6)


def test_logsumexp_infinities(device):
    inf = float("inf")
    x = vkgrad.tensor([[-inf, -inf], [inf, 1.0], [1000.0, 1000.0]], device=device)
    got = x.logsumexp(1).numpy()
    assert got[0] == -inf and got[1] == inf
    assert got[2] == pytest.approx(1000 + math.log(2), rel=1e-6)


def test_argmax_nan_counts_as_max(device):
    x = vkgrad.tensor([[1.0, float("nan"), 3.0]], device=device)
    assert x.argmax(1).item() == 1
    assert x.argmin(1).item() == 1


def test_min_returns_values_and_indices(device):
    x = vkgrad.tensor([[3.0, 1.0, 1.0], [0.0, 2.0, -1.0]], device=device, requires_grad=True)
    r = vkgrad.min(x, 1)
    np.testing.assert_array_equal(r.values.numpy(), [1.0, -1.0])
    np.testing.assert_array_equal(r.indices.numpy(), [1, 2])
    vals, idx = x.min(1, keepdim=True)
    assert vals.shape == (2, 1) and idx.shape == (2, 1) and idx.dtype is vkgrad.int32


def test_var_legacy_unbiased_positional(device):
    x = vkgrad.tensor([1.0, 2.0, 4.0], device=device)
    assert x.var(False).item() == pytest.approx(np.var([1, 2, 4]), rel=1e-6)
    assert x.var(True).item() == pytest.approx(np.var([1, 2, 4], ddof=1), rel=1e-6)


def test_functional_and_nn_exports():
    assert vkgrad.functional.cumsum is vkgrad.cumsum
    assert NF.normalize is vkgrad.functional.normalize
    x = vkgrad.tensor([[3.0, 4.0]])
    np.testing.assert_allclose(NF.normalize(x).numpy(), [[0.6, 0.8]], rtol=1e-6)


# ---------------------------------------------------------------- bad input


def test_bad_inputs_name_the_op():
    x = vkgrad.tensor([[1.0, 2.0]])
    with pytest.raises(ValueError, match="norm: p must be"):
        x.norm("nuc")
    with pytest.raises(ValueError, match="norm: p must be >= 0"):
        x.norm(-1.0)
    with pytest.raises(TypeError, match="var: expected a floating point tensor"):
        vkgrad.var(vkgrad.tensor([1, 2], dtype="int32"))
    with pytest.raises(IndexError, match="cumsum: dimension out of range"):
        x.cumsum(2)
    with pytest.raises(TypeError, match="argmax: dim must be an int"):
        x.argmax((0, 1))
    with pytest.raises(RuntimeError, match="min: cannot reduce an empty dimension"):
        vkgrad.zeros((2, 0)).min(1)
    with pytest.raises(RuntimeError, match="argmin: cannot reduce an empty tensor"):
        vkgrad.zeros((0,)).argmin()
    with pytest.raises(TypeError, match="prod: expected a tensor"):
        vkgrad.prod([1.0, 2.0])
    with pytest.raises(TypeError, match="std: give either unbiased or correction"):
        x.std(1, unbiased=True, correction=0)
    with pytest.raises(ValueError, match="cosine_similarity: shapes"):
        NF.cosine_similarity(x, vkgrad.tensor([[1.0, 2.0, 3.0]]))
