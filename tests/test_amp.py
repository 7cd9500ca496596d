"""Mixed precision: autocast's dtype per op, its cast cache and scope; GradScaler's scaling,
skipped steps and scale schedule, eager and inside a captured step; and f16 autocast
training of the digits MLP and CNN against f32."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import vkgrad
import vkgrad.nn.functional as F
from vkgrad import autocasting, nn, optim
from vkgrad.amp import GradScaler, autocast

ROOT = Path(__file__).resolve().parents[1]
f16, f32 = vkgrad.float16, vkgrad.float32


def _dev_type(device: str) -> str:
    return "cpu" if device == "cpu" else "vulkan"


def _x(device, *shape, dtype=f32, seed=0):
    rng = np.random.default_rng(seed)
    return vkgrad.tensor(rng.standard_normal(shape).astype(np.float32), dtype=dtype, device=device)


# ---------------------------------------------------------------- autocast


def test_the_docs_list_the_policy():
    text = (ROOT / "docs" / "amp.md").read_text()

    def listed(heading):
        section = text.split(heading, 1)[1].split("\n\n", 2)[1]
        return set(re.findall(r"`(\w+)`", section))

    assert listed("### Run in f16") == set(autocasting.F16_OPS)
    assert listed("### Run in f32") == set(autocasting.F32_OPS)


def test_listed_ops_get_their_dtype(device):
    a, b = _x(device, 4, 5), _x(device, 5, 3, seed=1)
    w, h = _x(device, 3, 5, seed=2), _x(device, 4, 5, dtype=f16, seed=3)
    img, k = _x(device, 1, 2, 6, 6, seed=4), _x(device, 3, 2, 3, 3, seed=5)
    q = _x(device, 1, 2, 4, 8, seed=6)
    y = vkgrad.tensor([0, 2, 1, 0], device=device)
    with autocast(_dev_type(device)):
        f16_outputs = {
            "matmul": a @ b,
            "mm": vkgrad.mm(a, b),
            "linear": F.linear(a, w),
            "linear(bias)": F.linear(a, w, _x(device, 3, seed=7)),
            "conv2d": F.conv2d(img, k, padding=1),
            "sdpa": F.scaled_dot_product_attention(q, q, q),
        }
        f32_outputs = {
            "softmax": F.softmax(h, dim=-1),
            "log_softmax": F.log_softmax(h, dim=-1),
            "cross_entropy": F.cross_entropy(h, y),
            "mse_loss": F.mse_loss(h, h * 0.5),
            "layer_norm": F.layer_norm(h, (5,)),
            "sum": h.sum(),
            "mean": h.mean(),
            "exp": h.exp(),
            "log": (h * h + 1.0).log(),
            "pow": h.pow(2.0),
        }
        same = {"relu(f16)": F.relu(h), "add(f16)": h + h, "gelu(f16)": F.gelu(h)}
    for name, t in f16_outputs.items():
        assert t.dtype is f16, name
    for name, t in f32_outputs.items():
        assert t.dtype is f32, name
    for name, t in same.items():
        assert t.dtype is f16, name
    # Outside the region, nothing is cast.
    assert (a @ b).dtype is f32 and h.sum().dtype is f16


def test_autocast_matmul_equals_the_f16_product(device):
    a, b = _x(device, 6, 7), _x(device, 7, 5, seed=1)
    with autocast(_dev_type(device)):
        got = (a @ b).numpy().astype(np.float64)
    ref = a.numpy().astype(np.float16).astype(np.float64) @ b.numpy().astype(np.float16)
    # f16 operands, f32 accumulation, one f16 rounding of the result.
    np.testing.assert_allclose(got, ref, rtol=2.0**-10, atol=1e-3)


def test_gradients_of_f32_parameters_are_f32_and_right(device):
    model = nn.Linear(5, 3).to(device).float()
    x = _x(device, 4, 5)
    with autocast(_dev_type(device)):
        loss = model(x).float().pow(2.0).sum()
    loss.backward()
    assert model.weight.grad.dtype is f32
    w = model.weight.detach().numpy().astype(np.float16).astype(np.float64)
    xs = x.numpy().astype(np.float16).astype(np.float64)
    out = xs @ w.T + model.bias.detach().numpy().astype(np.float16)
    gw = 2 * out.T @ xs
    np.testing.assert_allclose(model.weight.grad.numpy(), gw, rtol=1e-2, atol=1e-2)


def test_region_scope_disable_device_type_and_decorator(device):
    a = _x(device, 3, 3)
    other = "vulkan" if device == "cpu" else "cpu"
    with autocast(_dev_type(device)):
        with autocast(_dev_type(device), enabled=False):
            assert (a @ a).dtype is f32
            assert not vkgrad.amp.is_autocast_enabled()
        assert (a @ a).dtype is f16
        assert vkgrad.amp.is_autocast_enabled(_dev_type(device))
    with autocast(other):  # tensors of another device type are left alone
        assert (a @ a).dtype is f32

    @autocast(_dev_type(device))
    def forward(t):
        return t @ t

    assert forward(a).dtype is f16 and (a @ a).dtype is f32


def test_a_parameter_is_cast_once_per_region():
    w = nn.Parameter(vkgrad.randn(4, 4, dtype=f32, device="cpu"))
    x = vkgrad.randn(2, 4, dtype=f32, device="cpu")
    with autocast("cpu"):
        y1 = F.linear(x, w)
        y2 = F.linear(x, w)
        nodes = {y1.grad_fn.next_functions[1][0], y2.grad_fn.next_functions[1][0]}
        assert len(nodes) == 1  # both linears read the same cast of w
    with autocast("cpu", cache_enabled=False):
        y1, y2 = F.linear(x, w), F.linear(x, w)
        assert y1.grad_fn.next_functions[1][0] is not y2.grad_fn.next_functions[1][0]


def test_bad_arguments_name_autocast():
    with pytest.raises(ValueError, match="autocast: device_type must be one of"):
        autocast("tpu")
    with pytest.raises(ValueError, match="autocast: dtype must be float16"):
        autocast("cpu", dtype="f32")


# ---------------------------------------------------------------- GradScaler


def _setup(device, opt_cls=optim.Adam, **opt_kw):
    vkgrad.manual_seed(0)
    model = nn.Linear(4, 2).to(device).float()
    opt = opt_cls(model.parameters(), **opt_kw)
    x = _x(device, 8, 4)
    y = vkgrad.tensor([0, 1] * 4, device=device)
    return model, opt, x, y


def _params(model):
    return [p.detach().numpy().copy() for p in model.parameters()]


def _moments(opt):
    return [
        v.numpy().copy() for st in opt.state.values() for v in st.values() if hasattr(v, "numpy")
    ]


def test_scaled_steps_match_unscaled_ones(device):
    model, opt, x, y = _setup(device, lr=0.05)
    ref, ref_opt, _, _ = _setup(device, lr=0.05)
    scaler = GradScaler(init_scale=1024.0)
    for _ in range(3):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        ref_opt.zero_grad()
        F.cross_entropy(ref(x), y).backward()
        ref_opt.step()
    for p, q in zip(_params(model), _params(ref)):
        np.testing.assert_allclose(p, q, rtol=1e-5, atol=1e-6)
    assert scaler.get_scale() == 1024.0  # no overflow, growth_interval not reached


# The injected inf makes the cpu kernels' NumPy warn (inf - inf in the softmax): expected.
_INF_INPUT = pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")


@_INF_INPUT
def test_an_overflow_skips_the_step_and_backs_off(device):
    model, opt, x, y = _setup(device, lr=0.05)
    scaler = GradScaler(init_scale=256.0, growth_interval=3)
    opt.zero_grad()
    scaler.scale(F.cross_entropy(model(x), y)).backward()
    scaler.step(opt)
    scaler.update()
    before, moments, steps = (
        _params(model),
        _moments(opt),
        [st["step"] for st in opt.state.values()],
    )
    bad = x.numpy().copy()
    bad[0, 0] = np.inf
    opt.zero_grad()
    scaler.scale(F.cross_entropy(model(vkgrad.tensor(bad, device=device)), y)).backward()
    assert scaler.step(opt) is None
    scaler.update()
    for p, q in zip(_params(model), before):
        np.testing.assert_array_equal(p, q)
    for m, n in zip(_moments(opt), moments):
        np.testing.assert_array_equal(m, n)
    assert [st["step"] for st in opt.state.values()] == steps
    assert scaler.get_scale() == 128.0 and scaler.state_dict()["_growth_tracker"] == 0
    # Training resumes, and three clean steps grow the scale back.
    for _ in range(3):
        opt.zero_grad()
        scaler.scale(F.cross_entropy(model(x), y)).backward()
        scaler.step(opt)
        scaler.update()
    assert scaler.get_scale() == 256.0
    assert not np.array_equal(_params(model)[0], before[0])


def test_unscale_then_clip_then_step(device):
    model, opt, x, y = _setup(device, optim.SGD, lr=0.1)
    scaler = GradScaler(init_scale=64.0)
    opt.zero_grad()
    loss = F.cross_entropy(model(x), y)
    scaler.scale(loss).backward()
    scaler.unscale_(opt)
    ref = _setup(device, optim.SGD, lr=0.1)
    F.cross_entropy(ref[0](x), y).backward()
    np.testing.assert_allclose(
        model.weight.grad.numpy(), ref[0].weight.grad.numpy(), rtol=1e-5, atol=1e-7
    )
    with pytest.raises(RuntimeError, match="already called"):
        scaler.unscale_(opt)
    scaler.step(opt)
    with pytest.raises(RuntimeError, match="already called"):
        scaler.step(opt)
    scaler.update()


def test_state_dict_round_trip_and_disabled_scaler(device):
    model, opt, x, y = _setup(device)
    scaler = GradScaler(init_scale=8.0, growth_factor=4.0, backoff_factor=0.25, growth_interval=7)
    scaler.scale(F.cross_entropy(model(x), y)).backward()
    scaler.step(opt)
    scaler.update()
    state = scaler.state_dict()
    assert state == {
        "scale": 8.0,
        "growth_factor": 4.0,
        "backoff_factor": 0.25,
        "growth_interval": 7,
        "_growth_tracker": 1,
    }
    other = GradScaler()
    other.load_state_dict(state)
    assert other.state_dict() == state
    off = GradScaler(enabled=False)
    loss = F.cross_entropy(model(x), y)
    assert off.scale(loss) is loss and off.get_scale() == 1.0 and off.state_dict() == {}


def test_bad_arguments_name_gradscaler():
    with pytest.raises(ValueError, match="GradScaler: growth_factor must be > 1"):
        GradScaler(growth_factor=1.0)
    with pytest.raises(ValueError, match="GradScaler: backoff_factor"):
        GradScaler(backoff_factor=1.5)


@_INF_INPUT
def test_a_captured_scaled_step_skips_an_injected_overflow(device):
    model, opt, x, y = _setup(device, lr=0.05)
    scaler = GradScaler(init_scale=256.0)

    @vkgrad.capture
    def step(xb, yb):
        opt.zero_grad()
        with autocast(_dev_type(device)):
            loss = F.cross_entropy(model(xb), yb)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        return loss

    for _ in range(3):  # warm-up, recording, first replay
        step(x, y)
    assert step.replays >= 1
    before, moments = _params(model), _moments(opt)
    scale = scaler.get_scale()
    bad = x.numpy().copy()
    bad[3, 1] = np.inf
    step(vkgrad.tensor(bad, device=device), y)
    for p, q in zip(_params(model), before):
        np.testing.assert_array_equal(p, q)
    for m, n in zip(_moments(opt), moments):
        np.testing.assert_array_equal(m, n)
    assert scaler.get_scale() == scale / 2
    step(x, y)  # training resumes
    assert not np.array_equal(_params(model)[0], before[0])
    assert scaler.get_scale() == scale / 2


# ---------------------------------------------------------------- training


def _digits():
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))
    x, y = x[order], y[order].astype(np.int32)
    return x[:1400], y[:1400], x[1400:], y[1400:]


def _train(make_model, device, amp: bool, epochs: int, shape=(64,)) -> float:
    xtr, ytr, xte, yte = _digits()
    vkgrad.manual_seed(0)
    model = make_model().to(device).float()
    opt = optim.Adam(model.parameters(), lr=3e-3)
    scaler = GradScaler(enabled=amp)
    dt = _dev_type(device)
    for _ in range(epochs):
        for i in range(0, len(xtr), 100):
            xb = vkgrad.tensor(xtr[i : i + 100].reshape(-1, *shape), device=device)
            yb = vkgrad.tensor(ytr[i : i + 100], device=device)
            opt.zero_grad()
            with autocast(dt, enabled=amp):
                loss = F.cross_entropy(model(xb), yb)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
    with vkgrad.no_grad(), autocast(dt, enabled=amp):
        logits = model(vkgrad.tensor(xte.reshape(-1, *shape), device=device))
    return float((logits.float().numpy().argmax(1) == yte).mean())


@pytest.mark.parametrize(
    "name,make_model,epochs,shape",
    [
        ("mlp", lambda: nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)), 8, (64,)),
        (
            "cnn",
            lambda: nn.Sequential(
                nn.Conv2d(1, 8, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Flatten(),
                nn.Linear(8 * 4 * 4, 10),
            ),
            10,
            (1, 8, 8),
        ),
    ],
)
def test_f16_autocast_training_reaches_f32_accuracy(device, name, make_model, epochs, shape):
    pytest.importorskip("sklearn")
    acc32 = _train(make_model, device, False, epochs, shape)
    acc16 = _train(make_model, device, True, epochs, shape)
    assert acc32 > 0.9, (name, acc32)
    assert acc16 >= acc32 - 0.01, (name, acc16, acc32)
