"""The backward engine: graph structure, accumulation, grad modes, misuse errors, in-place ops,
hooks and custom Functions. Each runs on cpu and on Vulkan (``device`` fixture)."""

from __future__ import annotations

import numpy as np
import pytest

import vkgrad
from vkgrad import autograd
from vkgrad.autograd import AccumulateGrad, Function


def close(t, expected, rtol=1e-6, atol=1e-6):
    np.testing.assert_allclose(np.asarray(t.numpy(), np.float64), expected, rtol=rtol, atol=atol)


def walk(node):
    """Every node reachable from ``node`` through next_functions."""
    seen, stack, out = set(), [node], []
    while stack:
        n = stack.pop()
        if n is None or id(n) in seen:
            continue
        seen.add(id(n))
        out.append(n)
        stack.extend(nxt for nxt, _ in n.next_functions)
    return out


# ---------------------------------------------------------------- the R torch autograd vignette


def test_vignette_example(device):
    # x1 = torch_ones(2, 2, requires_grad = TRUE); x2 = torch_tensor(1.1, requires_grad = TRUE)
    # y = x1 * (x2 + 2); y$retain_grad(); z = y$pow(2) * 3; z$retain_grad()
    # out = z$mean(); out$backward()
    x1 = vkgrad.ones(2, 2, requires_grad=True, device=device)
    x2 = vkgrad.tensor(1.1, requires_grad=True, device=device)
    y = x1 * (x2 + 2)
    y.retain_grad()
    z = y.pow(2) * 3
    z.retain_grad()
    out = z.mean()
    out.backward()
    # By hand: y = 3.1, out = mean(3 y^2): dout/dz = 1/4, dout/dy = 6 y / 4 = 4.65,
    # dout/dx1 = 4.65 * (x2 + 2) = 14.415, dout/dx2 = sum(4.65 * x1) = 18.6.
    close(out, 3 * 3.1**2, rtol=1e-6)
    close(z.grad, np.full((2, 2), 0.25))
    close(y.grad, np.full((2, 2), 4.65))
    close(x1.grad, np.full((2, 2), 14.415))
    assert x2.grad.shape == ()
    close(x2.grad, 18.6)
    assert x1.is_leaf and x2.is_leaf and not y.is_leaf and not z.is_leaf

    # Graph structure: z = Mul(Pow(y, 2), 3); y = Mul(x1, Add(x2, 2)).
    assert z.grad_fn.name() == "MulBackward0"
    (pow_node, _), (scalar_node, _) = z.grad_fn.next_functions
    assert pow_node.name() == "PowBackward0" and scalar_node is None
    assert pow_node.next_functions[0][0] is y.grad_fn
    (acc1, _), (add_node, _) = y.grad_fn.next_functions
    assert isinstance(acc1, AccumulateGrad) and acc1.variable is x1
    assert add_node.name() == "AddBackward0"
    assert isinstance(add_node.next_functions[0][0], AccumulateGrad)
    assert add_node.next_functions[0][0].variable is x2
    # out's grad_fn leads back to z's node, and to exactly the two leaves.
    nodes = walk(out.grad_fn)
    assert z.grad_fn in nodes
    leaves = [n.variable for n in nodes if isinstance(n, AccumulateGrad)]
    assert len(leaves) == 2 and any(v is x1 for v in leaves) and any(v is x2 for v in leaves)


# ---------------------------------------------------------------- accumulation and zeroing


def test_accumulates_over_backward_calls(device):
    x = vkgrad.tensor([1.0, -2.0, 3.0], requires_grad=True, device=device)
    (x * x).sum().backward()
    close(x.grad, [2.0, -4.0, 6.0])
    (x * x).sum().backward()
    close(x.grad, [4.0, -8.0, 12.0])


def test_zero_grad_in_place_and_none(device):
    x = vkgrad.tensor([1.0, 2.0], requires_grad=True, device=device)
    (x * 3).sum().backward()
    v = x.grad._version[0]
    x.grad.zero_()
    assert x.grad._version[0] == v + 1
    close(x.grad, [0.0, 0.0])
    (x * 3).sum().backward()
    close(x.grad, [3.0, 3.0])
    x.grad = None
    (x * 5).sum().backward()
    close(x.grad, [5.0, 5.0])


def test_retain_graph_twice_accumulates(device):
    x = vkgrad.tensor([1.0, 2.0], requires_grad=True, device=device)
    y = (x.exp()).sum()
    y.backward(retain_graph=True)
    y.backward()
    close(x.grad, 2 * np.exp([1.0, 2.0]), rtol=1e-5)


