"""Loss family: large shapes on both backends against float64 NumPy, numerical edge cases
(large logits, zero targets, ignored targets) and bad-input errors. Small shapes are covered by
the op specs (specs_loss.py)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import vulkan_param

import vkgrad
import vkgrad.nn.functional as NF

LARGE = ["cpu", vulkan_param("vulkan", id="vulkan")]


def _log_softmax(x):
    m = x.max(-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))


@pytest.mark.parametrize("dev", LARGE)
def test_large_nll_and_weighted_cross_entropy(dev):
    n, c = 20_011, 7  # 1.4e5 logits, many workgroups
    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, (n, c)).astype(np.float32)
    t = rng.integers(0, c, n).astype(np.int32)
    t[::5] = -100
    w = rng.uniform(0.5, 2, c).astype(np.float32)
    xt = vkgrad.tensor(x, device=dev, requires_grad=True)
    loss = NF.cross_entropy(
        xt, vkgrad.tensor(t, device=dev), weight=vkgrad.tensor(w, device=dev), ignore_index=-100
    )
    lp = _log_softmax(x.astype(np.float64))
    keep = t != -100
    tk = np.where(keep, t, 0)
    wt = np.where(keep, w[tk], 0.0)
    ref = -(wt * lp[np.arange(n), tk]).sum() / wt.sum()
    assert loss.item() == pytest.approx(ref, rel=1e-5)
    loss.backward()
    p = np.exp(lp)
    onehot = np.zeros((n, c))
    onehot[np.arange(n), tk] = 1
    gref = wt[:, None] * (p - onehot) / wt.sum()
    np.testing.assert_allclose(xt.grad.numpy(), gref, rtol=1e-4, atol=1e-9)


@pytest.mark.parametrize("dev", LARGE)
def test_large_bce_with_logits_stable(dev):
    rng = np.random.default_rng(1)
    x = rng.uniform(-200, 200, 100_003).astype(np.float32)  # exp(200) overflows f32
    y = rng.uniform(0, 1, x.shape).astype(np.float32)
    xt = vkgrad.tensor(x, device=dev, requires_grad=True)
    loss = NF.binary_cross_entropy_with_logits(xt, vkgrad.tensor(y, device=dev), reduction="sum")
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    ref = ((1 - y64) * x64 + np.logaddexp(0, -x64)).sum()
    assert np.isfinite(loss.item())
    assert loss.item() == pytest.approx(ref, rel=1e-5)
    loss.backward()
    sig = 0.5 * (1 + np.tanh(x64 / 2))
    np.testing.assert_allclose(xt.grad.numpy(), sig - y64, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dev", LARGE)
def test_large_bce_smooth_l1(dev):
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 1, (331, 317)).astype(np.float32)
    x[0, :3] = [0.0, 1.0, 0.5]  # log(0): clamped at -100, as PyTorch
    y = rng.uniform(0, 1, x.shape).astype(np.float32)
    y[0, :3] = [1.0, 0.0, 0.5]
    xt, yt = vkgrad.tensor(x, device=dev), vkgrad.tensor(y, device=dev)
    got = NF.binary_cross_entropy(xt, yt, reduction="none").numpy()
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    with np.errstate(divide="ignore"):
        ref = -(y64 * np.maximum(np.log(x64), -100) + (1 - y64) * np.maximum(np.log(1 - x64), -100))
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
    assert got[0, 0] == pytest.approx(100.0) and got[0, 1] == pytest.approx(100.0)
    got = NF.smooth_l1_loss(xt, yt, reduction="none", beta=0.3).numpy()
    d = np.abs(x64 - y64)
    np.testing.assert_allclose(
        got, np.where(d < 0.3, 0.5 * d * d / 0.3, d - 0.15), rtol=1e-5, atol=1e-6
    )


def test_nll_all_ignored_mean_is_nan(device):
    x = vkgrad.zeros(2, 3, device=device)
    t = vkgrad.tensor([-100, -100], dtype="int32", device=device)
    assert np.isnan(NF.nll_loss(x, t).item())  # 0 / 0, as PyTorch
    assert NF.nll_loss(x, t, reduction="sum").item() == 0.0


def test_kl_div_zero_target_no_nan(device):
    x = vkgrad.tensor([[-1.0, -0.5]], device=device, requires_grad=True)
    t = vkgrad.tensor([[0.0, 1.0]], device=device, requires_grad=True)
    loss = NF.kl_div(x, t, reduction="sum")
    assert loss.item() == pytest.approx(0.5)
    loss.backward()
    assert np.all(np.isfinite(x.grad.numpy())) and np.all(np.isfinite(t.grad.numpy()))
    np.testing.assert_allclose(x.grad.numpy(), [[0.0, -1.0]])


def test_cross_entropy_ignores_minus_100_only_when_asked():
    # Without options the fused kernel runs and checks every target (CPU); ignore_index=-100
    # takes the composed path, which ignores them as PyTorch does by default.
    x = vkgrad.tensor([[1.0, 2.0, 0.5], [0.0, 0.0, 0.0]])
    t = vkgrad.tensor([1, -100], dtype="int32")
    with pytest.raises(IndexError, match="cross_entropy"):
        NF.cross_entropy(x, t)
    loss = NF.cross_entropy(x, t, ignore_index=-100)
    ref = -_log_softmax(np.array([[1.0, 2.0, 0.5]]))[0, 1]
    assert loss.item() == pytest.approx(ref, rel=1e-6)


# ---------------------------------------------------------------- bad input


def test_bad_inputs_name_the_op():
    x = vkgrad.zeros(3, 4)
    t = vkgrad.tensor([0, 1, 2], dtype="int32")
    with pytest.raises(ValueError, match=r"nll_loss: class-index targets must have shape \(3,\)"):
        NF.nll_loss(x, vkgrad.tensor([0, 1], dtype="int32"))
    with pytest.raises(
        TypeError, match="nll_loss: class targets must be int32, got vkgrad.float32"
    ):
        NF.nll_loss(x, vkgrad.zeros(3))
    with pytest.raises(ValueError, match=r"nll_loss: weight must have shape \(4,\)"):
        NF.nll_loss(x, t, weight=vkgrad.ones(3))
    with pytest.raises(ValueError, match="nll_loss: reduction must be one of"):
        NF.nll_loss(x, t, reduction="avg")
    with pytest.raises(IndexError, match=r"nll_loss: target class index 7 out of range"):
        NF.nll_loss(x, vkgrad.tensor([0, 7, 1], dtype="int32"))
    with pytest.raises(ValueError, match="cross_entropy: label_smoothing must be in"):
        NF.cross_entropy(x, t, label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"binary_cross_entropy: target shape \(4,\)"):
        NF.binary_cross_entropy(vkgrad.ones(3), vkgrad.ones(4))
    with pytest.raises(TypeError, match="binary_cross_entropy_with_logits: target must be a"):
        NF.binary_cross_entropy_with_logits(vkgrad.ones(3), vkgrad.tensor([1, 0, 1], dtype="int32"))
    with pytest.raises(ValueError, match="kl_div: reduction must be one of"):
        NF.kl_div(x, x, reduction="batch")
    with pytest.raises(ValueError, match="huber_loss: delta must be > 0"):
        NF.huber_loss(x, x, delta=0.0)
    with pytest.raises(ValueError, match=r"cosine_embedding_loss: target shape \(2,\)"):
        NF.cosine_embedding_loss(x, x, vkgrad.ones(2))
    with pytest.raises(TypeError, match="l1_loss: target must be a tensor"):
        NF.l1_loss(x, 1.0)
