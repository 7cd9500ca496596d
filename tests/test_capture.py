"""vkgrad.capture: a replayed step must do exactly what the eager step does.

Each test trains two identical models side by side, one eagerly and one through
``vkgrad.capture``, and compares losses, parameters, gradients and optimizer state after
every step. The kernels are the same ones in the same order, so on the cpu the results are
bit-identical; on Vulkan too (same shaders, same buffers), checked with a tight tolerance.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
import pytest

import vkgrad
import vkgrad.nn.functional as F
from vkgrad import nn, optim
from vkgrad.capturing import CaptureError

CASES = [
    ("cpu", "f32"),
    ("cpu", "f64"),
    pytest.param("vulkan", "f32", marks=pytest.mark.vulkan),
    pytest.param("vulkan", "f16", marks=pytest.mark.vulkan),
]
DEVICES = ["cpu", pytest.param("vulkan", marks=pytest.mark.vulkan)]


def _skip_no_vulkan(device: str) -> None:
    if device == "vulkan" and not any(d["device"].startswith("vulkan") for d in vkgrad.devices()):
        pytest.skip("no Vulkan device")


def _same(a, b, device: str, what: str) -> None:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if device == "cpu":
        np.testing.assert_array_equal(a, b, err_msg=what)
    else:
        # Same shaders on the same buffers: only a driver reordering float sums could differ.
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6, err_msg=what)


def _batches(device, dtype, n=4, rows=(16, 16, 16, 16), seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        x = rng.standard_normal((rows[i % len(rows)], 12))
        y = rng.integers(0, 5, rows[i % len(rows)]).astype(np.int32)
        out.append((vkgrad.tensor(x, device=device, dtype=dtype), vkgrad.tensor(y, device=device)))
    return out


def _mlp(device, dtype, seed=0):
    vkgrad.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(12, 33), nn.ReLU(), nn.Linear(33, 17), nn.Tanh(), nn.Linear(17, 5)
    ).to(device=device, dtype=dtype)


def _step_fn(model, opt, sched=None):
    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
        return loss

    return step


def _compare(m1, o1, m2, o2, device, when):
    for (name, p), q in zip(m1.named_parameters(), m2.parameters()):
        _same(p.numpy(), q.numpy(), device, f"{when}: {name}")
        _same(p.grad.numpy(), q.grad.numpy(), device, f"{when}: {name}.grad")
    for p, q in zip(m1.parameters(), m2.parameters()):
        s1, s2 = o1.state[p], o2.state[q]
        assert s1.keys() == s2.keys()
        for k in s1:
            if isinstance(s1[k], vkgrad.Tensor):
                _same(s1[k].numpy(), s2[k].numpy(), device, f"{when}: state {k}")
            else:
                assert s1[k] == s2[k], f"{when}: state {k}"


def _eager_vs_captured(make, m1, o1, m2, o2, device, what, steps=5):
    """Run ``make(model, opt)``'s step eagerly on twin 1 and captured on twin 2."""
    eager, captured = make(m1, o1), vkgrad.capture(make(m2, o2))
    for i, (x, y) in enumerate(_batches(device, "f32", n=steps)):
        _same(eager(x, y).numpy(), captured(x, y).numpy(), device, f"step {i}: {what}")
        _compare(m1, o1, m2, o2, device, f"step {i}")


def _train_pair(device, dtype, make_opt, steps=7, sched=None, rows=(16,)):
    _skip_no_vulkan(device)
    m1, m2 = _mlp(device, dtype), _mlp(device, dtype)
    o1, o2 = make_opt(m1.parameters()), make_opt(m2.parameters())
    s1 = s2 = None
    if sched is not None:
        s1, s2 = sched(o1), sched(o2)
    eager, captured = _step_fn(m1, o1, s1), vkgrad.capture(_step_fn(m2, o2, s2))
    data = _batches(device, dtype, rows=rows)
    for i in range(steps):
        x, y = data[i % len(data)]
        l1, l2 = eager(x, y), captured(x, y)
        _same(l1.numpy(), l2.numpy(), device, f"step {i}: loss")
        _compare(m1, o1, m2, o2, device, f"step {i}")
        if s1 is not None:
            assert s1.get_last_lr() == s2.get_last_lr()
    return captured