def test_backward_twice_without_retain_graph(device):
    x = vkgrad.tensor([1.0, 2.0], requires_grad=True, device=device)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()
    close(x.grad, [2.0, 4.0])  # the first backward's gradient is intact


def test_non_scalar_backward(device):
    x = vkgrad.tensor([1.0, 2.0, 3.0], requires_grad=True, device=device)
    y = x * 2
    with pytest.raises(RuntimeError, match=r"scalar.*\(3,\)"):
        y.backward()
    assert x.grad is None
    y.backward(vkgrad.tensor([1.0, 0.5, -1.0], device=device))
    close(x.grad, [2.0, 1.0, -2.0])


# ---------------------------------------------------------------- grad modes and detach


def test_no_grad_context_manager(device):
    x = vkgrad.tensor([1.0], requires_grad=True, device=device)
    with vkgrad.no_grad():
        y = x * 2
        assert not vkgrad.is_grad_enabled()
    assert vkgrad.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    close(y, [2.0])


def test_no_grad_decorator(device):
    x = vkgrad.tensor([1.0], requires_grad=True, device=device)

    @vkgrad.no_grad()
    def f(t):
        return t * 2

    y = f(x)
    assert not y.requires_grad and y.grad_fn is None
    assert vkgrad.is_grad_enabled()


def test_enable_grad_inside_no_grad(device):
    x = vkgrad.tensor([3.0], requires_grad=True, device=device)
    with vkgrad.no_grad():
        with vkgrad.enable_grad():
            y = x * x
        z = x * x
    assert y.requires_grad and y.grad_fn is not None
    assert not z.requires_grad
    y.sum().backward()
    close(x.grad, [6.0])


def test_grad_mode_restored_after_exception():
    with pytest.raises(ValueError):
        with vkgrad.no_grad():
            raise ValueError("boom")
    assert vkgrad.is_grad_enabled()


def test_detach(device):
    x = vkgrad.tensor([1.0, 2.0], requires_grad=True, device=device)
    y = x * 3
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    close(d, [3.0, 6.0])
    (d * x).sum().backward()  # no gradient flows through d
    close(x.grad, [3.0, 6.0])


# ---------------------------------------------------------------- version counters


def test_modified_saved_input_raises(device):
    w = vkgrad.tensor([1.0, 2.0], requires_grad=True, device=device)
    x = vkgrad.tensor([3.0, 4.0], device=device)
    y = (w * x).sum()  # mul saves x for dw
    x.mul_(2)
    with pytest.raises(RuntimeError, match=r"(?s)in-place.*version"):
        y.backward()
    close(x, [6.0, 8.0])  # the error left values alone
    assert w.grad is None


def test_modified_saved_output_raises(device):
    x = vkgrad.tensor([0.5, 1.0], requires_grad=True, device=device)
    y = x.exp()  # exp saves its output
    y.add_(1)
    with pytest.raises(RuntimeError, match=r"ExpBackward0.*in-place"):
        y.sum().backward()


# ---------------------------------------------------------------- autograd.grad and gradcheck


def test_grad_function(device):
    x = vkgrad.tensor([1.0, 2.0], requires_grad=True, device=device)
    (g,) = autograd.grad((x * x * x).sum(), x)
    close(g, [3.0, 12.0])
    assert x.grad is None  # grad() does not accumulate into .grad


def test_grad_create_graph_second_derivative(device):
    x = vkgrad.tensor([1.0, -2.0, 0.5], requires_grad=True, device=device)
    (g,) = autograd.grad((x**3).sum(), x, create_graph=True)
    close(g, 3 * np.array([1.0, -2.0, 0.5]) ** 2, rtol=1e-5)
    assert g.requires_grad
    (h,) = autograd.grad(g.sum(), x, create_graph=True)
    close(h, 6 * np.array([1.0, -2.0, 0.5]), rtol=1e-5)  # d2/dx2 x^3 = 6x
    (t,) = autograd.grad(h.sum(), x)
    close(t, [6.0, 6.0, 6.0], rtol=1e-5)


def test_grad_unused_input(device):
    x = vkgrad.tensor([1.0], requires_grad=True, device=device)
    u = vkgrad.tensor([1.0], requires_grad=True, device=device)
    with pytest.raises(RuntimeError, match="allow_unused"):
        autograd.grad((x * 2).sum(), [x, u])
    gx, gu = autograd.grad((x * 2).sum(), [x, u], allow_unused=True)
    close(gx, [2.0])
    assert gu is None


