"""nn.Module semantics, Linear, Sequential, init and nn.functional."""

from __future__ import annotations

import math

import numpy as np
import pytest

import vkgrad
import vkgrad.nn.functional as F
from vkgrad import nn


def _has_vulkan() -> bool:
    return any(d["device"].startswith("vulkan") for d in vkgrad.devices())


DEVICES = ["cpu", pytest.param("vulkan", marks=pytest.mark.vulkan)]


def _skip_no_vulkan(device: str) -> None:
    if device == "vulkan" and not _has_vulkan():
        pytest.skip("no Vulkan device")


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(3, 5)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(5, 2, bias=False)
        self.register_buffer("steps", vkgrad.zeros(1))
        self.register_buffer("scratch", vkgrad.zeros(2), persistent=False)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


# ---------------------------------------------------------------- registration


def test_parameters_registered_in_order():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["fc1.weight", "fc1.bias", "fc2.weight"]
    assert [p.shape for p in net.parameters()] == [(5, 3), (5,), (2, 5)]
    assert all(p.requires_grad and p.is_leaf for p in net.parameters())
    assert [n for n, _ in net.named_children()] == ["fc1", "act", "fc2"]
    assert [type(m).__name__ for m in net.modules()] == ["Net", "Linear", "ReLU", "Linear"]
    assert [n for n, _ in net.named_buffers()] == ["steps", "scratch"]


def test_shared_parameters_and_modules_are_listed_once():
    shared = nn.Linear(2, 2)
    net = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(net.parameters())) == 2
    assert len(list(net.modules())) == 3  # Sequential, Linear, ReLU
    m = nn.Module()
    p = nn.Parameter(vkgrad.ones(3))
    m.a = p
    m.b = p
    assert [n for n, _ in m.named_parameters()] == ["a"]


def test_setattr_tensor_is_not_a_parameter_and_reassign_rules():
    m = nn.Module()
    m.plain = vkgrad.ones(2)
    assert list(m.parameters()) == []
    m.w = nn.Parameter(vkgrad.ones(2))
    assert [n for n, _ in m.named_parameters()] == ["w"]
    with pytest.raises(TypeError, match="parameter 'w'"):
        m.w = vkgrad.ones(2)
    m.w = None
    assert list(m.parameters()) == []
    del m.w
    with pytest.raises(AttributeError, match="no attribute 'w'"):
        _ = m.w


def test_parameter_is_leaf_sharing_storage():
    t = vkgrad.tensor([1.0, 2.0])
    p = nn.Parameter(t)
    assert isinstance(p, vkgrad.Tensor) and isinstance(p, nn.Parameter)
    assert p.requires_grad and p.is_leaf
    assert repr(p).startswith("Parameter containing:\ntensor(")
    with vkgrad.no_grad():
        p.add_(1.0)
    np.testing.assert_array_equal(t.numpy(), [2.0, 3.0])
    frozen = nn.Parameter(vkgrad.ones(2), requires_grad=False)
    assert not frozen.requires_grad
    with pytest.raises(TypeError, match="Parameter"):
        nn.Parameter(np.ones(2))


def test_register_errors():
    m = nn.Module()
    with pytest.raises(TypeError, match="nn.Parameter or None"):
        m.register_parameter("w", vkgrad.ones(2))
    with pytest.raises(KeyError, match="be empty or contain"):
        m.register_buffer("a.b", vkgrad.ones(2))

    class Bad(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Bad()
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(vkgrad.ones(1))


def test_apply_visits_children_then_self():
    net = Net()
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "ReLU", "Linear", "Net"]


# ---------------------------------------------------------------- modes, grads


def test_train_eval_flags_recurse():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net.fc1.train(False)
    assert net.training and not net.fc1.training