@pytest.mark.parametrize("device,dtype", CASES)
def test_adam_step_replays_like_eager(device, dtype):
    cap = _train_pair(device, dtype, lambda ps: optim.Adam(ps, lr=1e-2))
    # call 1 eager, call 2 recorded, the other 5 replayed
    assert cap.replays == 5 and len(cap.graphs) == 1


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(
    "make_opt",
    [
        lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
        lambda ps: optim.AdamW(ps, lr=1e-2, amsgrad=True),
        lambda ps: optim.RMSprop(ps, lr=1e-2, momentum=0.5, centered=True),
        lambda ps: optim.Adagrad(ps, lr=0.1, lr_decay=0.01),
        lambda ps: optim.Adadelta(ps, lr=0.5, weight_decay=1e-3),
        lambda ps: optim.Adamax(ps, lr=1e-2, maximize=True),
        # NAdam's mu_product, RAdam's branch (rectified from step 6 with these betas) and
        # ASGD's eta and mu (averaging from step 5 with t0=2) change on every replay.
        lambda ps: optim.NAdam(ps, lr=1e-2, momentum_decay=0.05, weight_decay=1e-2),
        lambda ps: optim.RAdam(ps, lr=1e-2, decoupled_weight_decay=True, weight_decay=1e-2),
        lambda ps: optim.ASGD(ps, lr=0.05, lambd=1e-2, t0=2),
    ],
    ids=["sgd", "adamw", "rmsprop", "adagrad", "adadelta", "adamax", "nadam", "radam", "asgd"],
)
def test_every_optimizer_replays_like_eager(device, make_opt):
    _train_pair(device, "f32", make_opt, steps=8)


@pytest.mark.parametrize("device", DEVICES)
def test_scheduler_inside_the_step_is_replayed(device):
    # StepLR halves the lr every 2 steps: a replay that kept the recorded lr would drift.
    def sched(o):
        return optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5)

    _train_pair(device, "f32", lambda ps: optim.Adam(ps, lr=5e-2), steps=8, sched=sched)


def test_scheduler_outside_the_step_reaches_the_replay():
    m1, m2 = _mlp("cpu", "f32"), _mlp("cpu", "f32")
    o1, o2 = optim.SGD(m1.parameters(), lr=0.1), optim.SGD(m2.parameters(), lr=0.1)
    s1 = optim.lr_scheduler.ExponentialLR(o1, gamma=0.7)
    s2 = optim.lr_scheduler.ExponentialLR(o2, gamma=0.7)
    eager, captured = _step_fn(m1, o1), vkgrad.capture(_step_fn(m2, o2))
    for i, (x, y) in enumerate(_batches("cpu", "f32", n=6)):
        eager(x, y), captured(x, y)
        s1.step(), s2.step()
        _compare(m1, o1, m2, o2, "cpu", f"step {i}")


@pytest.mark.parametrize("device", DEVICES)
def test_a_new_batch_shape_is_captured_anew(device):
    # 16-row batches then a 7-row last batch, as a DataLoader without drop_last gives.
    cap = _train_pair(device, "f32", lambda ps: optim.Adam(ps), steps=8, rows=(16, 16, 16, 7))
    assert len(cap.graphs) == 2