@pytest.mark.parametrize(
    "fn",
    [
        lambda a, b: (a * b.exp() - a / (b * b + 1)).sum(),
        lambda a, b: vkgrad.softmax(a @ b, dim=0).log(),
        lambda a, b: vkgrad.tanh(a).sum(0) * vkgrad.sigmoid(b).mean(),
    ],
    ids=["arith", "matmul_softmax_log", "reductions"],
)
def test_gradcheck_composites(fn):
    rng = np.random.default_rng(0)
    a = vkgrad.tensor(rng.uniform(-1, 1, (3, 3)), dtype="f64", requires_grad=True)
    b = vkgrad.tensor(rng.uniform(-1, 1, (3, 3)), dtype="f64", requires_grad=True)
    assert autograd.gradcheck(fn, [a, b])


def test_gradcheck_catches_a_wrong_backward():
    class Wrong(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * x * 2.01

    x = vkgrad.tensor([0.5, -1.0], dtype="f64", requires_grad=True)
    with pytest.raises(autograd.GradcheckError, match="input 0"):
        autograd.gradcheck(Wrong.apply, [x])
    assert autograd.gradcheck(Wrong.apply, [x], raise_exception=False) is False


# ---------------------------------------------------------------- custom Functions


class Cube(Function):
    seen_needs: list = []

    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(x, w)
        Cube.seen_needs.append(ctx.needs_input_grad)
        return x * x * x * w

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        gx = g * 3 * x * x * w if ctx.needs_input_grad[0] else None
        gw = g * x * x * x if ctx.needs_input_grad[1] else None
        return gx, gw


def test_custom_function(device):
    Cube.seen_needs.clear()
    x = vkgrad.tensor([1.0, 2.0], requires_grad=True, device=device)
    w = vkgrad.tensor([3.0, -1.0], device=device)
    y = Cube.apply(x, w)
    assert Cube.seen_needs == [(True, False)]
    assert y.grad_fn is not None and y.grad_fn.name() == "CubeBackward"
    close(y, [3.0, -8.0])
    y.sum().backward()
    close(x.grad, [9.0, -12.0])
    assert w.grad is None


def test_custom_function_double_backward(device):
    x = vkgrad.tensor([1.0, 2.0], requires_grad=True, device=device)
    w = vkgrad.tensor([3.0, -1.0], device=device)
    (g,) = autograd.grad(Cube.apply(x, w).sum(), x, create_graph=True)
    (h,) = autograd.grad(g.sum(), x)
    close(h, 6 * np.array([1.0, 2.0]) * np.array([3.0, -1.0]))


def test_custom_function_saved_tensor_modified(device):
    x = vkgrad.tensor([1.0, 2.0], requires_grad=True, device=device)
    w = vkgrad.tensor([3.0, -1.0], device=device)
    y = Cube.apply(x, w)
    w.add_(1)
    with pytest.raises(RuntimeError, match="in-place"):
        y.sum().backward()


def test_mark_non_differentiable(device):
    class SortedPair(Function):
        @staticmethod
        def forward(ctx, x):
            flag = x > 0
            ctx.mark_non_differentiable(flag)
            return x * 2, flag

        @staticmethod
        def backward(ctx, g, g_flag):
            return g * 2

    x = vkgrad.tensor([1.0, -1.0], requires_grad=True, device=device)
    y, flag = SortedPair.apply(x)
    assert y.requires_grad and not flag.requires_grad and flag.grad_fn is None
    assert flag.tolist() == [True, False]
    y.sum().backward()
    close(x.grad, [2.0, 2.0])


def test_mark_dirty(device):
    class AddOne_(Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g

    a = vkgrad.tensor([1.0, 2.0], requires_grad=True, device=device)
    b = a * 1
    saver = b * b  # saves b at its current version
    v = b._version[0]
    out = AddOne_.apply(b)
    assert out is b and b._version[0] > v
    close(b, [2.0, 3.0])
    assert out.grad_fn.name() == "AddOne_Backward"
    out.sum().backward(retain_graph=True)
    close(a.grad, [1.0, 1.0])
    with pytest.raises(RuntimeError, match="in-place"):
        saver.sum().backward()


# ---------------------------------------------------------------- in-place ops


def test_inplace_values_and_versions(device):
    x = vkgrad.tensor([1.0, 2.0, 3.0], device=device)
    steps = [
        (lambda: x.add_(vkgrad.tensor([1.0, 1.0, 1.0], device=device)), [2.0, 3.0, 4.0]),
        (lambda: x.sub_(0.5), [1.5, 2.5, 3.5]),
        (lambda: x.mul_(2), [3.0, 5.0, 7.0]),
        (lambda: x.add_(vkgrad.tensor([1.0, 2.0, 3.0], device=device), alpha=2), [5.0, 9.0, 13.0]),
        (lambda: x.copy_(vkgrad.tensor([-1.0, 0.0, 1.0], device=device)), [-1.0, 0.0, 1.0]),
        (lambda: x.fill_(4.5), [4.5, 4.5, 4.5]),
        (lambda: x.zero_(), [0.0, 0.0, 0.0]),
    ]
    for i, (step, expected) in enumerate(steps):
        v = x._version[0]
        r = step()
        assert r is x, f"step {i} did not return self"
        assert x._version[0] == v + 1, f"step {i}: version {x._version[0]}, expected {v + 1}"
        close(x, expected)


def test_inplace_on_view_shares_version(device):
    x = vkgrad.tensor([[1.0, 2.0], [3.0, 4.0]], device=device)
    v = x.reshape(4)
    v.mul_(2)
    assert x._version[0] == 1
    close(x, [[2.0, 4.0], [6.0, 8.0]])


def test_inplace_on_leaf_requiring_grad_raises(device):
    w = vkgrad.tensor([1.0, 2.0], requires_grad=True, device=device)
    with pytest.raises(RuntimeError, match=r"add_.*leaf"):
        w.add_(1)
    close(w, [1.0, 2.0])
    assert w._version[0] == 0


def test_sgd_style_update_in_no_grad(device):
    w = vkgrad.tensor([1.0, -2.0], requires_grad=True, device=device)
    for _ in range(2):
        w.grad = None
        ((w - 3) ** 2).sum().backward()
        with vkgrad.no_grad():
            w -= 0.25 * w.grad
    # w <- w - 0.25 * 2 (w - 3) = (w + 3) / 2, twice
    close(w, [(((1 + 3) / 2) + 3) / 2, (((-2 + 3) / 2) + 3) / 2])
    assert w.is_leaf and w.requires_grad and w.grad_fn is None


def test_inplace_on_non_leaf_is_differentiated(device):
    x = vkgrad.tensor([1.0, 2.0], requires_grad=True, device=device)
    y = x * 2
    y.mul_(x)  # y = 2x^2
    assert y.grad_fn.name() == "MulBackward0"
    y.sum().backward()
    close(x.grad, [4.0, 8.0])  # d/dx 2x^2
    close(y, [2.0, 8.0])


# ---------------------------------------------------------------- retain_grad, hooks, leaves


def test_retain_grad(device):
    x = vkgrad.tensor([1.0, 2.0], requires_grad=True, device=device)
    y = x * 2
    z = x * 3
    y.retain_grad()
    (y * z).sum().backward()
    close(y.grad, [3.0, 6.0])  # dz/dy = z
    assert z.grad is None  # not retained
    assert y.retains_grad and not z.retains_grad


def test_hook_on_leaf(device):
    x = vkgrad.tensor([1.0, 2.0], requires_grad=True, device=device)
    seen = []

    def hook(g):
        seen.append(g.tolist())
        return g * 10

    x.register_hook(hook)
    (x * x).sum().backward()
    assert seen == [[2.0, 4.0]]
    close(x.grad, [20.0, 40.0])


def test_hook_on_non_leaf(device):
    x = vkgrad.tensor([1.0, 2.0], requires_grad=True, device=device)
    y = x * 3
    seen = []
    y.register_hook(lambda g: seen.append(g.tolist()))
    y.register_hook(lambda g: g * 0.5)
    (y * y).sum().backward()
    assert seen == [[6.0, 12.0]]  # dL/dy = 2y
    close(x.grad, [9.0, 18.0])  # 0.5 * 2y * 3


def test_is_leaf_and_requires_grad(device):
    a = vkgrad.tensor([1.0], device=device)
    b = vkgrad.tensor([1.0], requires_grad=True, device=device)
    assert a.is_leaf and b.is_leaf
    c = a * 2
    assert c.is_leaf and not c.requires_grad  # no input requires grad: no graph
    d = b * 2
    assert not d.is_leaf and d.requires_grad
    with pytest.raises(RuntimeError, match="leaf"):
        d.requires_grad_(False)
    a.requires_grad_()
    assert a.requires_grad and a.is_leaf


def test_grad_fn_next_functions_of_broadcast(device):
    a = vkgrad.tensor([[1.0], [2.0]], requires_grad=True, device=device)
    b = vkgrad.tensor([10.0, 20.0, 30.0], requires_grad=True, device=device)
    y = a * b
    assert [type(n) for n, _ in y.grad_fn.next_functions] == [AccumulateGrad, AccumulateGrad]
    y.sum().backward()
    close(a.grad, [[60.0], [60.0]])  # broadcasting undone by the engine
    close(b.grad, [3.0, 3.0, 3.0])