def test_zero_grad():
    net = Net()
    net(vkgrad.randn(4, 3)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    for p in net.parameters():
        np.testing.assert_array_equal(p.grad.numpy(), np.zeros(p.shape))
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


# ---------------------------------------------------------------- state_dict


def test_state_dict_keys_and_round_trip():
    vkgrad.manual_seed(1)
    a, b = Net(), Net()
    sd = a.state_dict()
    # PyTorch's order: a module's own tensors, then its children's; no non-persistent buffer
    assert list(sd) == ["steps", "fc1.weight", "fc1.bias", "fc2.weight"]
    assert not any(t.requires_grad for t in sd.values())
    assert not np.allclose(a.fc1.weight.numpy(), b.fc1.weight.numpy())
    res = b.load_state_dict(sd)
    assert res.missing_keys == [] and res.unexpected_keys == []
    for (na, pa), (nb, pb) in zip(a.named_parameters(), b.named_parameters()):
        assert na == nb
        np.testing.assert_array_equal(pa.numpy(), pb.numpy())
    # the loaded parameters are copies: changing a does not change b
    with vkgrad.no_grad():
        a.fc1.weight.add_(1.0)
    assert not np.allclose(a.fc1.weight.numpy(), b.fc1.weight.numpy())
    x = vkgrad.randn(2, 3)
    b.load_state_dict(a.state_dict())
    np.testing.assert_allclose(a(x).numpy(), b(x).numpy(), rtol=0, atol=0)


def test_load_state_dict_accepts_numpy():
    lin = nn.Linear(2, 3)
    lin.load_state_dict({"weight": np.arange(6.0).reshape(3, 2), "bias": np.ones(3)})
    np.testing.assert_array_equal(lin.weight.numpy(), np.arange(6.0).reshape(3, 2))
    np.testing.assert_array_equal(lin.bias.numpy(), np.ones(3))
    assert lin.weight.requires_grad and lin.weight.is_leaf


def test_load_state_dict_strict_errors_list_keys():
    net = Net()
    sd = dict(net.state_dict())
    del sd["fc1.bias"]
    sd["extra.weight"] = vkgrad.ones(1)
    with pytest.raises(RuntimeError) as e:
        Net().load_state_dict(sd)
    msg = str(e.value)
    assert "Error(s) in loading state_dict for Net" in msg
    assert 'Missing key(s) in state_dict: "fc1.bias"' in msg
    assert 'Unexpected key(s) in state_dict: "extra.weight"' in msg
    res = Net().load_state_dict(sd, strict=False)
    assert res.missing_keys == ["fc1.bias"] and res.unexpected_keys == ["extra.weight"]


def test_load_state_dict_shape_mismatch():
    sd = nn.Linear(3, 4).state_dict()
    with pytest.raises(RuntimeError, match=r"size mismatch for weight.*\(4, 3\).*\(2, 3\)"):
        nn.Linear(3, 2).load_state_dict(sd, strict=False)


# ---------------------------------------------------------------- to()


def test_to_dtype_keeps_parameter_objects():
    net = Net()
    params = list(net.parameters())
    before = [p.numpy() for p in params]
    net.to(vkgrad.float64)
    after = list(net.parameters())
    assert all(p is q for p, q in zip(params, after))
    for p, b in zip(after, before):
        assert p.dtype is vkgrad.float64 and p.requires_grad and p.is_leaf
        np.testing.assert_array_equal(p.numpy(), b.astype(np.float64))
    assert net.steps.dtype is vkgrad.float64
    out = net(vkgrad.randn(2, 3, dtype="f64"))
    assert out.dtype is vkgrad.float64
    out.sum().backward()
    assert params[0].grad.dtype is vkgrad.float64
    with pytest.raises(TypeError, match="floating"):
        net.to(vkgrad.int32)


@pytest.mark.vulkan
def test_to_vulkan_and_back():
    _skip_no_vulkan("vulkan")
    vkgrad.manual_seed(3)
    net = Net()
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    ref = net(vkgrad.tensor(x)).numpy()
    params = list(net.parameters())
    net.to("vulkan")
    assert all(p is q for p, q in zip(params, net.parameters()))
    for p in net.parameters():
        assert p.device.type == "vulkan" and p.requires_grad and p.is_leaf
    assert net.steps.device.type == "vulkan"
    out = net(vkgrad.tensor(x, device="vulkan", dtype="f32"))
    assert out.device.type == "vulkan"
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-5, atol=1e-5)
    out.sum().backward()
    assert all(p.grad.device.type == "vulkan" for p in net.parameters())
    net.to("cpu")
    assert all(p.device.type == "cpu" and p.grad.device.type == "cpu" for p in params)


# ---------------------------------------------------------------- hooks, repr


def test_forward_hooks():
    lin = nn.Linear(2, 2)
    calls = []

    def pre(mod, args):
        calls.append(("pre", mod))
        return (args[0] * 0.0,)

    def post(mod, args, out):
        calls.append(("post", tuple(args[0].shape)))
        return out + 1.0

    h1 = lin.register_forward_pre_hook(pre)
    h2 = lin.register_forward_hook(post)
    y = lin(vkgrad.ones(3, 2))
    assert calls == [("pre", lin), ("post", (3, 2))]
    # input zeroed by the pre hook: y = bias + 1
    np.testing.assert_allclose(y.numpy(), np.broadcast_to(lin.bias.numpy() + 1.0, (3, 2)))
    h1.remove()
    h2.remove()
    y = lin(vkgrad.ones(3, 2))
    w, b = lin.weight.numpy(), lin.bias.numpy()
    np.testing.assert_allclose(y.numpy(), np.ones((3, 2)) @ w.T + b, rtol=1e-6)
    assert len(calls) == 2


