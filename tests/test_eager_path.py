"""The eager path's shortcuts change nothing but speed: no graph where no gradient flows,
shape/dtype inference cached per signature, a leaf keeping a fresh gradient instead of a
copy (and copying every gradient that something else holds), and optimizer updates sharing
one attrs array."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from conftest import vulkan_param

import vkgrad
import vkgrad.nn.functional as NF
from vkgrad import autograd, ops
from vkgrad.library.optim import update, update_many


def _counting_runs(device: str):
    """A Counter of op names run on ``device`` while the returned context is active."""
    backend = vkgrad.Device.parse(device).backend
    ran: Counter = Counter()

    class _Counting:
        def __enter__(self):
            def counting(op, *args, **kw):
                ran[op.name] += 1
                return type(backend).run(backend, op, *args, **kw)

            backend.run = counting
            return ran

        def __exit__(self, *exc):
            del backend.run

    return _Counting()


# ---------------------------------------------------------------- no node without a gradient


def test_no_node_when_no_input_requires_grad(device):
    a = vkgrad.tensor([1.0, 2.0], device=device)
    b = vkgrad.tensor([3.0, 4.0], device=device)
    out = a * b + 1.0
    assert out.grad_fn is None and not out.requires_grad
    np.testing.assert_allclose(out.numpy(), [4.0, 9.0])


def test_no_node_under_no_grad(device):
    w = vkgrad.tensor([1.0, -2.0], requires_grad=True, device=device)
    with vkgrad.no_grad():
        out = NF.relu(w * 3.0)
    assert out.grad_fn is None and not out.requires_grad
    np.testing.assert_allclose(out.numpy(), [3.0, 0.0])


def test_node_only_for_inputs_that_need_grad(device):
    w = vkgrad.tensor([2.0, 3.0], requires_grad=True, device=device)
    c = vkgrad.tensor([5.0, 7.0], device=device)
    out = w * c
    assert out.grad_fn is not None
    assert out.grad_fn.needs_input_grad == (True, False)


# ---------------------------------------------------------------- inference cache


def _uncached(name, in_shapes, in_dtypes, attrs):
    op = ops.OPS[name]
    return ops.out_shape(op, in_shapes, attrs), ops.out_dtype(op, in_dtypes, attrs)


@pytest.mark.parametrize(
    "name, in_shapes, in_dtypes, attrs",
    [
        ("add", [(3, 1), (1, 4)], [vkgrad.float32, vkgrad.float32], {}),
        ("add", [(3, 1), (1, 4)], [vkgrad.float32, vkgrad.float64], {}),
        ("add", [(3, 4), ()], [vkgrad.float16, None], {}),
        ("matmul", [(2, 3, 4), (2, 5, 4)], [vkgrad.float32] * 2, {"ta": 0, "tb": 1}),
        ("matmul", [(2, 3, 4), (2, 3, 5)], [vkgrad.float32] * 2, {"ta": 1, "tb": 0}),
    ],
)
def test_cached_inference_matches_uncached(name, in_shapes, in_dtypes, attrs):
    autograd._INFERRED.clear()
    want = _uncached(name, in_shapes, in_dtypes, attrs)
    op = ops.OPS[name]
    assert autograd.infer(op, in_shapes, in_dtypes, attrs) == want  # computed
    assert autograd.infer(op, in_shapes, in_dtypes, attrs) == want  # from the cache


def test_inference_cache_is_keyed_by_attrs_and_dtypes():
    autograd._INFERRED.clear()
    mm = ops.OPS["matmul"]
    f32 = [vkgrad.float32] * 2
    # Same shapes, other attrs: (3, 4) x (4, 3) gives (3, 3) plainly, (4, 4) with both
    # transposed.
    plain = autograd.infer(mm, [(1, 3, 4), (1, 4, 3)], f32, {"ta": 0, "tb": 0})
    both = autograd.infer(mm, [(1, 3, 4), (1, 4, 3)], f32, {"ta": 1, "tb": 1})
    assert plain[0] == (1, 3, 3) and both[0] == (1, 4, 4)
    add = ops.OPS["add"]
    assert autograd.infer(add, [(2,), (2,)], f32, {})[1] is vkgrad.float32
    f64 = autograd.infer(add, [(2,), (2,)], [vkgrad.float32, vkgrad.float64], {})
    assert f64[1] is vkgrad.float64


def test_inference_errors_are_raised_every_time():
    autograd._INFERRED.clear()
    add = ops.OPS["add"]
    for _ in range(2):
        with pytest.raises(ValueError, match="add: shapes"):
            autograd.infer(add, [(3,), (4,)], [vkgrad.float32] * 2, {})


def test_unhashable_attrs_skip_the_cache():
    autograd._INFERRED.clear()
    x = vkgrad.tensor(np.arange(6.0).reshape(2, 3))
    # A list attr cannot be a key: inferred without the cache, with the same result.
    np.testing.assert_allclose(x.sum(dim=[1]).numpy(), [3.0, 12.0])


# ---------------------------------------------------------------- owned gradients


def test_fresh_weight_gradient_is_kept_not_copied():
    w64 = np.random.default_rng(0).standard_normal((3, 4))
    x64 = np.random.default_rng(1).standard_normal((5, 4))
    w = vkgrad.tensor(w64, requires_grad=True)
    x = vkgrad.tensor(x64)
    with _counting_runs("cpu") as ran:
        NF.linear(x, w).sum().backward()
    assert ran["copy"] == 0, ran
    # d sum(x W^T) / dW = ones(5, 3)^T x
    want = np.ones((5, 3)).T @ x64
    np.testing.assert_allclose(w.grad.numpy(), want.astype(np.float32), rtol=1e-5)
    # Accumulating into the kept gradient: twice the reference.
    NF.linear(x, w).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * want, rtol=1e-5)


def test_gradient_passed_to_two_leaves_is_not_shared(device):
    a = vkgrad.tensor([1.0, 2.0, 3.0], requires_grad=True, device=device)
    b = vkgrad.tensor([4.0, 5.0, 6.0], requires_grad=True, device=device)
    (a + b).sum().backward()  # add's rule hands one gradient to both inputs
    with vkgrad.no_grad():
        a.grad.mul_(10.0)
    np.testing.assert_allclose(a.grad.numpy(), [10.0, 10.0, 10.0])
    np.testing.assert_allclose(b.grad.numpy(), [1.0, 1.0, 1.0])


def test_user_gradient_is_not_aliased(device):
    x = vkgrad.tensor([1.0, 2.0], requires_grad=True, device=device)
    g = vkgrad.tensor([0.5, -1.0], device=device)
    (x * 1.0).backward(g)  # mul by a scalar passes g on as it is
    with vkgrad.no_grad():
        x.grad.add_(1.0)
    np.testing.assert_allclose(g.numpy(), [0.5, -1.0])
    np.testing.assert_allclose(x.grad.numpy(), [1.5, 0.0])


def test_retained_gradient_of_a_view_is_not_aliased(device):
    x = vkgrad.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True, device=device)
    y = x.reshape(6)
    y.retain_grad()
    (y * vkgrad.tensor(np.arange(6.0), device=device)).sum().backward()
    with vkgrad.no_grad():
        x.grad.zero_()
    np.testing.assert_allclose(y.grad.numpy(), np.arange(6.0))
    np.testing.assert_allclose(x.grad.numpy(), np.zeros((2, 3)))


def test_hook_that_keeps_the_gradient_sees_it_unchanged(device):
    x = vkgrad.tensor([1.0, 2.0], requires_grad=True, device=device)
    kept = []
    x.register_hook(lambda g: kept.append(g))
    (x * 3.0).sum().backward()
    (x * 3.0).sum().backward()  # accumulates in place into x.grad
    np.testing.assert_allclose(kept[0].numpy(), [3.0, 3.0])
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 6.0])


def test_numpy_sole_holder():
    # Each answer is taken outside `assert`: pytest's assertion rewriting keeps references to
    # the values inside one, which would count as holders.
    be = vkgrad.Device.parse("cpu").backend
    t = vkgrad.tensor(np.zeros((4, 4), np.float32))
    alone = be.sole_holder(t._data)
    view = t._data.reshape(16)  # a second holder of the storage
    shared = be.sole_holder(t._data)
    del view
    whole = vkgrad.tensor(np.zeros((2, 8), np.float32)).reshape(16)  # view of a dead base
    whole_view = be.sole_holder(whole._data)
    part = np.zeros(8, np.float32)[2:6]  # the rest of its base is not the view's to write
    part_view = be.sole_holder(part)
    read_only = be.sole_holder(np.broadcast_to(np.zeros(1, np.float32), (4,)))
    assert (alone, shared, whole_view, part_view, read_only) == (True, False, True, False, False)


# ---------------------------------------------------------------- one attrs array per step


def test_update_many_equals_one_update_per_parameter(device):
    rng = np.random.default_rng(2)
    shapes = [(3, 2), (5,)]
    start = [(rng.standard_normal(s), rng.standard_normal(s)) for s in shapes]
    attrs = dict(lr=0.1, beta1=0.9, beta2=0.99, eps=1e-8, weight_decay=0.0, bias1=0.1, bias2=0.01)
    attrs.update(decoupled=0, amsgrad=0, maximize=0)

    def tensors(p, g):
        p = vkgrad.tensor(p, dtype="f32", device=device)
        m = vkgrad.zeros(p.shape, device=device)
        v = vkgrad.zeros(p.shape, device=device)
        return (p, vkgrad.tensor(g, dtype="f32", device=device), m, v, v, p)

    one = [tensors(p, g) for p, g in start]
    for ts in one:
        update("adam_step", *ts, **attrs)
    many = [tensors(p, g) for p, g in start]
    update_many("adam_step", many, **attrs)
    for a, b, (p0, g0) in zip(one, many, start):
        np.testing.assert_array_equal(a[0].numpy(), b[0].numpy())
        # First Adam step from zero state: m = 0.1 g, v = 0.01 g^2, so the step is
        # lr * (m / bias1) / (sqrt(v / bias2) + eps) = lr * g / (|g| + eps).
        want = p0 - 0.1 * g0 / (np.abs(g0) + 1e-8)
        np.testing.assert_allclose(b[0].numpy(), want, rtol=1e-5, atol=1e-6)
        assert b[0]._version[0] == a[0]._version[0] == 1


def test_update_many_checks_each_set():
    p = vkgrad.zeros(3)
    bad = (p, vkgrad.zeros(4), vkgrad.zeros(3), vkgrad.zeros(3), vkgrad.zeros(3), p)
    attrs = dict(lr=0.1, beta1=0.9, beta2=0.99, eps=1e-8, weight_decay=0.0, bias1=0.1)
    attrs.update(bias2=0.01, decoupled=0, amsgrad=0, maximize=0)
    with pytest.raises(ValueError, match="adam_step: expected tensors of 3 elements"):
        update_many("adam_step", [bad], **attrs)
    with pytest.raises(TypeError, match=r"adam_step: missing attributes \['maximize'\]"):
        update_many("adam_step", [bad], **{k: v for k, v in attrs.items() if k != "maximize"})


def test_a_captured_adam_step_over_layers_built_apart_replays(device):
    # Each layer given device="..." holds its own (equal, not identical) Device object; the
    # grouped update must still note one attrs array per call, or the replay's host pass
    # refreshes fewer arrays than the capture recorded.
    def make():
        vkgrad.manual_seed(0)
        return vkgrad.nn.Sequential(
            vkgrad.nn.Linear(6, 8, device=device), vkgrad.nn.Linear(8, 3, device=device)
        )

    eager, captured = make(), make()
    runs = []
    for model, wrap in ((eager, lambda f: f), (captured, vkgrad.capture)):
        opt = vkgrad.optim.Adam(model.parameters(), lr=1e-2)

        def step(x, y, model=model, opt=opt):
            opt.zero_grad()
            loss = NF.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss

        step = wrap(step)
        rng = np.random.default_rng(3)
        losses = []
        for _ in range(4):  # captured: eager, recorded, then two replays
            x = vkgrad.tensor(rng.standard_normal((5, 6)).astype(np.float32), device=device)
            y = vkgrad.tensor(rng.integers(0, 3, 5).astype(np.int32), device=device)
            losses.append(float(step(x, y).item()))
        runs.append(losses)
    np.testing.assert_allclose(runs[1], runs[0], rtol=1e-6, atol=1e-6)
    for a, b in zip(eager.parameters(), captured.parameters()):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------- linear's own node


def test_linear_records_one_node_and_runs_no_view_ops(device):
    x = vkgrad.randn(8, 5, device=device, requires_grad=True)
    w = vkgrad.randn(3, 5, device=device, requires_grad=True)
    b = vkgrad.randn(3, device=device, requires_grad=True)
    g = vkgrad.ones(8, 3, device=device)
    with _counting_runs(device) as ran:
        y = NF.linear(x, w, b)
        y.backward(g)
    assert y.grad_fn.name() == "AddmmBackward0"
    assert [n for n, _ in y.grad_fn.next_functions] == [
        x._accumulate_node(),
        w._accumulate_node(),
        b._accumulate_node(),
    ]
    # forward: the product and the bias add; backward: three products and the ones fill
    # at most (the row of ones is kept for the next step of the same batch size).
    assert ran["matmul"] == 4 and ran["add"] == 1 and ran["fill"] <= 1
    # Vulkan copies each leaf's fresh gradient (its recorder holds the buffer): nothing else.
    assert set(ran) <= {"matmul", "add", "fill", "copy"}


def test_linear_double_backward_matches_float64(device):
    rng = np.random.default_rng(1)
    xv, wv = rng.standard_normal((4, 3)), rng.standard_normal((2, 3))
    x = vkgrad.tensor(xv, device=device, dtype="f32", requires_grad=True)
    w = vkgrad.tensor(wv, device=device, dtype="f32", requires_grad=True)
    y = NF.linear(x, w, vkgrad.zeros(2, device=device, requires_grad=True))
    (gx,) = autograd.grad((y * y).sum(), x, create_graph=True)
    # d/dx sum(y^2) = 2 y W with y = x W^T
    np.testing.assert_allclose(gx.numpy(), 2 * (xv @ wv.T) @ wv, rtol=1e-5, atol=1e-5)
    (gw,) = autograd.grad(gx.sum(), w)
    s = xv.sum(axis=0)  # 1^T x
    ones = np.ones(3)
    # f(W) = 2 s^T W^T W 1 = 2 (W s) . (W 1): gradient 2 (W 1) s^T + 2 (W s) 1^T
    want = 2 * np.outer(wv @ ones, s) + 2 * np.outer(wv @ s, ones)
    np.testing.assert_allclose(gw.numpy(), want, rtol=1e-4, atol=1e-4)


def test_linear_node_checks_saved_versions_and_frees_them(device):
    x = vkgrad.randn(4, 3, device=device, requires_grad=True)
    w = vkgrad.randn(2, 3, device=device, requires_grad=True)
    h = x * 1.0
    y = NF.linear(h, w)
    with vkgrad.no_grad():
        h.mul_(2.0)
    with pytest.raises(RuntimeError, match="AddmmBackward0: one of the tensors saved"):
        y.sum().backward()
    y = NF.linear(x, w)
    g = vkgrad.ones(4, 2, device=device)
    y.backward(g)
    with pytest.raises(RuntimeError, match="AddmmBackward0: trying to backward"):
        y.backward(g)


def test_linear_with_mixed_dtypes_promotes_and_differentiates():
    x = vkgrad.randn(4, 3, requires_grad=True)
    w = vkgrad.randn(2, 3, dtype="f16", requires_grad=True)
    b = vkgrad.randn(2, dtype="f16", requires_grad=True)
    y = NF.linear(x, w, b)
    assert y.dtype == vkgrad.float32
    want = x.numpy() @ w.numpy().astype(np.float32).T + b.numpy().astype(np.float32)
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-5, atol=1e-5)
    y.sum().backward()
    assert w.grad.dtype == vkgrad.float16 and b.grad.dtype == vkgrad.float16
    np.testing.assert_allclose(b.grad.numpy(), [4.0, 4.0])
    np.testing.assert_allclose(
        x.grad.numpy(), np.tile(w.numpy().astype(np.float32).sum(0), (4, 1)), rtol=1e-3
    )


@pytest.mark.parametrize("device", [vulkan_param("vulkan", id="vulkan")])
def test_linear_refuses_tensors_on_two_devices(device):
    x = vkgrad.randn(4, 3)
    w = vkgrad.randn(2, 3, device=device)
    with pytest.raises(RuntimeError, match="linear: expected all tensors on one device"):
        NF.linear(x, w)


# ---------------------------------------------------------------- fewer kernels per gradient


@pytest.mark.parametrize("dims", [(0, 2, 3), (1, 3), (0, 1, 2, 3), (0, 3), (2, 3)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_sum_over_a_trailing_block_and_more_matches_float64(device, dims, keepdim):
    rng = np.random.default_rng(2)
    xv = rng.standard_normal((3, 4, 5, 6))
    x = vkgrad.tensor(xv, device=device, dtype="f32", requires_grad=True)
    y = x.sum(dims, keepdim=keepdim)
    want = xv.sum(axis=dims, keepdims=keepdim)
    assert y.shape == want.shape
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-5, atol=1e-5)
    gv = rng.standard_normal(want.shape)
    y.backward(vkgrad.tensor(gv, device=device, dtype="f32"))
    gx = np.broadcast_to(gv if keepdim else np.expand_dims(gv, dims), xv.shape)
    np.testing.assert_allclose(x.grad.numpy(), gx, rtol=1e-6, atol=1e-6)


def test_a_channel_sum_permutes_no_full_size_array(device):
    x = vkgrad.randn(4, 8, 16, 16, device=device)
    permuted: list = []
    backend = vkgrad.Device.parse(device).backend

    def spying(op, inputs, attrs, shape, dtype, out=None):
        if op.name == "permute":
            permuted.append(shape)
        return type(backend).run(backend, op, inputs, attrs, shape, dtype, out)

    backend.run = spying
    try:
        y = x.sum((0, 2, 3))
    finally:
        del backend.run
    np.testing.assert_allclose(y.numpy(), x.numpy().sum(axis=(0, 2, 3)), rtol=1e-5, atol=1e-4)
    assert permuted == [(8, 4)]  # the (N, C) partial sums, not the (N, C, H, W) tensor


def test_a_product_with_a_constant_runs_one_gradient_product(device):
    x = vkgrad.randn(5, 3, device=device, requires_grad=True)
    c = vkgrad.randn(5, 3, device=device)
    y = x * c
    g = vkgrad.ones(5, 3, device=device)
    with _counting_runs(device) as ran:
        y.backward(g)
    assert ran["mul"] == 1
    np.testing.assert_allclose(x.grad.numpy(), c.numpy(), rtol=1e-6)
    z = vkgrad.randn(5, 3, device=device, requires_grad=True)
    (c - z).backward(g)  # the subtrahend's negation, and nothing for the constant
    np.testing.assert_allclose(z.grad.numpy(), -np.ones((5, 3)))
