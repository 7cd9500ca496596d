"""Learning-rate schedulers against closed forms and hand-traced values (PyTorch's documented
formulas), never against the code under test."""

from __future__ import annotations

import math

import numpy as np
import pytest

import vkgrad
from vkgrad import nn, optim
from vkgrad.optim import lr_scheduler as S


def _opt(lr=1.0, kind="sgd", groups=1, **kw):
    ps = [nn.Parameter(vkgrad.ones(2)) for _ in range(groups)]
    if kind == "adam":
        return optim.Adam([{"params": [p]} for p in ps], lr=lr, **kw)
    return optim.SGD([{"params": [p]} for p in ps], lr=lr, **kw)


def _trace(sched, n, metric=None):
    """lr after construction, then after each of n steps (group 0)."""
    out = [sched.get_last_lr()[0]]
    for _ in range(n):
        sched.step()
        out.append(sched.get_last_lr()[0])
        assert sched.optimizer.param_groups[0]["lr"] == out[-1]
    return out


def test_step_lr():
    got = _trace(S.StepLR(_opt(), step_size=3, gamma=0.5), 10)
    np.testing.assert_allclose(got, [0.5 ** (e // 3) for e in range(11)], rtol=1e-12)


def test_multistep_lr_with_repeated_milestone():
    got = _trace(S.MultiStepLR(_opt(2.0), milestones=[2, 5, 5], gamma=0.1), 7)
    np.testing.assert_allclose(got, [2, 2, 0.2, 0.2, 0.2, 0.002, 0.002, 0.002], rtol=1e-12)


def test_exponential_lr():
    got = _trace(S.ExponentialLR(_opt(0.5), gamma=0.9), 6)
    np.testing.assert_allclose(got, [0.5 * 0.9**e for e in range(7)], rtol=1e-12)


def test_cosine_annealing_lr_closed_form_past_t_max():
    got = _trace(S.CosineAnnealingLR(_opt(1.0), T_max=10, eta_min=0.1), 25)
    ref = [0.1 + 0.9 * (1 + math.cos(math.pi * e / 10)) / 2 for e in range(26)]
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-12)
    assert got[10] == pytest.approx(0.1) and got[20] == pytest.approx(1.0)


def test_linear_lr_warmup():
    got = _trace(S.LinearLR(_opt(1.0), start_factor=0.25, end_factor=1.0, total_iters=4), 6)
    np.testing.assert_allclose(got, [0.25, 0.4375, 0.625, 0.8125, 1.0, 1.0, 1.0], rtol=1e-12)
    with pytest.raises(ValueError, match="Starting multiplicative factor"):
        S.LinearLR(_opt(), start_factor=0)


def test_constant_lr():
    got = _trace(S.ConstantLR(_opt(1.0), factor=0.5, total_iters=3), 5)
    np.testing.assert_allclose(got, [0.5, 0.5, 0.5, 1.0, 1.0, 1.0], rtol=1e-12)


def test_lambda_lr_per_group():
    opt = _opt(1.0, groups=2)
    opt.param_groups[1]["lr"] = 3.0
    sched = S.LambdaLR(opt, [lambda e: 1 / (e + 1), lambda e: 0.5**e])
    for e in range(5):
        assert sched.get_last_lr() == pytest.approx([1 / (e + 1), 3.0 * 0.5**e])
        sched.step()
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas"):
        S.LambdaLR(opt, [lambda e: 1.0])


def test_chained_schedulers_multiply():
    opt = _opt(1.0)
    a = S.StepLR(opt, step_size=3, gamma=0.5)
    b = S.ExponentialLR(opt, gamma=0.9)
    for e in range(1, 10):
        a.step()
        b.step()
        assert opt.param_groups[0]["lr"] == pytest.approx(0.5 ** (e // 3) * 0.9**e)


def test_step_with_epoch_uses_closed_form():
    sched = S.StepLR(_opt(1.0), step_size=2, gamma=0.1)
    sched.step(5)
    assert sched.get_last_lr() == pytest.approx([0.01])
    sched = S.CosineAnnealingLR(_opt(1.0), T_max=8)
    sched.step(2)
    assert sched.get_last_lr() == pytest.approx([(1 + math.cos(math.pi / 4)) / 2])


def _one_cycle_ref(step, total, max_lr, pct, div, fdiv, anneal, lo_m, hi_m):
    init, top = max_lr / div, max_lr
    low = init / fdiv
    end1 = pct * total - 1

    def f(a, b, p):
        if anneal == "cos":
            return b + (a - b) / 2 * (math.cos(math.pi * p) + 1)
        return a + (b - a) * p

    if step <= end1:
        p = step / end1
        return f(init, top, p), f(hi_m, lo_m, p)
    p = (step - end1) / (total - 1 - end1)
    return f(top, low, p), f(lo_m, hi_m, p)


@pytest.mark.parametrize("anneal", ["cos", "linear"])
@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_one_cycle_lr(anneal, kind):
    opt = _opt(0.123, kind=kind, **({"momentum": 0.9} if kind == "sgd" else {}))
    total = 10
    sched = S.OneCycleLR(opt, max_lr=1.0, total_steps=total, anneal_strategy=anneal)
    g = opt.param_groups[0]
    for step in range(total):
        lr, m = _one_cycle_ref(step, total, 1.0, 0.3, 25.0, 1e4, anneal, 0.85, 0.95)
        assert g["lr"] == pytest.approx(lr, rel=1e-12), step
        got_m = g["betas"][0] if kind == "adam" else g["momentum"]
        assert got_m == pytest.approx(m, rel=1e-12), step
        if kind == "adam":
            assert g["betas"][1] == 0.999
        sched.step()
    assert _one_cycle_ref(9, total, 1.0, 0.3, 25.0, 1e4, anneal, 0.85, 0.95)[0] == pytest.approx(
        1.0 / 25 / 1e4
    )
    with pytest.raises(ValueError, match="Tried to step 11 times"):
        sched.step()


def test_one_cycle_lr_hand_values_and_errors():
    opt = _opt(0.5)
    sched = S.OneCycleLR(opt, max_lr=1.0, epochs=2, steps_per_epoch=5, cycle_momentum=False)
    # phase 1 ends at step 2: lr = 1 + (0.04 - 1)/2 (cos(pi s/2) + 1)
    assert _trace(sched, 2) == pytest.approx([0.04, 0.52, 1.0])
    with pytest.raises(ValueError, match="total_steps"):
        S.OneCycleLR(_opt(), max_lr=1.0)
    with pytest.raises(ValueError, match="momentum or beta1"):
        S.OneCycleLR(optim.Adagrad([nn.Parameter(vkgrad.ones(1))]), max_lr=1.0, total_steps=5)


def test_reduce_lr_on_plateau_hand_trace():
    opt = _opt(1.0)
    sched = S.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=2, cooldown=1, min_lr=0.1)
    metrics = [10, 9] + [9] * 17
    got = []
    for m in metrics:
        sched.step(m)
        got.append(sched.get_last_lr()[0])
    # bad epochs counted after the last improvement (epoch 2); reduce when > patience, then
    # one cooldown epoch during which bad epochs are not counted; never below min_lr.
    ref = [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25] + [0.125] * 4 + [0.1] * 3
    assert got == pytest.approx(ref)


def test_reduce_lr_on_plateau_threshold_modes():
    # max/rel: an improvement must beat best * (1 + threshold)
    opt = _opt(1.0)
    sched = S.ReduceLROnPlateau(opt, mode="max", factor=0.1, patience=1, threshold=0.1)
    for m in [1.0, 1.05, 1.09]:  # neither beats 1.1
        sched.step(m)
    assert sched.get_last_lr() == pytest.approx([0.1])
    # min/abs: must beat best - threshold
    opt = _opt(1.0)
    sched = S.ReduceLROnPlateau(opt, factor=0.5, patience=1, threshold=0.5, threshold_mode="abs")
    for m in [5.0, 4.4, 4.0]:  # 4.4 beats 4.5, 4.0 does not beat 3.9
        sched.step(m)
    assert sched.get_last_lr() == pytest.approx([1.0])
    sched.step(4.0)
    assert sched.get_last_lr() == pytest.approx([0.5])
    sched.step(vkgrad.tensor(0.1))  # a tensor metric is read back
    assert sched.best == pytest.approx(0.1)
    with pytest.raises(ValueError, match="Factor"):
        S.ReduceLROnPlateau(opt, factor=1.0)


def test_sequential_lr_warmup_then_decay():
    opt = _opt(1.0)
    warm = S.LinearLR(opt, start_factor=0.1, total_iters=2)
    decay = S.ExponentialLR(opt, gamma=0.5)
    sched = S.SequentialLR(opt, [warm, decay], milestones=[3])
    got = _trace(sched, 6)
    assert got == pytest.approx([0.1, 0.55, 1.0, 1.0, 0.5, 0.25, 0.125])

    opt = _opt(1.0)
    warm = S.LinearLR(opt, start_factor=0.5, total_iters=2)
    cos = S.CosineAnnealingLR(opt, T_max=4)
    sched = S.SequentialLR(opt, [warm, cos], milestones=[2])
    got = _trace(sched, 6)
    ref = [0.5, 0.75] + [(1 + math.cos(math.pi * t / 4)) / 2 for t in range(5)]
    assert got == pytest.approx(ref)
    with pytest.raises(ValueError, match="number of milestone"):
        S.SequentialLR(opt, [warm, cos], milestones=[])


@pytest.mark.parametrize(
    "make",
    [
        lambda o: S.StepLR(o, 2, 0.5),
        lambda o: S.CosineAnnealingLR(o, T_max=5, eta_min=0.01),
        lambda o: S.OneCycleLR(o, max_lr=2.0, total_steps=12),
        lambda o: S.SequentialLR(
            o, [S.LinearLR(o, 0.2, total_iters=3), S.ExponentialLR(o, 0.8)], milestones=[3]
        ),
    ],
    ids=["step", "cosine", "onecycle", "sequential"],
)
def test_scheduler_state_dict_resumes(make):
    opt_a = _opt(1.0, momentum=0.9)
    a = make(opt_a)
    for _ in range(4):
        a.step()
    sd = a.state_dict()
    assert "optimizer" not in sd
    opt_b = _opt(1.0, momentum=0.9)
    b = make(opt_b)
    b.load_state_dict(sd)
    opt_b.load_state_dict(opt_a.state_dict())
    for _ in range(5):
        a.step()
        b.step()
        assert b.get_last_lr() == pytest.approx(a.get_last_lr())
        assert opt_b.param_groups[0]["lr"] == pytest.approx(opt_a.param_groups[0]["lr"])


def test_plateau_state_dict():
    opt = _opt(1.0)
    a = S.ReduceLROnPlateau(opt, patience=0)
    a.step(1.0)
    a.step(2.0)
    b = S.ReduceLROnPlateau(_opt(1.0), patience=0)
    b.load_state_dict(a.state_dict())
    assert (b.best, b.last_epoch, b.num_bad_epochs) == (1.0, 2, 0)


def test_scheduler_drives_the_update_kernel():
    # The optimizer reads group["lr"] at every step: the schedule reaches the kernel.
    p = nn.Parameter(vkgrad.tensor([0.0]))
    opt = optim.SGD([p], lr=1.0)
    sched = S.StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(3):
        p.grad = vkgrad.tensor([1.0])
        opt.step()
        sched.step()
    np.testing.assert_allclose(p.numpy(), [-(1 + 0.5 + 0.25)])


def _lrs_over(sched, opt, n):
    out = []
    for _ in range(n):
        out.append(opt.param_groups[0]["lr"])
        sched.step()
    return out


def test_cosine_warm_restarts_follow_sgdr():
    opt = vkgrad.optim.SGD([vkgrad.zeros(1, requires_grad=True)], lr=1.0)
    sched = S.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2)
    c = math.cos
    # cycles of 2, 4, 8 steps, each from 1 down the half cosine
    want = [1, 0.5, 1, (1 + c(math.pi / 4)) / 2, 0.5, (1 + c(3 * math.pi / 4)) / 2, 1]
    assert _lrs_over(sched, opt, 7) == pytest.approx(want)
    sched.step(11)  # closed form: epoch 11 is 5 steps into the 8-step cycle starting at 6
    assert opt.param_groups[0]["lr"] == pytest.approx((1 + c(math.pi * 5 / 8)) / 2)


@pytest.mark.parametrize(
    "mode,want",
    [
        ("triangular", [0.1, 0.55, 1.0, 0.55, 0.1, 0.55, 1.0]),
        ("triangular2", [0.1, 0.55, 1.0, 0.55, 0.1, 0.325, 0.55]),
    ],
)
def test_cyclic_lr_triangles(mode, want):
    opt = vkgrad.optim.Adam([vkgrad.zeros(1, requires_grad=True)], lr=5.0)
    sched = S.CyclicLR(opt, base_lr=0.1, max_lr=1.0, step_size_up=2, mode=mode)
    assert _lrs_over(sched, opt, 7) == pytest.approx(want)
    # momentum (Adam's beta1) moves against the lr: 0.9 at base_lr, 0.8 at max_lr
    lr = opt.param_groups[0]["lr"]
    assert opt.param_groups[0]["betas"][0] == pytest.approx(0.9 - 0.1 * (lr - 0.1) / 0.9)