def test_repr_like_pytorch():
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2, bias=False), nn.Flatten())
    assert repr(net) == (
        "Sequential(\n"
        "  (0): Linear(in_features=4, out_features=8, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Linear(in_features=8, out_features=2, bias=False)\n"
        "  (3): Flatten(start_dim=1, end_dim=-1)\n"
        ")"
    )
    nested = nn.Sequential(nn.Sequential(nn.Identity()))
    assert repr(nested) == "Sequential(\n  (0): Sequential(\n    (0): Identity()\n  )\n)"


# ---------------------------------------------------------------- Linear


@pytest.mark.parametrize("device", DEVICES)
def test_linear_forward_backward_vs_numpy(device):
    _skip_no_vulkan(device)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 5, 6)).astype(np.float32)
    lin = nn.Linear(6, 4, device=device, dtype="f32")
    w, b = lin.weight.numpy().astype(np.float64), lin.bias.numpy().astype(np.float64)
    xt = vkgrad.tensor(x, device=device, dtype="f32", requires_grad=True)
    y = lin(xt)
    assert y.shape == (2, 5, 4) and y.device == lin.weight.device
    np.testing.assert_allclose(y.numpy(), x.astype(np.float64) @ w.T + b, rtol=1e-5, atol=1e-5)
    gy = rng.standard_normal((2, 5, 4))
    y.backward(vkgrad.tensor(gy, device=device, dtype="f32"))
    np.testing.assert_allclose(xt.grad.numpy(), gy @ w, rtol=1e-5, atol=1e-5)
    gw = gy.reshape(-1, 4).T @ x.reshape(-1, 6).astype(np.float64)
    np.testing.assert_allclose(lin.weight.grad.numpy(), gw, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(lin.bias.grad.numpy(), gy.sum(axis=(0, 1)), rtol=1e-5, atol=1e-5)


def test_linear_without_bias_and_1d_input():
    lin = nn.Linear(3, 2, bias=False)
    assert lin.bias is None
    assert [n for n, _ in lin.named_parameters()] == ["weight"]
    x = np.array([1.0, -2.0, 0.5], np.float32)
    y = lin(vkgrad.tensor(x))
    assert y.shape == (2,)
    np.testing.assert_allclose(y.numpy(), lin.weight.numpy() @ x, rtol=1e-6)
    with pytest.raises(RuntimeError, match="linear: input shape"):
        lin(vkgrad.ones(2, 4))


def test_linear_default_init_bounds():
    vkgrad.manual_seed(0)
    lin = nn.Linear(100, 300)
    k = 1 / math.sqrt(100)
    w, b = lin.weight.numpy(), lin.bias.numpy()
    assert np.abs(w).max() <= k and np.abs(b).max() <= k
    # uniform on [-k, k]: spread near the bounds, std near k/sqrt(3)
    assert np.abs(w).max() > 0.99 * k
    assert abs(w.std() - k / math.sqrt(3)) < 0.05 * k
    assert abs(w.mean()) < 0.02 * k


def test_init_is_seeded():
    vkgrad.manual_seed(7)
    a = nn.Linear(4, 4).weight.numpy()
    vkgrad.manual_seed(7)
    b = nn.Linear(4, 4).weight.numpy()
    np.testing.assert_array_equal(a, b)
    c = nn.Linear(4, 4).weight.numpy()
    assert not np.array_equal(a, c)


def test_init_functions():
    vkgrad.manual_seed(0)
    t = vkgrad.zeros(200, 50, requires_grad=True)
    nn.init.uniform_(t, -0.5, 2.0)
    v = t.numpy()
    assert v.min() >= -0.5 and v.max() <= 2.0 and v.max() > 1.9 and v.min() < -0.4
    assert t.requires_grad and t.is_leaf and t.grad_fn is None
    nn.init.normal_(t, mean=3.0, std=0.5)
    assert abs(t.numpy().mean() - 3.0) < 0.02 and abs(t.numpy().std() - 0.5) < 0.02
    nn.init.zeros_(t)
    assert not t.numpy().any()
    nn.init.ones_(t)
    assert (t.numpy() == 1).all()
    nn.init.xavier_uniform_(t)
    bound = math.sqrt(6.0 / (50 + 200))
    assert np.abs(t.numpy()).max() <= bound and np.abs(t.numpy()).max() > 0.95 * bound
    nn.init.kaiming_uniform_(t, nonlinearity="relu")
    bound = math.sqrt(2.0) * math.sqrt(3.0 / 50)
    assert np.abs(t.numpy()).max() <= bound and np.abs(t.numpy()).max() > 0.95 * bound
    with pytest.raises(ValueError, match="fewer than 2"):
        nn.init.xavier_uniform_(vkgrad.zeros(3))


# ---------------------------------------------------------------- Sequential, small layers


def test_sequential_container():
    a, r, b = nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)
    net = nn.Sequential(a, r)
    net.append(b)
    assert len(net) == 3
    assert net[0] is a and net[-1] is b and list(net) == [a, r, b]
    assert [n for n, _ in net.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    head = net[:2]
    assert isinstance(head, nn.Sequential) and list(head) == [a, r]
    with pytest.raises(IndexError, match="out of range"):
        net[3]
    x = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)
    h = np.maximum(x @ a.weight.numpy().T + a.bias.numpy(), 0)
    ref = h @ b.weight.numpy().T + b.bias.numpy()
    np.testing.assert_allclose(net(vkgrad.tensor(x)).numpy(), ref, rtol=1e-5, atol=1e-6)