@pytest.mark.parametrize("device", DEVICES)
def test_conv_batchnorm_running_stats(device):
    """In-place buffer updates (BatchNorm's running stats) are part of the replay."""
    _skip_no_vulkan(device)

    def make():
        vkgrad.manual_seed(3)
        return nn.Sequential(
            nn.Conv2d(2, 4, 3, padding=1),
            nn.BatchNorm2d(4),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(4 * 5 * 5, 3),
        ).to(device)

    m1, m2 = make(), make()
    o1, o2 = optim.Adam(m1.parameters(), lr=1e-2), optim.Adam(m2.parameters(), lr=1e-2)
    eager, captured = _step_fn(m1, o1), vkgrad.capture(_step_fn(m2, o2))
    rng = np.random.default_rng(1)
    for i in range(5):
        x = vkgrad.tensor(rng.standard_normal((6, 2, 5, 5)), device=device)
        y = vkgrad.tensor(rng.integers(0, 3, 6).astype(np.int32), device=device)
        _same(eager(x, y).numpy(), captured(x, y).numpy(), device, f"step {i}: loss")
        bn1, bn2 = m1[1], m2[1]
        _same(bn1.running_mean.numpy(), bn2.running_mean.numpy(), device, "running_mean")
        _same(bn1.running_var.numpy(), bn2.running_var.numpy(), device, "running_var")
    assert captured.replays == 3


@pytest.mark.parametrize("device", DEVICES)
def test_gradient_accumulation_over_micro_batches(device):
    """Two backward passes into the same .grad, then one update: the second accumulates in
    place into the first's gradient (which a replay may hand over without a copy)."""
    _skip_no_vulkan(device)
    m1, m2 = _mlp(device, "f32"), _mlp(device, "f32")
    o1, o2 = optim.SGD(m1.parameters(), lr=0.1), optim.SGD(m2.parameters(), lr=0.1)

    def make(model, opt):
        def step(x, y):
            opt.zero_grad()
            total = 0.0
            for half in (slice(0, 8), slice(8, 16)):
                loss = F.cross_entropy(model(x[half]), y[half])
                loss.backward()
                total = loss + total
            opt.step()
            return total

        return step

    _eager_vs_captured(make, m1, o1, m2, o2, device, "loss")


@pytest.mark.parametrize("device", DEVICES)
def test_ops_on_parameters_alone_are_recomputed(device):
    """An L2 penalty reads only parameters: its kernels take no input made in the step, yet
    the parameters change between replays, so a replay must run them again."""
    _skip_no_vulkan(device)
    m1, m2 = _mlp(device, "f32"), _mlp(device, "f32")
    o1, o2 = optim.SGD(m1.parameters(), lr=0.1), optim.SGD(m2.parameters(), lr=0.1)

    def make(model, opt):
        def step(x, y):
            opt.zero_grad()
            penalty = sum((p * p).sum() for p in model.parameters())
            loss = F.cross_entropy(model(x), y) + 0.01 * penalty
            loss.backward()
            opt.step()
            return penalty

        return step

    _eager_vs_captured(make, m1, o1, m2, o2, device, "penalty")


def test_outputs_are_static_and_grads_follow_the_replay():
    m = _mlp("cpu", "f32")
    o = optim.SGD(m.parameters(), lr=0.1)
    cap = vkgrad.capture(_step_fn(m, o))
    data = _batches("cpu", "f32")
    cap(*data[0])
    first = cap(*data[1])  # recorded
    kept = first.clone()
    again = cap(*data[2])  # replayed: the same object, new value
    assert again is first
    assert again.item() != kept.item()
    # the gradient really is this step's: recompute it eagerly from the pre-step weights
    w = [p.detach().clone() for p in m.parameters()]
    g = [p.grad.numpy().copy() for p in m.parameters()]
    x, y = data[3]
    cap(x, y)
    ref = _mlp("cpu", "f32")
    with vkgrad.no_grad():
        for p, q in zip(ref.parameters(), w):
            p.copy_(q)
    F.cross_entropy(ref(x), y).backward()
    for p, q, old in zip(ref.parameters(), m.parameters(), g):
        np.testing.assert_allclose(q.grad.numpy(), p.grad.numpy(), rtol=1e-5, atol=1e-7)
        assert not np.array_equal(q.grad.numpy(), old)


