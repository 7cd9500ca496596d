"""The Vulkan backend on whatever device there is (lavapipe in CI): kernels vs NumPy,
packing, caches, the pool and dispatch ordering."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest

from vkgrad import dtypes, ops
from vkgrad.backends.numpy_backend import KERNELS

vk = pytest.importorskip("vkgrad.backends.vulkan")

f32, f16, i32, b8 = dtypes.float32, dtypes.float16, dtypes.int32, dtypes.bool_
pytestmark = pytest.mark.vulkan


@pytest.fixture(scope="module")
def be():
    try:
        return vk.VulkanBackend()
    except vk.VulkanUnavailable as e:
        pytest.skip(f"no Vulkan: {e}")


def run(be, name, inputs, out_dt=f32, out=None, **attrs):
    op = ops.get(name)
    if op.kind == "update":  # the attrs travel as a last f32 input, as functional.update sends
        hyper = np.array([float(attrs[a]) for a in op.attrs], np.float32)
        inputs = [*inputs, be.from_numpy(hyper, f32)]
    shapes = [x.shape if isinstance(x, vk.VkArray) else () for x in inputs]
    shape = ops.out_shape(op, shapes, attrs)
    return be.run(op, inputs, attrs, shape, out_dt, out=out)


def rounded(x, dt):
    """The values a ``dt`` array actually holds, in f64 (the reference's input)."""
    return np.asarray(x).astype(dt.np).astype(np.float64)


def tol(dt):
    # f16 outputs carry 11 significant bits: ~5e-4 relative rounding plus f32 math.
    return dict(rtol=1e-5, atol=1e-6) if dt is f32 else dict(rtol=1e-2, atol=2e-3)


RNG = np.random.default_rng(0)

# name -> (input value ranges, attrs); binary ops get broadcasting inputs
MAP_CASES = {
    "add": 2, "sub": 2, "mul": 2, "div": 2, "maximum": 2, "minimum": 2,
    "eq": 2, "ne": 2, "lt": 2, "le": 2, "gt": 2, "ge": 2,
    "pow": 2, "relu_backward": 2, "sigmoid_backward": 2, "tanh_backward": 2,
    "silu_backward": 2, "gelu_backward": 2, "clamp_backward": 2,
    "neg": 1, "exp": 1, "log": 1, "sqrt": 1, "abs": 1, "sign": 1, "relu": 1, "sigmoid": 1,
    "tanh": 1, "gelu": 1, "gelu_grad2": 1, "silu": 1, "silu_grad2": 1, "clamp": 1,
}  # fmt: skip
ATTRS = {
    "clamp": dict(min=-0.5, max=0.7, has_min=1, has_max=1),
    "clamp_backward": dict(min=-0.5, max=0.7, has_min=1, has_max=0),
}
POSITIVE = {"log", "sqrt", "pow"}


def _inputs(name, shapes):
    xs = []
    for k, s in enumerate(shapes):
        x = RNG.uniform(-2.5, 2.5, s)
        if name in POSITIVE and k == 0:
            x = RNG.uniform(0.1, 3.0, s)
        xs.append(x)
    if len(xs) == 2 and name in ("eq", "ne", "le", "ge", "maximum", "minimum"):
        a, b = np.broadcast_arrays(xs[0], xs[1])
        xs[1] = np.where(RNG.random(b.shape) < 0.3, a, b)  # exercise ties
    return xs


@pytest.mark.parametrize("dt", [f32, f16], ids=["f32", "f16"])
@pytest.mark.parametrize("name", sorted(MAP_CASES))
def test_map_vs_numpy(be, name, dt):
    nin = MAP_CASES[name]
    shapes = [(4, 1, 37), (3, 37)][:nin] if nin == 2 else [(3, 37)]
    xs = _inputs(name, shapes)
    attr_sets = [ATTRS.get(name, {})]
    if name.startswith("gelu"):
        attr_sets = [dict(approximate=0), dict(approximate=1)]
    out_dt = b8 if ops.get(name).out_dtype == "bool" else dt
    for attrs in attr_sets:
        arrs = [be.from_numpy(x, dt) for x in xs]
        y = be.to_numpy(run(be, name, arrs, out_dt, **attrs), out_dt)
        ref = KERNELS[name](*[rounded(x, dt) for x in xs], **attrs)
        assert y.shape == ref.shape
        if out_dt is b8:
            np.testing.assert_array_equal(y, ref)
        else:
            np.testing.assert_allclose(y.astype(np.float64), ref, **tol(dt), err_msg=str(attrs))
        if nin == 2:  # second input as a Python scalar (push constant, dummy binding)
            y = be.to_numpy(run(be, name, [arrs[0], 0.75], out_dt, **attrs), out_dt)
            ref = KERNELS[name](rounded(xs[0], dt), np.float64(0.75), **attrs)
            np.testing.assert_allclose(y.astype(np.float64), ref, **tol(dt))


def test_where_and_bool_int(be):
    c = RNG.random((5, 6)) < 0.5
    a = RNG.standard_normal((5, 6)).astype(np.float32)
    y = run(be, "where", [be.from_numpy(c, b8), be.from_numpy(a, f32), 0.0])
    np.testing.assert_array_equal(be.to_numpy(y, f32), np.where(c, a, 0.0).astype(np.float32))
    t = np.array([3, -1, 7, 0, 2], np.int32)
    y = run(be, "eq", [be.from_numpy(t, i32), 7.0], b8)
    np.testing.assert_array_equal(be.to_numpy(y, b8), t == 7)


def test_stable_at_large_magnitude(be):
    x = np.array([-100, -80, -30, -1e-4, 0, 1e-4, 30, 80, 100], np.float32)
    X = be.from_numpy(x, f32)
    xd = x.astype(np.float64)
    # f64 references written without 1 - s cancellation (NumPy's 1 - s loses digits at x=30)
    s, r = 1 / (1 + np.exp(-xd)), 1 / (1 + np.exp(xd))
    refs = {
        "sigmoid": s,
        "tanh": np.tanh(xd),
        "silu": xd * s,
        "silu_backward": s * (1 + xd * r),
        "silu_grad2": s * r * (2 + xd * (r - s)),
        "gelu": KERNELS["gelu"](xd),
        "gelu_grad2": KERNELS["gelu_grad2"](xd),
    }
    for name, ref in refs.items():
        inputs = [X, be.from_numpy(np.ones_like(x), f32)] if "backward" in name else [X]
        y = be.to_numpy(run(be, name, inputs), f32)
        assert np.all(np.isfinite(y)), (name, y)
        # atol: f32 flushes results below ~1e-38 (x = -100) to zero
        np.testing.assert_allclose(y, ref, rtol=2e-6, atol=1e-37, err_msg=name)


def test_gelu_erf_accuracy(be):
    x = np.linspace(-8, 8, 20001).astype(np.float32)
    y = be.to_numpy(run(be, "gelu", [be.from_numpy(x, f32)], approximate=0), f32)
    erfc = np.vectorize(math.erfc)  # 1 + erf(z) = erfc(-z): no cancellation in the tail
    ref = 0.5 * x.astype(np.float64) * erfc(-x.astype(np.float64) / math.sqrt(2))
    err = np.abs(y - ref) / np.maximum(np.abs(ref), 1e-30)
    bulk = np.abs(ref) >= 1e-2
    # a few f32 ulps: the erfc fit (1.2e-7) times exp's own rounding for x < -0.7
    assert err[bulk].max() < 1e-6, (err[bulk].max(), x[bulk][err[bulk].argmax()])
    # The negative tail (|gelu| < 1e-2, down to 1e-15 at x = -8) is erfc * exp(-x^2/2): an f32
    # exp argument of up to -33 carries ~2e-6 absolute rounding, i.e. that much relative error
    # in the result. Absolute errors there are below 1e-7.
    tail = ~bulk & (np.abs(ref) > 1e-30)
    assert err[tail].max() < 1e-5, (err[tail].max(), x[tail][err[tail].argmax()])


def test_views_and_scatter(be):
    x = RNG.standard_normal((3, 4, 5))
    for dt in (f32, f16):
        X = be.from_numpy(x, dt)
        xr = rounded(x, dt)
        y = run(be, "permute", [X], dt, dims=(2, 0, 1))
        np.testing.assert_array_equal(be.to_numpy(y, dt), xr.transpose(2, 0, 1).astype(dt.np))
        y = run(be, "expand", [be.reshape(X, (3, 1, 4, 5))], dt, shape=(2, 3, 7, 4, 5))
        np.testing.assert_array_equal(
            be.to_numpy(y, dt), np.broadcast_to(xr[:, None], (2, 3, 7, 4, 5)).astype(dt.np)
        )
        sl = dict(starts=(1, 0, 1), steps=(1, 2, 2), out_shape=(2, 2, 2))
        y = run(be, "slice", [X], dt, **sl)
        np.testing.assert_array_equal(be.to_numpy(y, dt), xr[1:3, 0:4:2, 1:5:2].astype(dt.np))
        g = RNG.standard_normal((2, 2, 2))
        y = run(be, "slice_backward", [be.from_numpy(g, dt)], dt, in_shape=(3, 4, 5), **sl)
        ref = KERNELS["slice_backward"](rounded(g, dt), in_shape=(3, 4, 5), **sl)
        np.testing.assert_array_equal(be.to_numpy(y, dt), ref.astype(dt.np))


@pytest.mark.parametrize("src", [f32, f16, i32, b8], ids=lambda d: d.name)
def test_copy_casts(be, src):
    x = RNG.uniform(-4, 4, 11)
    if src is b8:
        x = x > 0
    vals = np.asarray(x).astype(src.np)
    X = be.from_numpy(vals, src)
    for dst in (f32, f16, i32, b8):
        y = be.to_numpy(run(be, "copy", [X], dst, dtype=dst.name), dst)
        np.testing.assert_array_equal(y, vals.astype(np.float32).astype(dst.np), err_msg=dst.name)
    for dst in (f32, f16, i32, b8):
        y = be.to_numpy(run(be, "fill", [], dst, value=3.0, shape=(5,)), dst)
        np.testing.assert_array_equal(y, np.full(5, 3.0).astype(dst.np))


def test_f16_packing_odd_counts(be):
    for n in (1, 2, 3, 5, 7, 129):
        x = RNG.standard_normal(n).astype(np.float16)
        X = be.from_numpy(x, f16)
        np.testing.assert_array_equal(be.to_numpy(X, f16), x)
        y = be.to_numpy(run(be, "mul", [X, 2.0], f16), f16)
        np.testing.assert_array_equal(y, (x.astype(np.float32) * 2).astype(np.float16))


@pytest.mark.parametrize("dt", [f32, f16], ids=["f32", "f16"])
@pytest.mark.parametrize("m,k", [(1, 1), (7, 333), (5, 3), (3, 1000)])
def test_reduce(be, dt, m, k):
    # Odd M: one f16 output per row, neighbours share words -> atomic half stores.
    x = RNG.standard_normal((m, k))
    X = be.from_numpy(x, dt)
    for name in ("sum", "max"):
        y = be.to_numpy(run(be, name, [X], dt), dt)
        ref = KERNELS[name](rounded(x, dt))
        np.testing.assert_allclose(
            y.astype(np.float64),
            ref,
            rtol=1e-5 if dt is f32 else 1e-2,
            atol=1e-4 if dt is f32 else 1e-2,
        )


def test_grid_stride_paths(be):
    old = be.max_groups
    try:
        be.max_groups = 3  # few workgroups: every kernel must loop
        x = RNG.standard_normal((37, 300))
        X = be.from_numpy(x, f16)
        xr = rounded(x, f16)
        np.testing.assert_allclose(
            be.to_numpy(run(be, "sum", [X], f16), f32), xr.sum(1), rtol=1e-2, atol=1e-2
        )
        e = np.exp(xr - xr.max(1, keepdims=True))
        np.testing.assert_allclose(
            be.to_numpy(run(be, "softmax", [X], f16), f32),
            e / e.sum(1, keepdims=True),
            rtol=1e-2,
            atol=1e-3,
        )
        y = be.to_numpy(run(be, "exp", [X], f16), f32)
        np.testing.assert_allclose(y, np.exp(xr), rtol=1e-2)
        a, b = RNG.standard_normal((2, 130, 70)), RNG.standard_normal((2, 70, 140))
        y = run(be, "matmul", [be.from_numpy(a, f32), be.from_numpy(b, f32)], ta=0, tb=0)
        np.testing.assert_allclose(be.to_numpy(y, f32), a @ b, rtol=1e-4, atol=1e-4)
    finally:
        be.max_groups = old


def test_large_shapes(be):
    # > 65535 rows: more rows than workgroups even at the device's limit.
    x = RNG.standard_normal((70000, 3)).astype(np.float32)
    y = be.to_numpy(run(be, "sum", [be.from_numpy(x, f32)]), f32)
    np.testing.assert_allclose(y, x.sum(1), rtol=1e-5, atol=1e-5)
    a = RNG.standard_normal((300, 1, 400)).astype(np.float32)
    b = RNG.standard_normal((7, 400)).astype(np.float32)
    y = be.to_numpy(run(be, "add", [be.from_numpy(a, f16), be.from_numpy(b, f16)], f16), f32)
    ref = a.astype(np.float16).astype(np.float32) + b.astype(np.float16).astype(np.float32)
    np.testing.assert_allclose(y, ref, rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("dt", [f32, f16], ids=["f32", "f16"])
@pytest.mark.parametrize(
    "name", ["softmax", "log_softmax", "softmax_backward", "log_softmax_backward"]
)
def test_rows(be, name, dt):
    x = RNG.standard_normal((5, 77)) * 3
    g = RNG.standard_normal((5, 77))
    if name == "log_softmax_backward":
        x = KERNELS["log_softmax"](x)
    elif name == "softmax_backward":
        x = KERNELS["softmax"](x)
    ins = [x] if "backward" not in name else [x, g]
    y = be.to_numpy(run(be, name, [be.from_numpy(i, dt) for i in ins], dt), dt)
    ref = KERNELS[name](*[rounded(i, dt) for i in ins])
    np.testing.assert_allclose(y.astype(np.float64), ref, **tol(dt))


@pytest.mark.parametrize("dt", [f32, f16], ids=["f32", "f16"])
def test_loss_rows(be, dt):
    n, c = 7, 13
    x = RNG.standard_normal((n, c)) * 4
    x[0, 0] = 90.0  # max subtraction keeps this finite
    t = RNG.integers(0, c, n).astype(np.int32)
    p = RNG.random((n, c))
    p /= p.sum(1, keepdims=True)
    g = RNG.standard_normal(n)
    X, T, P, G = (
        be.from_numpy(x, dt),
        be.from_numpy(t, i32),
        be.from_numpy(p, dt),
        be.from_numpy(g, dt),
    )
    xr, pr, gr = rounded(x, dt), rounded(p, dt), rounded(g, dt)
    cases = [
        ("cross_entropy_index", [X, T], [xr, t]),
        ("cross_entropy_prob", [X, P], [xr, pr]),
        ("cross_entropy_index_backward", [X, T, G], [xr, t, gr]),
        ("cross_entropy_prob_backward", [X, P, G], [xr, pr, gr]),
    ]
    for name, arrs, refs in cases:
        y = be.to_numpy(run(be, name, arrs, dt), dt)
        ref = KERNELS[name](*refs)
        # losses reach ~90: f16 absolute error scales with the value
        np.testing.assert_allclose(
            y.astype(np.float64), ref, rtol=tol(dt)["rtol"], atol=tol(dt)["atol"] * 10, err_msg=name
        )


MM_SIZES = [
    (1, 1, 1, 1, 1),
    (1, 1, 7, 33, 5),
    (2, 2, 65, 129, 31),
    (3, 1, 9, 17, 20),
    (1, 4, 10, 3, 66),
]  # (batch A, batch B, M, K, N)


@pytest.mark.parametrize("dt", [f32, f16], ids=["f32", "f16"])
@pytest.mark.parametrize("ta,tb", [(0, 0), (0, 1), (1, 0), (1, 1)])
def test_matmul(be, dt, ta, tb):
    for ba, bb, m, k, n in MM_SIZES:
        a = RNG.standard_normal((ba, k, m) if ta else (ba, m, k))
        b = RNG.standard_normal((bb, n, k) if tb else (bb, k, n))
        y = be.to_numpy(
            run(be, "matmul", [be.from_numpy(a, dt), be.from_numpy(b, dt)], dt, ta=ta, tb=tb), dt
        )
        ref = KERNELS["matmul"](rounded(a, dt), rounded(b, dt), ta=ta, tb=tb)
        # f16: sums of up to 129 products of N(0,1) values, output rounded to 11 bits
        t = dict(rtol=1e-4, atol=1e-4) if dt is f32 else dict(rtol=1e-2, atol=3e-2)
        np.testing.assert_allclose(y.astype(np.float64), ref, **t, err_msg=str((ba, bb, m, k, n)))


ADAM = dict(
    lr=0.01,
    beta1=0.9,
    beta2=0.999,
    eps=1e-8,
    weight_decay=0.1,
    bias1=0.1,
    bias2=0.001,
    amsgrad=0,
    maximize=0,
)


@pytest.mark.parametrize("decoupled", [0, 1])
@pytest.mark.parametrize("dt", [f32, f16], ids=["f32", "f16"])
def test_adam_step(be, dt, decoupled):
    n = 1001
    w = RNG.standard_normal(n).astype(np.float32)
    g = RNG.standard_normal(n).astype(dt.np)
    m = RNG.standard_normal(n).astype(np.float32) * 0.1
    v = RNG.random(n).astype(np.float32) * 0.1
    W, G, M, V = (
        be.from_numpy(w, f32),
        be.from_numpy(g, dt),
        be.from_numpy(m, f32),
        be.from_numpy(v, f32),
    )
    P = W if dt is f32 else be.from_numpy(w, dt)  # f32: p and master are the same array
    attrs = dict(ADAM, decoupled=decoupled)
    assert run(be, "adam_step", [P, G, M, V, V, W], **attrs) is None
    rp, rg, rm, rv, rw = (x.astype(np.float64) for x in (w, g, m, v, w))
    KERNELS["adam_step"](rp, rg, rm, rv, rv, rw, **attrs)
    np.testing.assert_allclose(be.to_numpy(W, f32), rw, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(be.to_numpy(M, f32), rm, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(be.to_numpy(V, f32), rv, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(be.to_numpy(P, f32), rw, **tol(dt))


@pytest.mark.parametrize(
    "attrs",
    [
        dict(momentum=0.0, dampening=0.0, nesterov=0, first_step=0),
        dict(momentum=0.9, dampening=0.1, nesterov=0, first_step=1),
        dict(momentum=0.9, dampening=0.1, nesterov=0, first_step=0),
        dict(momentum=0.9, dampening=0.0, nesterov=1, first_step=0),
    ],
)
@pytest.mark.parametrize("dt", [f32, f16], ids=["f32", "f16"])
def test_sgd_step(be, dt, attrs):
    n = 257
    w = RNG.standard_normal(n).astype(np.float32)
    g = RNG.standard_normal(n).astype(dt.np)
    buf = RNG.standard_normal(n).astype(np.float32)
    W, G, B = be.from_numpy(w, f32), be.from_numpy(g, dt), be.from_numpy(buf, f32)
    P = W if dt is f32 else be.from_numpy(w, dt)
    attrs = dict(attrs, lr=0.1, weight_decay=0.01, maximize=0)
    run(be, "sgd_step", [P, G, B, W], **attrs)
    rp, rg, rb, rw = (x.astype(np.float64) for x in (w, g, buf, w))
    KERNELS["sgd_step"](rp, rg, rb, rw, **attrs)
    np.testing.assert_allclose(be.to_numpy(W, f32), rw, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(be.to_numpy(B, f32), rb, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(be.to_numpy(P, f32), rw, **tol(dt))


def _train_step(be, x, w, m, v):
    h = run(be, "matmul", [x, w], ta=0, tb=0)
    r = run(be, "relu", [h])
    s = run(be, "sum", [be.reshape(r, (1, r.size))])
    g = run(be, "matmul", [x, run(be, "relu_backward", [h, 1.0])], ta=1, tb=0)
    run(be, "adam_step", [w, g, m, v, v, w], **ADAM, decoupled=0)
    return be.to_numpy(s, f32)


def test_steady_state_creates_nothing(be):
    x = be.from_numpy(RNG.standard_normal((1, 16, 8)), f32)
    w, m, v = (be.from_numpy(np.full((1, 8, 4), 0.1), f32) for _ in range(3))
    for _ in range(3):  # warm up: compile, create algorithms, fill the pool
        _train_step(be, x, w, m, v)
    before = be.stats()
    for _ in range(5):
        _train_step(be, x, w, m, v)
    after = be.stats()
    assert after["algorithms_created"] == before["algorithms_created"]
    assert after["buffers_allocated"] == before["buffers_allocated"]
    assert after["pool_hits"] > before["pool_hits"]
    # Six kernels a step, plus two transfers (the optimizer attrs up, the sum down).
    assert after["transfers"] - before["transfers"] == 5 * 2
    assert after["dispatches"] - before["dispatches"] == 5 * (6 + 2)


def test_algorithm_cache_is_bounded(be):
    """Many shapes must not grow the algorithm cache (each entry owns a pipeline) past its
    bound; evicted algorithms are rebuilt on demand and results stay exact."""
    old = be.max_algorithms
    be.max_algorithms = 6
    try:
        before = be.stats()["algorithms_evicted"]
        for rnd in range(2):
            for n in [2**k + 1 for k in range(6, 14)]:  # a new pool bucket each
                x = be.from_numpy(np.arange(n, dtype=np.float32), f32)
                y = run(be, "add", [run(be, "mul", [x, x]), x])
                got = be.to_numpy(run(be, "sum", [be.reshape(y, (1, n))]), f32)
                want = float(np.sum(np.arange(n, dtype=np.float64) ** 2 + np.arange(n)))
                assert got.item() == pytest.approx(want, rel=1e-6), (rnd, n)
                assert len(be._algos) <= 6
        assert be.stats()["algorithms_evicted"] > before
    finally:
        be.max_algorithms = old


def _chain(be, steps):
    """x = x * 1.0001 + 1, alternately out of place and in place; returns (result, numpy)."""
    x0 = np.linspace(-1, 1, 1000).astype(np.float32)
    x = be.from_numpy(x0, f32)
    ref = x0.copy()
    for i in range(steps):
        y = run(be, "mul", [x, 1.0001])
        if i % 2:
            run(be, "add", [y, 1.0], out=y)  # in place: reads and writes the same buffer
            x = y
        else:
            x = run(be, "add", [y, 1.0])  # the old x and y die: their buffers get reused
        ref = (ref * np.float32(1.0001)).astype(np.float32) + np.float32(1.0)
    return x, ref


@pytest.mark.parametrize("mode", ["barriers", "levels"])
def test_dependent_chain_modes(mode, monkeypatch):
    kp = pytest.importorskip("kp")
    if mode == "barriers" and not getattr(kp, "vkgrad_barriers", 0):
        pytest.skip("stock kp: no compute->compute barriers, levels mode only")
    monkeypatch.setenv("VKGRAD_BARRIER_MODE", mode)
    try:
        be = vk.VulkanBackend()
    except vk.VulkanUnavailable as e:
        pytest.skip(f"no Vulkan: {e}")
    assert be.stats()["barrier_mode"] == mode
    be.synchronize()
    s0, b0 = be.stats()["submits"], be.stats()["barriers"]
    x, ref = _chain(be, 30)  # 60 dependent dispatches
    np.testing.assert_array_equal(be.to_numpy(x, f32), ref)
    submits = be.stats()["submits"] - s0
    barriers = be.stats()["barriers"] - b0
    if mode == "levels":
        assert submits >= 60  # every dispatch depends on the previous one
        assert barriers == 0
    else:
        assert submits == 1  # one batch, ordered by the patched barriers
        if be.recorder.explicit:
            # One barrier per dispatch (each reads what the one before wrote; the first reads
            # the upload) and one before the download: no more, no fewer.
            assert barriers == 61, barriers
    # Independent ops stay in one batch in both modes, with no barrier between them.
    arrs = [be.from_numpy(np.full(10, i, np.float32), f32) for i in range(8)]
    be.synchronize()
    s0, b0 = be.stats()["submits"], be.stats()["barriers"]
    outs = [run(be, "add", [a, 1.0]) for a in arrs]
    be.synchronize()
    assert be.stats()["submits"] - s0 == 1
    assert be.stats()["barriers"] - b0 == 0
    for i, o in enumerate(outs):
        np.testing.assert_array_equal(be.to_numpy(o, f32), np.full(10, i + 1.0, np.float32))


def test_f64_is_cpu_only(be):
    with pytest.raises(TypeError, match="f64 is CPU-only"):
        be.from_numpy(np.zeros(3), dtypes.float64)
    x = be.from_numpy(np.zeros(3), f32)
    with pytest.raises(TypeError, match=r"^exp: float64.*f64 is CPU-only"):
        run(be, "exp", [x], dtypes.float64)
    with pytest.raises(TypeError, match=r"^copy: float64"):
        run(be, "copy", [x], dtypes.float64, dtype="float64")


def test_enumerate_and_reshape(be):
    devs = vk.enumerate_devices()
    assert devs and {"index", "name", "device_type"} <= set(devs[0])
    for d in devs:
        if "llvmpipe" in d["name"]:
            assert d["device_type"] == "cpu"
    x = be.from_numpy(np.arange(6, dtype=np.float32), f32)
    y = be.reshape(x, (2, 3))
    assert y.storage is x.storage and y.shape == (2, 3)
    run(be, "add", [x, 1.0], out=x)
    ref = np.arange(1, 7, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(be.to_numpy(y, f32), ref)


def test_buffers_return_to_pool(be):
    be.synchronize()
    live = be.stats()["live_buffers"]
    x = be.from_numpy(np.ones(100, np.float32), f32)
    y = run(be, "exp", [x])
    del x, y  # still referenced by the pending batch until it is submitted
    assert be.stats()["live_buffers"] == live + 2
    be.synchronize()
    assert be.stats()["live_buffers"] == live
    before = be.stats()["buffers_allocated"]
    for _ in range(10):
        be.to_numpy(run(be, "exp", [be.from_numpy(np.ones(100, np.float32), f32)]), f32)
    assert be.stats()["buffers_allocated"] == before


def test_lavapipe_loop_limit_rows():
    """lavapipe ends a shader invocation after 65535 loop iterations and returns what it has:
    rows past that must be an error naming the op, and just under it the result must be
    right (the rows' ``Op.loops`` estimates are tight). The weight gradient of a convolution
    is cut into slices instead (tests/test_conv.py)."""
    import vkgrad

    dev = vkgrad.Device.parse("vulkan")
    if vk.enumerate_devices()[dev.backend.index]["device_type"] != "cpu":
        pytest.skip("only CPU Vulkan devices (lavapipe) limit loop iterations")
    limit = r"beyond the 65535 that this CPU Vulkan device \(lavapipe\) runs"
    # Sums, max, min and prod cut long rows into chunks: no limit (partial sums of ones are
    # whole numbers, exact in f32). The other rows walk their row three times per 256 elements
    # (softmax) or ten (the cumsum scan).
    assert vkgrad.ones(20_000_000, device=dev).sum().item() == 20_000_000
    p = vkgrad.ones(5_500_000, device=dev).softmax(0)
    assert p.sum().item() == pytest.approx(1.0, rel=1e-3)
    assert p[-1].item() == pytest.approx(1 / 5_500_000, rel=1e-5)
    with pytest.raises(RuntimeError, match=f"softmax: 1 row of 5700000 elements .*{limit}"):
        vkgrad.ones(5_700_000, device=dev).softmax(0)
    assert vkgrad.ones(1_670_000, device=dev).cumsum(0)[-1].item() == 1_670_000
    with pytest.raises(RuntimeError, match=f"cumsum: 2 rows of 1700000 elements .*{limit}"):
        vkgrad.ones(2, 1_700_000, device=dev).cumsum(1)


def _patched_kp():
    kp = pytest.importorskip("kp")
    if not hasattr(kp.Manager, "vkgrad_stats"):
        pytest.skip("stock kp: a pipeline per algorithm, no shared pipeline cache")
    return kp


def test_new_buffers_cost_descriptor_sets_not_pipelines(be):
    """Issue part 1: the same shader on new buffers binds a new descriptor set and reuses the
    variant's pipeline."""
    _patched_kp()
    x = be.from_numpy(np.ones(100, np.float32), f32)
    run(be, "mul", [x, x])
    be.synchronize()
    before = be.stats()
    outs = []
    for i in range(3):  # new input buffers each time: new algorithms
        y = be.from_numpy(np.full(100 + 300 * i, 2.0, np.float32), f32)
        outs.append(run(be, "mul", [y, y]))
    after = be.stats()
    # Each new array binds two new sets of buffers: its upload's copy and the mul.
    assert after["algorithms_created"] - before["algorithms_created"] == 3 * 2
    assert after["descriptor_sets"] - before["descriptor_sets"] == 3 * 2
    assert after["pipelines"] == before["pipelines"]
    for i, o in enumerate(outs):
        np.testing.assert_array_equal(be.to_numpy(o, f32), np.full(100 + 300 * i, 4.0))


def test_pipeline_cache_file(be, tmp_path, monkeypatch):
    """The device's pipeline cache goes to $VKGRAD_CACHE_DIR/pipelines/<device>.bin, and a
    damaged file is ignored, not fatal. Pipelines are shared per variant within a device."""
    kp = _patched_kp()
    from vkgrad.backends.vulkan import pipeline_cache

    monkeypatch.setenv("VKGRAD_CACHE_DIR", str(tmp_path))
    x = be.from_numpy(np.ones(8, np.float32), f32)
    run(be, "neg", [x])
    be.synchronize()
    (name, dkey), spirv = next((k, v) for k, v in be._spirv.items() if k[0] == "neg")
    nbind = next(len(k[2]) for k in be._algos if k[0] == "neg")

    mgr = kp.Manager(be.index)  # a fresh device: counters from zero
    algos = []
    try:
        path = pipeline_cache.cache_path(dict(mgr.get_device_properties()))
        assert path.parent == tmp_path / "pipelines"
        path.parent.mkdir(parents=True)
        path.write_bytes(b"not a pipeline cache" * 10)
        f = pipeline_cache.open_for(mgr)
        assert f is not None and f.loaded == 200
        push = np.zeros(32, np.uint32)
        for _ in range(2):
            ts = [
                mgr.tensor_t(np.zeros(64, np.uint32), kp.TensorTypes.device) for _ in range(nbind)
            ]
            algos.append(mgr.algorithm(ts, spirv, [1, 1, 1], [], push))
        st = mgr.vkgrad_stats()
        assert (st["pipelines_created"], st["pipelines_reused"]) == (1, 1), st
        assert st["descriptor_sets_created"] == 2, st
        f.save()
        assert path.stat().st_size > 0 and path.read_bytes() != b"not a pipeline cache" * 10
        f.save()  # nothing new: no write
    finally:
        algos.clear()
        mgr.destroy()
    with pytest.raises(RuntimeError, match="device was destroyed"):
        mgr.vkgrad_stats()


def test_timestamp_period_in_device_properties():
    """Profilers convert timestamp ticks with it (ns per tick)."""
    _patched_kp()
    try:
        devs = vk.enumerate_devices()
    except vk.VulkanUnavailable as e:
        pytest.skip(f"no Vulkan: {e}")
    for d in devs:
        assert isinstance(d["timestamp_period"], float) and d["timestamp_period"] > 0, d


def test_native_f16_reads_and_writes_halves_as_float16_t(be):
    """Where the device has 16-bit storage (lavapipe does), f16 variants are built with
    NATIVE_F16 (float16_t views, no atomic half stores); others are not."""
    features = getattr(be.mgr, "vkgrad_features", None)
    if features is None or not features()["storageBuffer16BitAccess"][0]:
        pytest.skip("no 16-bit storage on this device or kp build")
    if not features()["storageBuffer16BitAccess"][1]:
        pytest.skip("packed f16 forced (VKGRAD_F16_PACKED=1)")
    assert be.native_f16
    f16 = dtypes.float16
    x = be.from_numpy(np.arange(5, dtype=np.float16), f16)  # odd length: a lone last half
    y = run(be, "mul", [x, x], f16)
    seen = [dict(k[1]) for k in be._algos if k[0] == "mul"]
    assert {"D0": 1, "D1": 1, "D2": 1, "NATIVE_F16": 1} in seen
    np.testing.assert_array_equal(be.to_numpy(y, f16), np.arange(5.0) ** 2)
    z = run(be, "mul", [be.from_numpy(np.ones(3, np.float32), f32), 2.0])
    assert not any(
        "NATIVE_F16" in dict(k[1]) for k in be._algos if k[0] == "mul" and dict(k[1])["D0"] == 0
    )
    np.testing.assert_array_equal(be.to_numpy(z, f32), [2.0, 2.0, 2.0])


def test_packed_f16_can_be_forced_and_says_why():
    # A process of its own: the switch is read when the device opens.
    script = (
        "import logging, numpy as np, vkgrad\n"
        "logging.basicConfig(level=logging.INFO, format='%(message)s')\n"
        "be = vkgrad.Device.parse('vulkan').backend\n"
        "x = vkgrad.tensor(np.arange(5.0), dtype='f16', device='vulkan')\n"
        "print('native', be.native_f16, (x * x).tolist())\n"
    )
    env = dict(os.environ, VKGRAD_F16_PACKED="1")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert "native False [0.0, 1.0, 4.0, 9.0, 16.0]" in out.stdout
    assert "f16 tensors as packed halves (VKGRAD_F16_PACKED=1)" in out.stderr