def test_identity_flatten_activations():
    x = vkgrad.tensor(np.arange(24.0).reshape(2, 3, 4) - 12.0, dtype="f32")
    assert nn.Identity(7, k=1)(x) is x
    assert nn.Flatten()(x).shape == (2, 12)
    assert nn.Flatten(0, 1)(x).shape == (6, 4)
    xv = x.numpy()
    np.testing.assert_array_equal(nn.ReLU()(x).numpy(), np.maximum(xv, 0))
    np.testing.assert_allclose(nn.Tanh()(x).numpy(), np.tanh(xv), rtol=1e-6)
    np.testing.assert_allclose(nn.Sigmoid()(x).numpy(), 1 / (1 + np.exp(-xv)), rtol=1e-5)


def test_functional_reexports_and_linear():
    for name in ("relu", "gelu", "silu", "sigmoid", "tanh", "softmax", "log_softmax"):
        assert callable(getattr(F, name))
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((4, 3)), rng.standard_normal((5, 3)), rng.standard_normal(5)
    y = F.linear(vkgrad.tensor(x, dtype="f64"), vkgrad.tensor(w, dtype="f64"))
    np.testing.assert_allclose(y.numpy(), x @ w.T, rtol=1e-12)
    y = F.linear(*(vkgrad.tensor(a, dtype="f64") for a in (x, w, b)))
    np.testing.assert_allclose(y.numpy(), x @ w.T + b, rtol=1e-12)
    logits = rng.standard_normal((4, 5))
    t = np.array([0, 4, 2, 1], np.int32)
    loss = F.cross_entropy(vkgrad.tensor(logits, dtype="f64"), vkgrad.tensor(t))
    lse = np.log(np.exp(logits).sum(1))
    np.testing.assert_allclose(loss.item(), np.mean(lse - logits[np.arange(4), t]), rtol=1e-12)
    m = F.mse_loss(vkgrad.tensor(x, dtype="f64"), vkgrad.zeros(4, 3, dtype="f64"))
    np.testing.assert_allclose(m.item(), np.mean(x**2), rtol=1e-12)


# ---------------------------------------------------------------- gradient clipping


def _grad_params(device, dtype, shapes, scale, seed=3):
    rng = np.random.default_rng(seed)
    ps, gs = [], []
    for s in shapes:
        p = nn.Parameter(vkgrad.zeros(s, device=device, dtype=dtype))
        g = (rng.standard_normal(s) * scale).astype(np.float64)
        p.grad = vkgrad.tensor(g, device=device, dtype=dtype)
        ps.append(p)
        gs.append(p.grad.numpy().astype(np.float64))  # as stored (rounded to dtype)
    return ps, gs


def _np_total_norm(gs, p):
    flat = np.concatenate([g.ravel() for g in gs])
    if p == math.inf:
        return np.max(np.abs(flat))
    return np.sum(np.abs(flat) ** p) ** (1 / p)


CLIP_CASES = [
    ("cpu", "f32"),
    ("cpu", "f64"),
    ("cpu", "f16"),
    pytest.param("vulkan", "f32", marks=pytest.mark.vulkan),
    pytest.param("vulkan", "f16", marks=pytest.mark.vulkan),
]


@pytest.mark.parametrize("device,dtype", CLIP_CASES)
@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf, 3.0])
def test_clip_grad_norm_on_device(device, dtype, norm_type):
    from test_optim import no_host_traffic

    _skip_no_vulkan(device)
    # f16: grads large enough that their squares overflow halves (the norm is taken in f32)
    scale = 300.0 if dtype == "f16" else 1.0
    ps, gs = _grad_params(device, dtype, [(7, 33), (257,), (1,)], scale)
    ref = _np_total_norm(gs, norm_type)
    max_norm = ref / 4
    with no_host_traffic(device):
        total = nn.utils.clip_grad_norm_(ps, max_norm, norm_type=norm_type)
    assert isinstance(total, vkgrad.Tensor) and total.shape == () and total.device == ps[0].device
    tol = dict(rtol=2e-3) if dtype == "f16" else dict(rtol=1e-5)
    np.testing.assert_allclose(total.item(), ref, **tol)
    coef = max_norm / (ref + 1e-6)
    for p, g in zip(ps, gs):
        np.testing.assert_allclose(p.grad.numpy().astype(np.float64), g * coef, **tol, atol=1e-6)
    # already within the bound: unchanged (the factor is clamped at 1)
    before = [p.grad.numpy() for p in ps]
    nn.utils.clip_grad_norm_(ps, 1e9, norm_type=norm_type)
    for p, b in zip(ps, before):
        np.testing.assert_array_equal(p.grad.numpy(), b)