@pytest.mark.vulkan
def test_vulkan_replay_is_one_submit():
    _skip_no_vulkan("vulkan")
    m = _mlp("vulkan", "f32")
    o = optim.Adam(m.parameters())
    cap = vkgrad.capture(_step_fn(m, o))
    x, y = _batches("vulkan", "f32", n=1)[0]
    cap(x, y), cap(x, y), cap(x, y)  # eager, recorded, first replay (copies the inputs in)
    be = vkgrad.Device.parse("vulkan").backend
    vkgrad.synchronize()
    before = be.stats()
    cap(x, y)  # the same input tensors: nothing to copy in, so one submit
    vkgrad.synchronize()
    after = be.stats()
    assert after["submits"] - before["submits"] == 1
    assert after["dispatches"] == before["dispatches"], "a replay records no dispatch"
    x.mul_(1.0)  # written since: copied in again (one dispatch: y is unchanged)
    vkgrad.synchronize()
    before = be.stats()
    cap(x, y)
    after = be.stats()
    assert after["submits"] - before["submits"] == 2
    assert after["dispatches"] - before["dispatches"] == 1


def test_vulkan_replay_survives_algorithm_eviction():
    """A recorded sequence keeps the algorithms it dispatches: evicting them from the
    backend's cache (many other shapes in between) must not break later replays."""
    _skip_no_vulkan("vulkan")
    be = vkgrad.Device.parse("vulkan").backend
    old = be.max_algorithms
    be.max_algorithms = 4
    be.empty_cache()  # from an empty cache, the step's algorithms are all created anew
    try:
        evicted = be.stats()["algorithms_evicted"]
        _train_pair("vulkan", "f32", lambda ps: optim.Adam(ps, lr=1e-2), steps=5)
        assert be.stats()["algorithms_evicted"] > evicted
    finally:
        be.max_algorithms = old


@pytest.mark.parametrize("device", DEVICES)
def test_replay_checks_the_class_indices_of_new_inputs(device):
    """A replay runs no op rows, yet bad labels in a new batch must raise as in eager mode,
    before the step changes anything."""
    _skip_no_vulkan(device)
    model = _mlp(device, "f32")
    opt = optim.Adam(model.parameters(), lr=1e-2)
    step = vkgrad.capture(_step_fn(model, opt))
    (x, y), _ = _batches(device, "f32", n=2)
    for _ in range(3):  # eager, recorded, replayed
        step(x, y)
    assert step.replays == 1
    before = [p.numpy() for p in model.parameters()]
    bad = vkgrad.tensor(np.full(16, 5, np.int32), device=device)
    with pytest.raises(IndexError, match=r"cross_entropy: target class index 5 out of range"):
        step(x, bad)
    for p, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.numpy(), b)
    step(x, y)  # a good batch still replays
    assert step.replays == 2


@pytest.mark.parametrize("device", DEVICES)
def test_refused_inside_a_capture(device):
    _skip_no_vulkan(device)
    m = _mlp(device, "f32")
    o = optim.SGD(m.parameters(), lr=0.1)
    x, y = _batches(device, "f32", n=1)[0]

    def reads(x, y):
        loss = _step_fn(m, o)(x, y)
        return loss.item()

    def shuffles(x, y):  # drawn on the host: a replay could not repeat it
        return m(x[vkgrad.randperm(x.shape[0], device=x.device)]).sum()

    sched = optim.lr_scheduler.ReduceLROnPlateau(o)

    def plateau(x, y):
        loss = _step_fn(m, o)(x, y)
        sched.step(1.0)
        return loss

    refusals = (
        (reads, "reads tensor values"),
        (shuffles, "randperm draws random numbers on the host"),
        (plateau, "step"),
    )
    for fn, words in refusals:
        cap = vkgrad.capture(fn)
        cap(x, y)  # eager: fine
        with pytest.raises(CaptureError, match=words):
            cap(x, y)
        # a failed capture leaves nothing behind: eager work goes on as before
        be = x.device.backend
        assert not {"run", "reshape", "from_numpy", "to_numpy"} & set(vars(be))
        assert float((x * 2).sum().item()) == pytest.approx(2 * float(x.sum().item()), rel=1e-5)
        assert cap.graphs == {}

    w = vkgrad.tensor(np.ones(3), device=device, requires_grad=True)
    with pytest.raises(CaptureError, match="requires grad"):
        vkgrad.capture(lambda t: t * 2)(w)
    with pytest.raises(CaptureError, match="hashable"):
        vkgrad.capture(lambda t, opts: t * 2)(x, {"a": 1})


