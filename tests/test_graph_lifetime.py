"""The autograd graph frees itself: it holds no reference cycles, so what a step saved for
backward goes (back to the buffer pool, on Vulkan) when the step's tensors go, not whenever
Python's garbage collector next runs. A cycle would keep every activation of a step alive
until then, which on a GPU means memory that a training loop cannot reuse."""

from __future__ import annotations

import gc

import numpy as np
import pytest

import vkgrad
import vkgrad.nn.functional as F
from vkgrad import nn, optim


def _mlp(device):
    model = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 5)).to(device=device)
    x = vkgrad.randn(16, 12, device=device)
    return model, x, vkgrad.tensor(np.arange(16, dtype=np.int32) % 5, device=device)


def _conv(device):
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(8 * 4 * 4, 5),
    ).to(device=device)
    x = vkgrad.randn(4, 3, 8, 8, device=device)
    return model, x, vkgrad.tensor(np.arange(4, dtype=np.int32), device=device)


class _Tokens(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(11, 16)
        self.layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True)
        self.head = nn.Linear(16, 11)

    def forward(self, t):
        return self.head(self.layer(self.emb(t))).reshape(-1, 11)


def _transformer(device):
    tokens = vkgrad.tensor(np.arange(12, dtype=np.int32).reshape(2, 6) % 11, device=device)
    target = vkgrad.tensor((np.arange(12, dtype=np.int32) + 1) % 11, device=device)
    return _Tokens().to(device=device), tokens, target


MODELS = {"mlp": _mlp, "conv": _conv, "transformer": _transformer}


def _trainer(make, device):
    vkgrad.manual_seed(0)
    model, x, y = make(device)
    opt = optim.Adam(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()

    return step


def _vkgrad_garbage(fn) -> list:
    """Names of the vkgrad objects that only the garbage collector could free after fn()."""
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        fn()
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        return sorted({type(o).__name__ for o in gc.garbage if _is_vkgrad(o)})
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if enabled:
            gc.enable()


def _is_vkgrad(o) -> bool:
    return type(o).__module__.startswith("vkgrad")


@pytest.mark.parametrize("model", MODELS)
def test_a_training_step_leaves_no_cycles(device, model):
    step = _trainer(MODELS[model], device)
    step()  # optimizer state and caches exist from here on
    assert _vkgrad_garbage(step) == []


def test_vulkan_buffers_return_to_the_pool_after_each_step():
    from conftest import vulkan_skip_reason

    if vulkan_skip_reason():
        pytest.skip(vulkan_skip_reason())
    be = vkgrad.Device.parse("vulkan").backend
    step = _trainer(_transformer, "vulkan")
    enabled = gc.isenabled()
    gc.disable()  # a cycle would hold its buffers until a collection
    try:
        step()
        vkgrad.synchronize()
        live = be.stats()["live_buffers"]
        for _ in range(3):
            step()
        vkgrad.synchronize()
        assert be.stats()["live_buffers"] == live
    finally:
        if enabled:
            gc.enable()


class _ExpSavingOutput(vkgrad.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y


def test_custom_function_saving_its_output(device):
    x = vkgrad.tensor([0.5, -1.0, 2.0], device=device, requires_grad=True)

    def run():
        _ExpSavingOutput.apply(x).sum().backward()

    assert _vkgrad_garbage(run) == []
    np.testing.assert_allclose(x.grad.numpy(), np.exp([0.5, -1.0, 2.0]), rtol=1e-5)
    # The saved output still unpacks for a double backward.
    x.grad = None
    y = _ExpSavingOutput.apply(x)
    (g,) = vkgrad.autograd.grad(y.sum(), [x], create_graph=True)
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([0.5, -1.0, 2.0]), rtol=1e-5)