def test_clip_grad_norm_large_and_edge_cases():
    ps, gs = _grad_params("cpu", "f32", [(400, 300)], 1.0)  # 1.2e5 elements
    total = nn.utils.clip_grad_norm_(ps[0], 1.0)  # a single tensor is accepted
    np.testing.assert_allclose(total.item(), _np_total_norm(gs, 2.0), rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(ps[0].grad.numpy()), 1.0, rtol=1e-5)
    # parameters without grads are skipped; none at all gives 0
    p = nn.Parameter(vkgrad.ones(3))
    assert nn.utils.clip_grad_norm_([p], 1.0).item() == 0.0
    p.grad = vkgrad.tensor([float("nan"), 1.0, 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    assert math.isnan(nn.utils.clip_grad_norm_([p], 1.0).item())


@pytest.mark.parametrize("device", DEVICES)
def test_clip_grad_value(device):
    _skip_no_vulkan(device)
    ps, gs = _grad_params(device, "f32", [(5, 7), (33,)], 2.0)
    nn.utils.clip_grad_value_(ps, 0.5)
    for p, g in zip(ps, gs):
        np.testing.assert_array_equal(p.grad.numpy(), np.clip(g, -0.5, 0.5).astype(np.float32))


def test_parameters_to_vector_round_trip():
    net = nn.Linear(3, 2)
    vec = nn.utils.parameters_to_vector(net.parameters())
    assert vec.shape == (8,)
    np.testing.assert_array_equal(vec.numpy()[:6], net.weight.numpy().ravel())
    nn.utils.vector_to_parameters(vec * 2.0, net.parameters())
    np.testing.assert_allclose(net.bias.numpy(), vec.numpy()[6:] * 2.0)


# ---------------------------------------------------------------- Module completeness


def test_traversal_names_and_duplicates():
    shared = nn.Linear(2, 2)
    net = nn.Sequential(shared, nn.ReLU(), shared)
    assert [n for n, _ in net.named_modules()] == ["", "0", "1"]
    assert [n for n, _ in net.named_modules(remove_duplicate=False)] == ["", "0", "1", "2"]
    assert [n for n, _ in net.named_parameters()] == ["0.weight", "0.bias"]
    names = [n for n, _ in net.named_parameters(remove_duplicate=False)]
    assert names == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert [n for n, _ in net.named_children()] == ["0", "1"]
    assert list(net.children()) == [shared, net[1]]
    m = Net()
    assert [n for n, _ in m.named_buffers()] == ["steps", "scratch"]
    assert m.get_buffer("steps") is m.steps and m.get_parameter("fc1.bias") is m.fc1.bias
    assert [n for n, _ in m.named_parameters(prefix="net", recurse=True)][0] == "net.fc1.weight"
    assert list(m.parameters(recurse=False)) == []


def test_state_dict_skips_non_persistent_buffer_and_prefix():
    m = Net()
    assert "scratch" not in m.state_dict() and "steps" in m.state_dict()
    sd = m.state_dict(prefix="model.")
    assert list(sd)[0] == "model.steps"


def test_full_backward_hook_grad_input_and_output():
    lin = nn.Linear(3, 2)
    seen = {}

    def hook(mod, grad_input, grad_output):
        seen["mod"] = mod
        seen["gi"] = [g.numpy() if g is not None else None for g in grad_input]
        seen["go"] = [g.numpy() for g in grad_output]

    h = lin.register_full_backward_hook(hook)
    x = vkgrad.tensor(np.arange(6.0).reshape(2, 3), dtype="f32", requires_grad=True)
    gy = np.array([[1.0, -2.0], [0.5, 3.0]], np.float32)
    (lin(x) * vkgrad.tensor(gy)).sum().backward()
    assert seen["mod"] is lin
    np.testing.assert_allclose(seen["go"][0], gy)
    np.testing.assert_allclose(seen["gi"][0], gy @ lin.weight.numpy(), rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), gy @ lin.weight.numpy(), rtol=1e-6)
    h.remove()
    seen.clear()
    lin(x).sum().backward()
    assert seen == {}


def test_full_backward_hook_can_replace_grad_input_and_pre_hook():
    lin = nn.Linear(3, 2)
    lin.register_full_backward_hook(lambda m, gi, go: (gi[0] * 0.0,))
    x = vkgrad.ones(4, 3, requires_grad=True)
    lin(x).sum().backward()
    assert not x.grad.numpy().any()
    assert lin.weight.grad is not None and lin.weight.grad.numpy().any()

    lin2 = nn.Linear(3, 2)
    lin2.register_full_backward_pre_hook(lambda m, go: (go[0] * 2.0,))
    x2 = vkgrad.ones(4, 3, requires_grad=True)
    lin2(x2).sum().backward()
    np.testing.assert_allclose(x2.grad.numpy(), 2.0 * np.ones((4, 2)) @ lin2.weight.numpy())


def test_full_backward_hook_without_input_grad():
    # the input needs no gradient: the hook still runs, with grad_input (None,)
    lin = nn.Linear(3, 2)
    calls = []
    lin.register_full_backward_hook(lambda m, gi, go: calls.append((gi, go[0].shape)))
    lin(vkgrad.ones(4, 3)).sum().backward()
    assert calls == [((None,), (4, 2))]


def test_forward_hooks_with_kwargs_and_prepend():
    class Scale(nn.Module):
        def forward(self, x, factor=1.0):
            return x * factor

    m = Scale()
    order = []
    m.register_forward_pre_hook(lambda mod, args, kwargs: (args, {"factor": 3.0}), with_kwargs=True)
    m.register_forward_hook(lambda mod, args, out: order.append("a"))
    m.register_forward_hook(lambda mod, args, out: order.append("b"), prepend=True)
    m.register_forward_hook(lambda mod, args, kwargs, out: out + kwargs["factor"], with_kwargs=True)
    y = m(vkgrad.ones(2))
    np.testing.assert_allclose(y.numpy(), [6.0, 6.0])
    assert order == ["b", "a"]


def test_apply_init_and_to_dtype_buffers():
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))

    def init_weights(m):
        if isinstance(m, nn.Linear):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    assert net.apply(init_weights) is net
    assert (net[0].weight.numpy() == 1).all() and not net[2].bias.numpy().any()
    net.half()
    assert all(p.dtype is vkgrad.float16 for p in net.parameters())