@pytest.mark.vulkan
def test_a_step_without_tensor_arguments_runs_where_its_tensors_are():
    # The default device here is the cpu; the step's tensors live on Vulkan.
    w = vkgrad.tensor([1.0, -2.0], device="vulkan", requires_grad=True)
    opt = optim.SGD([w], lr=0.25)

    @vkgrad.capture
    def step():
        opt.zero_grad()
        (w * w).sum().backward()
        opt.step()

    want = np.array([1.0, -2.0])
    for _ in range(4):
        step()
        want = want - 0.25 * 2 * want
        np.testing.assert_allclose(w.numpy(), want, rtol=1e-6)
    assert step.replays == 2


@pytest.mark.vulkan
def test_a_step_on_two_devices_is_refused():
    a = vkgrad.ones(2, device="vulkan")
    b = vkgrad.ones(2, device="cpu")

    @vkgrad.capture
    def step():
        return (a * 2).sum().item() + (b * 2).sum().item()

    step()  # the warm-up runs eagerly
    with pytest.raises(CaptureError, match=r"made tensors on cpu, vulkan:0; .* one device"):
        step()


# ---------------------------------------------------------------- strict=False


def _model_opt(device):
    model = _mlp(device, "f32")
    return model, optim.Adam(model.parameters(), lr=1e-2)


def test_non_strict_capture_still_captures_a_clean_step(device):
    _skip_no_vulkan(device)
    model, opt = _model_opt(device)
    step = vkgrad.capture(_step_fn(model, opt), strict=False)
    for x, y in _batches(device, "f32"):
        step(x, y)
    assert step.eager_reason is None and step.replays == 2


def test_a_step_that_reads_on_the_host_runs_eagerly_once_told(device, caplog):
    _skip_no_vulkan(device)
    m1, o1 = _model_opt(device)
    m2, o2 = _model_opt(device)
    seen = []

    def reading_step(model, opt):
        def step(x, y):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            seen.append(loss.item())  # a host read: a replay could not repeat it
            return loss

        return step

    strict = vkgrad.capture(reading_step(m1, o1))
    loose = vkgrad.capture(reading_step(m2, o2), strict=False)
    batches = _batches(device, "f32")
    strict(*batches[0])
    with pytest.raises(CaptureError, match="reads tensor values on the host"):
        strict(*batches[1])
    with caplog.at_level("WARNING", logger="vkgrad"):
        for x, y in batches:
            loose(x, y)
    assert loose.replays == 0 and not loose.graphs
    assert "reads tensor values" in loose.eager_reason and "test_capture.py" in loose.eager_reason
    assert caplog.text.count("runs eagerly") == 1
    # Eager all along: the losses it read are those of an eager twin.
    m3, o3 = _model_opt(device)
    twin = [reading_step(m3, o3)(x, y).item() for x, y in batches]
    np.testing.assert_allclose(seen[-4:], twin, rtol=1e-6)


def test_an_argument_capture_cannot_key_on_makes_a_non_strict_step_eager(device, caplog):
    model, opt = _model_opt(device)
    calls = []

    def step(x, y, opts):
        calls.append(opts)
        return _step_fn(model, opt)(x, y)

    loose = vkgrad.capture(step, strict=False)
    with caplog.at_level("WARNING", logger="vkgrad"):
        for x, y in _batches(device, "f32", n=2):
            loose(x, y, {"log": True})  # a dict is not hashable
    assert len(calls) == 2 and "nor hashable" in loose.eager_reason
    with pytest.raises(CaptureError, match="nor hashable"):
        vkgrad.capture(step)(x, y, {"log": True})


