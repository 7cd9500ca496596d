"""Norm family beyond the specs: large inputs (>= 1e5 elements, many workgroups) vs float64
NumPy on both backends, the dropout generator, batch-norm running statistics, attention
memory, and error messages."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from conftest import vulkan_param
from specs_norm import dropout_keep, ln_ref

import vkgrad
import vkgrad.nn.functional as F

LARGE = ["cpu", vulkan_param("vulkan", id="vulkan")]


def _big(shape, seed, lo=-1.0, hi=1.0):
    return np.random.default_rng(seed).uniform(lo, hi, shape).astype(np.float32)


def _t(a, dev, grad=False, dt="f32"):
    return vkgrad.tensor(a, dtype=dt, device=dev, requires_grad=grad)


def _close(got, ref, rtol, atol, what):
    got = np.asarray(got, np.float64)
    err = np.abs(got - ref)
    bound = atol + rtol * np.abs(ref)
    assert np.all(err <= bound), (
        f"{what}: max err {err.max():.3g} (bound at worst {bound.min():.3g})"
    )


def _f64(t):
    return t.astype(np.float64)


# ---------------------------------------------------------------- large: layer / rms norm


def _ln_grads(x, w, g, eps=1e-5, rms=False):
    """float64 gradients of sum(g * layer_norm(x) ) (rms: rms_norm) w.r.t. x and w."""
    k = x.shape[-1]
    xc = x if rms else x - x.mean(-1, keepdims=True)
    r = 1 / np.sqrt((xc * xc).mean(-1, keepdims=True) + eps)
    xh = xc * r
    gw = g * w
    inner = gw - xh * (gw * xh).sum(-1, keepdims=True) / k
    if not rms:
        inner -= gw.sum(-1, keepdims=True) / k
    return r * inner, (g * xh).sum(0), g.sum(0)


@pytest.mark.parametrize("dev", LARGE)
@pytest.mark.parametrize("shape", [(331, 307), (37, 2731), (40_009, 3)], ids=str)
def test_large_layer_norm(dev, shape):
    k = shape[-1]
    x, w, b, g = _big(shape, 1, -2, 3), _big(k, 2), _big(k, 3), _big(shape, 4)
    xt, wt, bt = _t(x, dev, True), _t(w, dev, True), _t(b, dev, True)
    y = F.layer_norm(xt, (k,), wt, bt)
    y.backward(_t(g, dev))
    ref = ln_ref(_f64(x), 1, _f64(w), _f64(b))
    _close(y.numpy(), ref, 1e-5, 1e-5, f"layer_norm {shape} forward")
    gx, gw, gb = _ln_grads(_f64(x), _f64(w), _f64(g))
    _close(xt.grad.numpy(), gx, 1e-4, 1e-4 * np.abs(gx).max(), f"layer_norm {shape} grad x")
    # Column sums over up to 4e4 rows: f32 rounding grows with the count (bound by sum |terms|).
    scale_w = np.abs(_f64(g)).sum(0)
    _close(wt.grad.numpy(), gw, 0, 1e-5 * scale_w.max() + 1e-6, f"layer_norm {shape} grad w")
    _close(bt.grad.numpy(), gb, 0, 1e-5 * scale_w.max() + 1e-6, f"layer_norm {shape} grad b")


@pytest.mark.parametrize("dev", LARGE)
def test_large_rms_norm(dev):
    shape = (97, 1031)
    x, w, g = _big(shape, 5), _big(1031, 6), _big(shape, 7)
    xt, wt = _t(x, dev, True), _t(w, dev, True)
    y = F.rms_norm(xt, 1031, wt, eps=1e-6)
    y.backward(_t(g, dev))
    xs = _f64(x)
    ref = xs / np.sqrt((xs * xs).mean(-1, keepdims=True) + 1e-6) * _f64(w)
    _close(y.numpy(), ref, 1e-5, 1e-5, "rms_norm forward")
    gx, gw, _ = _ln_grads(xs, _f64(w), _f64(g), 1e-6, rms=True)
    _close(xt.grad.numpy(), gx, 1e-4, 1e-4 * np.abs(gx).max(), "rms_norm grad x")
    _close(wt.grad.numpy(), gw, 0, 1e-5 * np.abs(_f64(g)).sum(0).max(), "rms_norm grad w")


@pytest.mark.parametrize("dev", LARGE)
def test_large_group_norm(dev):
    shape = (4, 32, 29, 29)
    x, w, b, g = _big(shape, 8, -1, 2), _big(32, 9), _big(32, 10), _big(shape, 24)
    xt, wt, bt = _t(x, dev, True), _t(w, dev, True), _t(b, dev, True)
    y = F.group_norm(xt, 8, wt, bt)
    y.backward(_t(g, dev))
    rows = _f64(x).reshape(32, -1)  # (N * groups, C / groups * H * W)
    w_el = np.broadcast_to(_f64(w)[None, :, None, None], shape).reshape(32, -1)
    xh = ln_ref(rows, 1).reshape(shape)
    ref = xh * _f64(w)[None, :, None, None] + _f64(b)[None, :, None, None]
    _close(y.numpy(), ref, 1e-5, 1e-5, "group_norm forward")
    gx, _, _ = _ln_grads(rows, w_el, _f64(g).reshape(32, -1))
    _close(xt.grad.numpy(), gx.reshape(shape), 1e-4, 1e-4 * np.abs(gx).max(), "group_norm grad x")
    # per-channel sums of 3364 terms: f32 rounding bounded by sum |terms|
    bound = 1e-5 * np.abs(_f64(g)).sum((0, 2, 3)).max()
    _close(wt.grad.numpy(), (_f64(g) * xh).sum((0, 2, 3)), 0, bound, "group_norm grad w")
    _close(bt.grad.numpy(), _f64(g).sum((0, 2, 3)), 0, bound, "group_norm grad b")


# ---------------------------------------------------------------- batch norm


def _bn_np(x, rm, rv, momentum, eps):
    axes = (0,) + tuple(range(2, x.ndim))
    n = x.size // x.shape[1]
    mu, var = x.mean(axes), x.var(axes)
    bc = (1, -1) + (1,) * (x.ndim - 2)
    y = (x - mu.reshape(bc)) / np.sqrt(var.reshape(bc) + eps)
    return (
        y,
        (1 - momentum) * rm + momentum * mu,
        (1 - momentum) * rv + momentum * var * n / (n - 1),
    )


@pytest.mark.parametrize("dev", LARGE)
def test_large_batch_norm_train_updates_running_stats(dev):
    shape = (64, 16, 11, 11)
    x = _big(shape, 11, -1, 3)
    rm0, rv0 = _big(16, 12), _big(16, 13, 0.5, 2.0)
    rm, rv = _t(rm0, dev), _t(rv0, dev)
    xt = _t(x, dev, True)
    y = F.batch_norm(xt, rm, rv, training=True, momentum=0.2, eps=1e-4)
    yr, rmr, rvr = _bn_np(_f64(x), _f64(rm0), _f64(rv0), 0.2, 1e-4)
    _close(y.numpy(), yr, 1e-5, 1e-5, "batch_norm forward")
    _close(rm.numpy(), rmr, 1e-5, 1e-6, "running_mean")
    _close(rv.numpy(), rvr, 1e-5, 1e-6, "running_var")
    assert not rm.requires_grad and not rv.requires_grad
    y.sum().backward()  # d sum(xhat) / dx = 0 up to rounding
    assert np.abs(xt.grad.numpy()).max() < 1e-3


def test_batch_norm_eval_uses_running_stats_and_no_update(device):
    x = _big((5, 3, 4), 14)
    rm, rv = _big(3, 15), _big(3, 16, 0.5, 2.0)
    rmt, rvt = _t(rm, device), _t(rv, device)
    y = F.batch_norm(_t(x, device), rmt, rvt, training=False, eps=1e-5)
    ref = (_f64(x) - _f64(rm)[:, None]) / np.sqrt(_f64(rv)[:, None] + 1e-5)
    _close(y.numpy(), ref, 1e-5, 1e-5, "batch_norm eval")
    np.testing.assert_array_equal(rmt.numpy(), rm)
    np.testing.assert_array_equal(rvt.numpy(), rv)


def test_batch_norm_without_running_stats(device):
    x = _big((6, 4), 17)
    y = F.batch_norm(_t(x, device), None, None, training=True)
    ref = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5)
    _close(y.numpy(), _f64(ref), 1e-5, 1e-5, "batch_norm without running stats")


# ---------------------------------------------------------------- dropout


N_DROP = 200_003


def _dropped(dev, dt, p, seed, n=N_DROP):
    vkgrad.manual_seed(seed)
    return F.dropout(vkgrad.ones(n, dtype=dt, device=dev), p).numpy()


@pytest.mark.parametrize("dt", ["f32", "f16"])
@pytest.mark.parametrize("dev", [vulkan_param("vulkan", id="vulkan")])
def test_dropout_mask_is_identical_on_cpu_and_vulkan(dev, dt):
    cpu = _dropped("cpu", dt, 0.3, 123)
    gpu = _dropped(dev, dt, 0.3, 123)
    np.testing.assert_array_equal(cpu != 0, gpu != 0)
    np.testing.assert_array_equal(cpu, gpu)
    # ... and the documented algorithm (the spec's independent implementation)
    np.testing.assert_array_equal(cpu != 0, dropout_keep(123, N_DROP, 0.3))


@pytest.mark.parametrize("dev", LARGE)
@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_dropout_keep_fraction_and_scale(dev, p):
    y = _dropped(dev, "f32", p, 7)
    kept = int((y != 0).sum())
    # kept ~ Binomial(n, 1 - p): within 6 standard deviations (a false failure has
    # probability < 2e-9 for a fair generator; the seed is fixed, so the test is exact).
    sd = np.sqrt(N_DROP * p * (1 - p))
    assert abs(kept - N_DROP * (1 - p)) <= 6 * sd, (kept, N_DROP * (1 - p), sd)
    np.testing.assert_allclose(y[y != 0], np.float32(1 / (1 - p)), rtol=1e-6)
    # neighbouring elements are not correlated: both-kept pairs ~ n (1-p)^2
    both = int(((y[:-1] != 0) & (y[1:] != 0)).sum())
    q = (1 - p) ** 2
    assert abs(both - (N_DROP - 1) * q) <= 6 * np.sqrt(N_DROP * q * (1 - q)) * 2


def test_dropout_reproducible_and_advances(device):
    a = _dropped(device, "f32", 0.5, 1, 1000)
    b = _dropped(device, "f32", 0.5, 1, 1000)
    np.testing.assert_array_equal(a, b)
    vkgrad.manual_seed(1)
    x = vkgrad.ones(1000, device=device)
    first, second = F.dropout(x, 0.5).numpy(), F.dropout(x, 0.5).numpy()
    np.testing.assert_array_equal(first, a)
    assert (first != second).any(), "each call must draw a new mask"


def test_dropout_p0_p1_and_eval(device):
    x = vkgrad.tensor(_big(33, 3), device=device, requires_grad=True)
    assert F.dropout(x, 0.0) is x
    assert F.dropout(x, 0.7, training=False) is x
    y = F.dropout(x, 1.0)
    assert not y.numpy().any()
    y.sum().backward()
    assert not x.grad.numpy().any()


def test_dropout_backward_reuses_the_mask(device):
    vkgrad.manual_seed(3)
    x = vkgrad.tensor(_big(1001, 4), device=device, requires_grad=True)
    y = F.dropout(x, 0.4)
    g = _big(1001, 5)
    y.backward(vkgrad.tensor(g, device=device))
    keep = y.numpy() != 0
    np.testing.assert_allclose(x.grad.numpy(), np.where(keep, g / 0.6, 0), rtol=1e-6)


def test_dropout_inplace(device):
    vkgrad.manual_seed(9)
    ref = F.dropout(vkgrad.ones(257, device=device), 0.5).numpy()
    vkgrad.manual_seed(9)
    x = vkgrad.ones(257, device=device)
    out = F.dropout(x, 0.5, inplace=True)
    assert out is x
    np.testing.assert_array_equal(x.numpy(), ref)


def test_dropout2d_zeroes_whole_channels(device):
    vkgrad.manual_seed(2)
    y = F.dropout2d(vkgrad.ones(8, 16, 3, 5, device=device), 0.5).numpy().reshape(8, 16, 15)
    per_channel = (y != 0).sum(-1)
    assert set(np.unique(per_channel)) <= {0, 15}
    assert 0 < (per_channel == 0).sum() < 128
    y1 = F.dropout1d(vkgrad.ones(4, 7, device=device), 0.5).numpy()
    assert set(np.unique((y1 != 0).sum(-1))) <= {0, 7}


# ---------------------------------------------------------------- attention


def _unbroadcast(x, shape):
    """Sum x down to ``shape`` (the gradient of a broadcast input)."""
    x = x.sum(tuple(range(x.ndim - len(shape))))
    return x.sum(tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True)


def _sdpa_np(q, k, v, g, mask=None, causal=False, drop=None):
    """float64 output and gradients of sum(g * sdpa(q, k, v)) w.r.t. q, k, v. drop: (seed, p)
    for the dropout mask that manual_seed(seed) gives (the spec's own implementation)."""
    batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    qb, kb, vb = (np.broadcast_to(t, batch + t.shape[-2:]) for t in (q, k, v))
    sc = 1 / np.sqrt(q.shape[-1])
    z = qb @ np.swapaxes(kb, -1, -2) * sc
    if causal:
        mask = np.tril(np.ones(z.shape[-2:], bool))
    if mask is not None:
        z = np.where(mask, z, -np.inf) if mask.dtype == bool else z + mask
    p = np.exp(z - z.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    d = np.ones_like(p)
    if drop is not None:
        seed, rate = drop
        d = dropout_keep(seed, p.size, rate).reshape(p.shape) / (1 - rate)
    out = (p * d) @ vb
    dv = np.swapaxes(p * d, -1, -2) @ g
    dp = d * (g @ np.swapaxes(vb, -1, -2))
    dz = p * (dp - (p * dp).sum(-1, keepdims=True))
    dq, dk = dz @ kb * sc, np.swapaxes(dz, -1, -2) @ qb * sc
    return out, _unbroadcast(dq, q.shape), _unbroadcast(dk, k.shape), _unbroadcast(dv, v.shape)


def _close_grads(got, want, rtol, what):
    for gt, w, name in zip(got, want, ("q", "k", "v")):
        _close(gt.numpy(), w, rtol, rtol * np.abs(w).max(), f"{what} grad {name}")


@pytest.mark.parametrize("dev", LARGE)
@pytest.mark.parametrize("causal,drop", [(False, None), (True, None), (True, 0.25)])
def test_large_attention(dev, causal, drop):
    # (2, 2, 257, 257) probabilities: 264k elements, rows longer than a workgroup.
    q, k, v = _big((2, 2, 257, 33), 20), _big((2, 2, 257, 33), 21), _big((2, 2, 257, 17), 22)
    g = _big((2, 2, 257, 17), 23)
    qt, kt, vt = _t(q, dev, True), _t(k, dev, True), _t(v, dev, True)
    vkgrad.manual_seed(31)
    o = F.scaled_dot_product_attention(qt, kt, vt, dropout_p=drop or 0.0, is_causal=causal)
    o.backward(_t(g, dev))
    ref, *grads = _sdpa_np(
        _f64(q), _f64(k), _f64(v), _f64(g), causal=causal, drop=drop and (31, drop)
    )
    _close(o.numpy(), ref, 1e-4, 1e-5, "attention forward")
    _close_grads((qt.grad, kt.grad, vt.grad), grads, 1e-4, "attention")


def _mask(kind, shape, seed):
    rng = np.random.default_rng(seed)
    if kind == "bool":
        m = rng.random(shape) < 0.6
        m[..., 0] = True  # every query sees a key
        return m
    return (rng.integers(-8, 9, shape) * 0.25).astype(np.float32)  # exact in f16


# (q, k, v shapes, keyword arguments; mask: (kind, shape)): L, S in 1, 7, 33, 257, E != Ev,
# batch dims that broadcast.
ATTN_CASES = {
    "L1_S7": ((1, 1, 8), (1, 7, 8), (1, 7, 5), {}),
    "causal_L7_S33": ((2, 7, 8), (2, 33, 8), (2, 33, 3), {"is_causal": True}),
    "bool_mask_bcast": ((2, 3, 33, 4), (1, 3, 7, 4), (2, 1, 7, 6), {"mask": ("bool", (33, 7))}),
    "float_mask_S257": ((2, 33, 16), (2, 257, 16), (2, 257, 9), {"mask": ("float", (2, 33, 257))}),
    "dropout_causal_257": ((1, 257, 4), (1, 257, 4), (1, 257, 7), {"drop": 0.3, "is_causal": True}),
    "dropout_bool_mask_bcast": (
        (2, 2, 33, 5),
        (2, 1, 7, 5),
        (1, 2, 7, 3),
        {"drop": 0.2, "mask": ("bool", (2, 1, 33, 7))},
    ),
}
# f16 stores the inputs, p, the gradient of the output and the results with 11-bit
# mantissas, against a reference from the same f16-rounded inputs.
ATTN_RTOL = {"f64": 1e-10, "f32": 1e-4, "f16": 3e-3}
DEV_DT = [("cpu", "f64"), ("cpu", "f32"), ("cpu", "f16")] + [
    vulkan_param("vulkan", dt, id=f"vulkan-{dt}") for dt in ("f32", "f16")
]


@pytest.mark.parametrize("dev,dt", DEV_DT)
@pytest.mark.parametrize("case", list(ATTN_CASES))
def test_attention_grads_vs_float64(case, dev, dt):
    qs, ks, vs, kw = ATTN_CASES[case]
    rnd = np.float16 if dt == "f16" else np.float64
    q, k, v = (_big(s, 50 + i).astype(rnd) for i, s in enumerate((qs, ks, vs)))
    mask = _mask(*kw["mask"], 54) if "mask" in kw else None
    qt, kt, vt = (_t(a, dev, True, dt) for a in (q, k, v))
    mt = None if mask is None else vkgrad.tensor(mask, device=dev)
    vkgrad.manual_seed(55)
    o = F.scaled_dot_product_attention(
        qt, kt, vt, attn_mask=mt, dropout_p=kw.get("drop", 0.0), is_causal=kw.get("is_causal")
    )
    g = _big(o.shape, 56).astype(rnd)
    o.backward(_t(g, dev, dt=dt))
    drop = (55, kw["drop"]) if "drop" in kw else None
    m64 = None if mask is None else (mask if mask.dtype == bool else _f64(mask))
    ref, *grads = _sdpa_np(
        _f64(q), _f64(k), _f64(v), _f64(g), m64, kw.get("is_causal", False), drop
    )
    rtol = ATTN_RTOL[dt]
    _close(o.numpy(), ref, rtol, rtol * np.abs(ref).max(), f"{case} forward")
    _close_grads((qt.grad, kt.grad, vt.grad), grads, rtol, case)


@pytest.mark.parametrize("need", ["q", "k", "v", "qv"])
def test_attention_grad_of_some_inputs_only(device, need):
    q, k, v, g = _big((2, 7, 6), 60), _big((2, 9, 6), 61), _big((2, 9, 4), 62), _big((2, 7, 4), 63)
    ts = [_t(a, device, name in need) for a, name in zip((q, k, v), "qkv")]
    vkgrad.manual_seed(64)
    F.scaled_dot_product_attention(*ts, dropout_p=0.4).backward(_t(g, device))
    _, *grads = _sdpa_np(_f64(q), _f64(k), _f64(v), _f64(g), drop=(64, 0.4))
    for t, want, name in zip(ts, grads, "qkv"):
        if name in need:
            _close(t.grad.numpy(), want, 1e-4, 1e-4 * np.abs(want).max(), f"grad {name}")
        else:
            assert t.grad is None


@pytest.mark.parametrize("dev", [vulkan_param("vulkan", id="vulkan")])
def test_attention_backward_grid_stride(dev):
    # Fewer workgroups than rows: each group loops over several (batch, row) pairs.
    be = _t(np.zeros(1), dev).device.backend
    q, k, v, g = (
        _big((3, 33, 5), 70),
        _big((3, 40, 5), 71),
        _big((3, 40, 2), 72),
        _big((3, 33, 2), 73),
    )
    ts = [_t(a, dev, True) for a in (q, k, v)]
    old = be.max_groups
    be.max_groups = 7
    try:
        vkgrad.manual_seed(74)
        o = F.scaled_dot_product_attention(*ts, dropout_p=0.1, is_causal=True)
        o.backward(_t(g, dev))
        grads = [t.grad.numpy() for t in ts]
    finally:
        be.max_groups = old
    _, *want = _sdpa_np(_f64(q), _f64(k), _f64(v), _f64(g), causal=True, drop=(74, 0.1))
    for got, w, name in zip(grads, want, "qkv"):
        _close(got, w, 1e-4, 1e-4 * np.abs(w).max(), f"grid-stride grad {name}")


@pytest.mark.parametrize("dev", [vulkan_param("vulkan", id="vulkan")])
def test_attention_backward_lavapipe_loop_limit_is_an_error(dev):
    from vkgrad.backends.vulkan import enumerate_devices

    be = _t(np.zeros(1), dev).device.backend
    if enumerate_devices()[be.index]["device_type"] != "cpu":
        pytest.skip("only CPU Vulkan devices (lavapipe) limit loop iterations")
    q, k = _t(_big((1, 1, 1), 80), dev, True), _t(_big((1, 1, 1), 81), dev, True)
    v = _t(_big((1, 1, 40_000), 82), dev, True)
    o = F.scaled_dot_product_attention(q, k, v)
    with pytest.raises(RuntimeError, match=r"attention_backward: .* loop iterations .*lavapipe"):
        o.backward(_t(_big((1, 1, 40_000), 83), dev))
    # With one workgroup: the most batches of (64, 8) rows that the estimate lets through run,
    # and correctly (the estimate is not below what lavapipe counts); one more is refused.
    from vkgrad.backends.vulkan.kinds import LAVAPIPE_LOOP_LIMIT
    from vkgrad.backends.vulkan.kinds.attn_bw import loop_iterations

    n = 1
    while all(loop_iterations((n + 1) * 64, 1, 64, 8, c) <= LAVAPIPE_LOOP_LIMIT for c in (0, 8)):
        n += 1
    q, k, v, g = (_big((n, 64, 8), 84 + i) for i in range(4))
    ts = [_t(a, dev, True) for a in (q, k, v)]
    o = F.scaled_dot_product_attention(*ts)
    more = F.scaled_dot_product_attention(*(_t(_big((n + 1, 64, 8), 90), dev, True),) * 3)
    old = be.max_groups
    be.max_groups = 1
    try:
        o.backward(_t(g, dev))
        grads = [t.grad.numpy() for t in ts]
        with pytest.raises(RuntimeError, match="lavapipe"):
            more.backward(_t(_big((n + 1, 64, 8), 91), dev))
    finally:
        be.max_groups = old
    _, *want = _sdpa_np(_f64(q), _f64(k), _f64(v), _f64(g))
    for got, w, name in zip(grads, want, "qkv"):
        _close(got, w, 1e-4, 1e-4 * np.abs(w).max(), f"near the loop limit: grad {name}")


def test_attention_saves_one_score_sized_tensor(device):
    q = vkgrad.randn(2, 9, 4, device=device, requires_grad=True)
    k = vkgrad.randn(2, 11, 4, device=device, requires_grad=True)
    v = vkgrad.randn(2, 11, 3, device=device, requires_grad=True)
    o = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    node = o.grad_fn
    while not hasattr(node, "ctx"):  # past the output reshape
        node = node.next_functions[0][0]
    saved = [s for s in node.ctx.saved_tensors if s is not None]
    sizes = sorted(tuple(s.shape) for s in saved if s.numel() >= 2 * 9 * 11)
    assert sizes == [(2, 9, 11)], sizes


def test_attention_fully_masked_row_gives_zero(device):
    q, k, v = vkgrad.randn(1, 3, 4, device=device), vkgrad.randn(1, 5, 4, device=device), None
    v = vkgrad.randn(1, 5, 2, device=device)
    mask = np.ones((3, 5), bool)
    mask[1] = False
    o = F.scaled_dot_product_attention(q, k, v, attn_mask=vkgrad.tensor(mask, device=device))
    out = o.numpy()
    assert np.all(out[0, 1] == 0) and np.isfinite(out).all()


# ---------------------------------------------------------------- attention backward memory


def _mem_case(dev, drop, causal, lq):
    """Attention of B=2, L=S=lq, E=16 (f32) and the gradient of its output."""
    vkgrad.manual_seed(5)
    shape = (2, lq, 16)
    q, k, v = (_t(_big(shape, s), dev, True) for s in (40, 41, 42))
    o = F.scaled_dot_product_attention(q, k, v, dropout_p=drop, is_causal=causal)
    return o, _t(_big(shape, 43), dev)


@pytest.mark.parametrize("dev", [vulkan_param("vulkan", id="vulkan")])
@pytest.mark.parametrize("drop,causal", [(0.0, False), (0.3, True)])
def test_attention_backward_needs_no_score_sized_buffer_vulkan(dev, drop, causal):
    # One (B, L, S) f32 tensor is 2 MiB, q, k, v and their gradients 64 KiB each.
    o, g = _mem_case(dev, drop, causal, 512)
    scores = 2 * 512 * 512 * 4
    be = o.device.backend
    be.synchronize()
    be.pool.reset_peak()
    base = be.pool.live_words
    o.backward(g)
    be.synchronize()
    extra = (be.pool.peak_words - base) * 4
    assert extra < scores, f"backward took {extra} bytes beyond the forward's, (B, L, S): {scores}"


@pytest.mark.parametrize("drop,causal", [(0.0, False), (0.3, True)])
def test_attention_backward_needs_no_score_sized_array_numpy(drop, causal):
    # One (B, L, S) f32 array is 8 MiB; the kernel works in blocks of 64 query rows (1/16).
    o, g = _mem_case("cpu", drop, causal, 1024)
    scores = 2 * 1024 * 1024 * 4
    tracemalloc.start()  # NumPy reports its buffers to tracemalloc
    try:
        o.backward(g)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < scores / 4, f"backward peak {peak} bytes, (B, L, S): {scores}"


# ---------------------------------------------------------------- errors


def test_errors_name_the_op_and_shapes():
    x = vkgrad.zeros(2, 3, 4)
    with pytest.raises(RuntimeError, match=r"layer_norm: normalized_shape \(3,\) .* \(2, 3, 4\)"):
        F.layer_norm(x, (3,))
    with pytest.raises(RuntimeError, match=r"layer_norm: weight shape \(3,\) .* \(4,\)"):
        F.layer_norm(x, 4, weight=vkgrad.ones(3))
    with pytest.raises(RuntimeError, match=r"rms_norm: normalized_shape \(5,\)"):
        F.rms_norm(x, 5)
    with pytest.raises(RuntimeError, match=r"group_norm: num_channels 3 .* num_groups 2"):
        F.group_norm(x, 2)
    with pytest.raises(RuntimeError, match=r"group_norm: weight shape \(2,\), expected \(3,\)"):
        F.group_norm(x, 3, weight=vkgrad.ones(2))
    with pytest.raises(RuntimeError, match=r"batch_norm: running_mean shape \(4,\), expected"):
        F.batch_norm(x, vkgrad.zeros(4), vkgrad.ones(3), training=True)
    with pytest.raises(RuntimeError, match=r"batch_norm: running_var shape \(2,\)"):
        F.batch_norm(x, vkgrad.zeros(3), vkgrad.ones(2))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(vkgrad.zeros(1, 3), None, None, training=True)
    with pytest.raises(ValueError, match="dropout: dropout probability .* 1.5"):
        F.dropout(x, 1.5)
    with pytest.raises(RuntimeError, match="dropout2d: expected a 3-D"):
        F.dropout2d(vkgrad.zeros(3, 4), 0.5)
    q = vkgrad.zeros(2, 5, 4)
    with pytest.raises(RuntimeError, match=r"scaled_dot_product_attention: shapes query"):
        F.scaled_dot_product_attention(q, vkgrad.zeros(2, 6, 3), vkgrad.zeros(2, 6, 2))
    with pytest.raises(RuntimeError, match=r"attn_mask shape \(4, 6\) does not broadcast"):
        F.scaled_dot_product_attention(
            q, vkgrad.zeros(2, 6, 4), vkgrad.zeros(2, 6, 2), attn_mask=vkgrad.zeros(4, 6)
        )