# ---------------------------------------------------------------- containers and layers


def test_module_list():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and len(list(layers.parameters())) == 6
    layers.append(nn.ReLU())
    layers.insert(0, nn.Identity())
    assert [type(m).__name__ for m in layers] == ["Identity", "Linear", "Linear", "Linear", "ReLU"]
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    assert type(layers.pop(0)).__name__ == "Identity"
    assert [k for k, _ in layers.named_children()] == ["0", "1", "2", "3"]
    layers += [nn.Tanh()]
    assert len(layers) == 5 and isinstance(layers[-1], nn.Tanh)
    del layers[0]
    assert [n for n, _ in layers.named_parameters()][0] == "0.weight"
    with pytest.raises(IndexError):
        layers[10]
    rep = repr(nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2), nn.ReLU()]))
    assert rep == (
        "ModuleList(\n  (0-1): 2 x Linear(in_features=2, out_features=2, bias=True)\n"
        "  (2): ReLU()\n)"
    )


def test_module_dict_and_parameter_containers():
    heads = nn.ModuleDict({"a": nn.Linear(2, 3), "b": nn.Linear(2, 1)})
    heads["c"] = nn.ReLU()
    assert list(heads) == ["a", "b", "c"] and "b" in heads and len(heads) == 3
    assert [n for n, _ in heads.named_parameters()] == ["a.weight", "a.bias", "b.weight", "b.bias"]
    heads.update([("d", nn.Tanh())])
    assert isinstance(heads.pop("d"), nn.Tanh) and list(heads.keys()) == ["a", "b", "c"]
    pl = nn.ParameterList([vkgrad.ones(2), nn.Parameter(vkgrad.zeros(3))])
    assert len(pl) == 2 and all(isinstance(p, nn.Parameter) for p in pl)
    assert [n for n, _ in pl.named_parameters()] == ["0", "1"]
    pd = nn.ParameterDict({"w": vkgrad.ones(2)})
    assert isinstance(pd["w"], nn.Parameter) and "w" in pd and len(list(pd.parameters())) == 1


def test_unflatten():
    x = vkgrad.tensor(np.arange(24.0).reshape(2, 12), dtype="f32")
    y = nn.Unflatten(1, (3, 4))(x)
    np.testing.assert_array_equal(y.numpy(), np.arange(24.0).reshape(2, 3, 4))
    assert nn.Unflatten(-1, (2, -1))(x).shape == (2, 2, 6)
    assert repr(nn.Unflatten(1, (3, 4))) == "Unflatten(dim=1, unflattened_size=(3, 4))"
    with pytest.raises(RuntimeError, match="does not multiply"):
        nn.Unflatten(1, (5, 2))(x)