def test_a_step_drawing_on_the_host_runs_eagerly_when_not_strict(caplog):
    model, opt = _model_opt("cpu")
    order = []

    def step(x, y):
        order.append(vkgrad.randperm(4).numpy().tolist())  # finishes on the host
        return _step_fn(model, opt)(x, y)

    loose = vkgrad.capture(step, strict=False)
    with caplog.at_level("WARNING", logger="vkgrad"):
        for x, y in _batches("cpu", "f32", n=3):
            loose(x, y)
    assert "randperm" in loose.eager_reason and "test_capture.py" in loose.eager_reason
    assert len(order) == 3 and loose.replays == 0


def test_zero_grad_after_the_step_still_replays_every_update(device):
    # The ag API's order: step, then zero_grad. At the next replay's host pass the grads are
    # None, yet the optimizer must make the updates the recording made.
    _skip_no_vulkan(device)
    (m1, o1), (m2, o2) = _model_opt(device), _model_opt(device)

    def late_zero(model, opt):
        def step(x, y):
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            opt.zero_grad()
            return loss

        return step

    captured = vkgrad.capture(late_zero(m1, o1))
    eager = late_zero(m2, o2)
    for x, y in _batches(device, "f32", n=5):
        captured(x, y)
        eager(x, y)
    assert captured.replays == 3
    for p, q in zip(m1.parameters(), m2.parameters()):
        _same(p.numpy(), q.numpy(), device, "parameters after 5 steps")


# ---------------------------------------------------------------- batches in containers

Batch = namedtuple("Batch", "x y")
_PACKS = {
    "list": lambda x, y: ([x, y],),  # a DataLoader's batch
    "tuple": lambda x, y: ((x, y),),
    "dict": lambda x, y: ({"x": x, "y": y},),
    "namedtuple": lambda x, y: (Batch(x, y),),
    "nested": lambda x, y: (((x,), {"y": [y]}),),
}
_UNPACK = {
    "list": lambda b: (b[0], b[1]),
    "tuple": lambda b: (b[0], b[1]),
    "dict": lambda b: (b["x"], b["y"]),
    "namedtuple": lambda b: (b.x, b.y),
    "nested": lambda b: (b[0][0], b[1]["y"][0]),
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("pack", sorted(_PACKS))
def test_a_batch_in_a_container_is_recorded_once_and_replayed(device, pack):
    _skip_no_vulkan(device)
    m1, m2 = _mlp(device, "f32"), _mlp(device, "f32")
    o1, o2 = optim.Adam(m1.parameters()), optim.Adam(m2.parameters())
    eager = _step_fn(m1, o1)
    inner = _step_fn(m2, o2)
    unpack = _UNPACK[pack]

    @vkgrad.capture
    def captured(batch):
        if pack == "namedtuple":
            assert type(batch) is Batch  # rebuilt as its own type around the private copies
        return inner(*unpack(batch))

    for i, (x, y) in enumerate(_batches(device, "f32", n=6)):
        # A new container around new tensors every call, as a loader gives.
        l2 = captured(*_PACKS[pack](x, y))
        _same(eager(x, y).numpy(), l2.numpy(), device, f"step {i}: loss")
        _compare(m1, o1, m2, o2, device, f"step {i}")
    assert len(captured.graphs) == 1 and captured.replays == 4


def test_a_container_of_other_length_or_keys_is_recorded_anew():
    model = _mlp("cpu", "f32")
    opt = optim.SGD(model.parameters(), lr=0.1)
    step = _step_fn(model, opt)

    @vkgrad.capture
    def captured(batch):
        return step(batch["x"], batch["y"])

    (x, y), (x2, y2) = _batches("cpu", "f32", n=2)
    for b in ({"x": x, "y": y}, {"x": x, "y": y}, {"x": x2, "y": y2}):
        captured(b)
    assert len(captured.graphs) == 1
    captured({"x": x, "y": y, "extra": 1})
    captured({"x": x, "y": y, "extra": 1})
    assert len(captured.graphs) == 2