@pytest.mark.parametrize("device", DEVICES)
def test_softmax_modules(device):
    _skip_no_vulkan(device)
    x = np.random.default_rng(0).standard_normal((3, 5))
    t = vkgrad.tensor(x, device=device, dtype="f32")
    e = np.exp(x - x.max(1, keepdims=True))
    ref = e / e.sum(1, keepdims=True)
    np.testing.assert_allclose(nn.Softmax(dim=1)(t).numpy(), ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(nn.LogSoftmax(dim=-1)(t).numpy(), np.log(ref), rtol=1e-5)
    ref0 = np.exp(x) / np.exp(x).sum(0)
    np.testing.assert_allclose(nn.Softmax(0)(t).numpy(), ref0, rtol=1e-5, atol=1e-6)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        out = nn.Softmax()(t)  # legacy: dim 1 for 2-D input
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-5, atol=1e-6)
    assert repr(nn.LogSoftmax(dim=1)) == "LogSoftmax(dim=1)"


@pytest.mark.parametrize("device", DEVICES)
def test_bilinear_vs_numpy(device):
    _skip_no_vulkan(device)
    rng = np.random.default_rng(1)
    bl = nn.Bilinear(3, 4, 5, device=device, dtype="f32")
    w, b = bl.weight.numpy().astype(np.float64), bl.bias.numpy().astype(np.float64)
    x1 = rng.standard_normal((2, 7, 3))
    x2 = rng.standard_normal((2, 7, 4))
    t1 = vkgrad.tensor(x1, device=device, dtype="f32", requires_grad=True)
    t2 = vkgrad.tensor(x2, device=device, dtype="f32", requires_grad=True)
    y = bl(t1, t2)
    ref = np.einsum("nti,oij,ntj->nto", x1, w, x2) + b
    assert y.shape == (2, 7, 5)
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-4, atol=1e-5)
    gy = rng.standard_normal((2, 7, 5))
    (y * vkgrad.tensor(gy, device=device, dtype="f32")).sum().backward()
    np.testing.assert_allclose(
        t1.grad.numpy(), np.einsum("nto,oij,ntj->nti", gy, w, x2), rtol=1e-4, atol=1e-5
    )
    np.testing.assert_allclose(
        t2.grad.numpy(), np.einsum("nto,oij,nti->ntj", gy, w, x1), rtol=1e-4, atol=1e-5
    )
    np.testing.assert_allclose(
        bl.weight.grad.numpy(), np.einsum("nto,nti,ntj->oij", gy, x1, x2), rtol=1e-4, atol=1e-4
    )
    np.testing.assert_allclose(bl.bias.grad.numpy(), gy.sum((0, 1)), rtol=1e-4, atol=1e-5)
    with pytest.raises(RuntimeError, match="bilinear"):
        bl(t1, t1)


def test_bilinear_default_init_bounds_and_repr():
    vkgrad.manual_seed(0)
    bl = nn.Bilinear(16, 3, 40)
    k = 1 / math.sqrt(16)
    w = bl.weight.numpy()
    assert w.shape == (40, 16, 3) and np.abs(w).max() <= k and np.abs(w).max() > 0.95 * k
    assert np.abs(bl.bias.numpy()).max() <= k
    assert repr(bl) == "Bilinear(in1_features=16, in2_features=3, out_features=40, bias=True)"
    assert nn.Bilinear(2, 2, 2, bias=False).bias is None


# ---------------------------------------------------------------- init, statistically
# n = 131072 draws: the sample std of a uniform / normal has a relative standard error of
# sqrt(0.8/(4n)) = 0.12% / sqrt(1/(2n)) = 0.2%, the mean an error of std/sqrt(n) = 0.28% of
# std. The bounds below (1% on std, 2% of std on the mean) are > 5 standard errors.


def _big(shape=(256, 512)):
    return vkgrad.zeros(*shape)


@pytest.mark.parametrize(
    "fn,kwargs,std",
    [
        (nn.init.xavier_uniform_, dict(gain=2.0), 2.0 * math.sqrt(2.0 / (512 + 256))),
        (nn.init.xavier_normal_, dict(gain=0.5), 0.5 * math.sqrt(2.0 / (512 + 256))),
        (nn.init.kaiming_uniform_, dict(nonlinearity="relu"), math.sqrt(2.0 / 512)),
        (nn.init.kaiming_normal_, dict(mode="fan_out", nonlinearity="relu"), math.sqrt(2 / 256)),
        (nn.init.kaiming_normal_, dict(a=0.2), math.sqrt(2.0 / (1 + 0.04)) / math.sqrt(512)),
        (nn.init.kaiming_uniform_, dict(a=math.sqrt(5)), 1 / math.sqrt(3 * 512)),
        (nn.init.normal_, dict(mean=0.0, std=0.3), 0.3),
        (nn.init.uniform_, dict(a=-2.0, b=2.0), 2.0 / math.sqrt(3)),
        (nn.init.trunc_normal_, dict(std=1.0, a=-1.0, b=1.0), 0.5377),
    ],
    ids=lambda v: getattr(v, "__name__", None) if callable(v) else None,
)
def test_init_statistics(fn, kwargs, std):
    # trunc_normal_ on [-1, 1]: std = sqrt(1 - 2 phi(1) / (2 Phi(1) - 1)) = 0.5377
    vkgrad.manual_seed(0)
    t = fn(_big(), **kwargs)
    v = t.numpy().astype(np.float64)
    assert abs(v.mean()) < 0.02 * std
    assert abs(v.std() / std - 1) < 0.01, (v.std(), std)
    if "uniform" in fn.__name__:
        bound = std * math.sqrt(3)
        assert np.abs(v).max() <= bound * (1 + 1e-6) and np.abs(v).max() > 0.999 * bound


def test_orthogonal_init():
    vkgrad.manual_seed(0)
    for shape in [(6, 10), (10, 6), (4, 3, 2, 2)]:
        t = nn.init.orthogonal_(vkgrad.zeros(*shape), gain=2.0)
        q = t.numpy().astype(np.float64).reshape(shape[0], -1)
        rows, cols = q.shape
        gram = q @ q.T if rows <= cols else q.T @ q
        np.testing.assert_allclose(gram, 4.0 * np.eye(min(rows, cols)), atol=1e-5)
    with pytest.raises(ValueError, match="2 or more"):
        nn.init.orthogonal_(vkgrad.zeros(3))


def test_init_other_and_errors():
    t = nn.init.eye_(vkgrad.zeros(2, 3))
    np.testing.assert_array_equal(t.numpy(), np.eye(2, 3))
    nn.init.constant_(t, 0.25)
    assert (t.numpy() == 0.25).all()
    assert nn.init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert nn.init.calculate_gain("tanh") == pytest.approx(5 / 3)
    with pytest.raises(ValueError, match="mode"):
        nn.init.kaiming_normal_(vkgrad.zeros(2, 2), mode="fan_avg")
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        nn.init.calculate_gain("swish")
    v = nn.init.trunc_normal_(vkgrad.zeros(1000), mean=1.0, std=2.0, a=0.0, b=1.5).numpy()
    assert v.min() >= 0.0 and v.max() <= 1.5


# ---------------------------------------------------------------- summary


def test_summary_table_and_total():
    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(4, 8), nn.ReLU())
            self.head = nn.Linear(8, 3)
            self.head.bias.requires_grad_(False)

        def forward(self, x):
            return self.head(self.body(x))

    printed = []
    total = nn.summary(Two(), (2, 4), print_fn=printed.append)
    assert total == 4 * 8 + 8 + 8 * 3 + 3 == 67
    text = printed[0]
    lines = text.split("\n")
    assert lines[1].split() == ["Layer", "(type)", "Output", "Shape", "Param", "#"]
    body = [ln.split() for ln in lines[3:8]]
    assert body[0] == ["body", "(Sequential)", "(2,", "8)", "40"]
    assert body[1] == ["body.0", "(Linear)", "(2,", "8)", "40"]
    assert body[2] == ["body.1", "(ReLU)", "(2,", "8)", "0"]
    assert body[3] == ["head", "(Linear)", "(2,", "3)", "27"]
    assert body[4] == ["Output", "(Two)", "(2,", "3)"]
    assert lines[3].startswith("body (") and lines[4].startswith("  body.0 (")
    assert "Total params: 67" in text and "Trainable params: 64" in text
    assert "Non-trainable params: 3" in text
    # the hooks are gone afterwards
    m = nn.Linear(2, 2)
    nn.summary(m, (1, 2), print_fn=lambda s: None)
    assert not m._forward_hooks


def test_summary_multiple_inputs_and_export():
    bl = nn.Bilinear(3, 4, 2)
    out = []
    assert vkgrad.nn.summary(bl, [(5, 3), (5, 4)], print_fn=out.append) == 3 * 4 * 2 + 2
    assert "Output (Bilinear)" in out[0] and "(5, 2)" in out[0]


def test_deepcopy_of_a_model_copies_values_on_its_device(device):
    import copy

    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).to(device)
    twin = copy.deepcopy(model)
    for (n, p), (n2, q) in zip(model.named_parameters(), twin.named_parameters()):
        assert n == n2 and q is not p and type(q) is type(p)
        assert q.device == p.device and q.dtype is p.dtype and q.requires_grad
        assert np.array_equal(q.numpy(), p.numpy())
    with vkgrad.no_grad():
        twin[0].weight.add_(1.0)  # the copy owns its storage
    assert not np.array_equal(twin[0].weight.numpy(), model[0].weight.numpy())
    y = vkgrad.randn(5, 3, device=device)
    assert twin(y).shape == (5, 2)
