"""The documented results of nanograd (the CHICKEN Scheme autograd egg), reproduced in vkgrad.

    python examples/nanograd_tour.py [--steps 300] [--device cpu] [--dtype f32] [--plot loss.png]

Four parts, each checked (the script exits non-zero when a check fails):

(a) gradients of sum, mean and product of x = [1, 2, 3] against their closed forms
    d sum = [1, 1, 1], d mean = [1/3, 1/3, 1/3], d prod = prod(x) / x = [6, 3, 2];
(b) slicing rows 2..6 of a (10, 10) tensor and backpropagating the sum of the slice: those
    five rows get gradient 1, the other rows 0;
(c) a regression MLP (Linear + ReLU layers, MSE, Adam) on generated data
    y = sin(2 x0) + 0.5 x1^2 + noise (NumPy, fixed seed); target: training MSE below 0.01
    after the default 300 full-batch steps (a shorter run only has to lower the loss);
(d) a ResNet-style block (Linear, BatchNorm1d, ReLU, and a skip connection) trained a few
    steps with SGD and momentum, then run on one batch in eval and in train mode: eval
    normalizes with the running statistics (checked against a NumPy recomputation, and a
    sample alone gives the same output as inside the batch), train with the batch's own
    statistics (checked likewise), so the two outputs differ.
"""

from __future__ import annotations

import sys

import numpy as np
from example_utils import Progress, parser, save_loss_plot, setup

import vkgrad
import vkgrad.nn.functional as F
from vkgrad import nn, optim

DEFAULT_STEPS = 300
TARGET_MSE = 0.01
# Agreement with float64 NumPy: f16 keeps about 3 decimal digits.
TOL = {"float16": 2e-2, "float32": 1e-4, "float64": 1e-9}


def report(what: str, ok: bool) -> bool:
    print(f"  {what}: {'ok' if ok else 'FAILED'}")
    return ok


def reductions(device, dtype) -> bool:
    """(a) Gradients of sum, mean and prod of x = [1, 2, 3] against their closed forms."""
    print("(a) gradients of reductions of x = [1, 2, 3]")
    tol = TOL[dtype.name]
    x_np = np.array([1.0, 2.0, 3.0])
    expected = {
        "sum": np.ones(3),
        "mean": np.full(3, 1 / 3),
        "prod": np.prod(x_np) / x_np,  # d/dx_i of x_0 x_1 x_2 is the product of the others
    }
    ok = True
    for name, want in expected.items():
        x = vkgrad.tensor(x_np, requires_grad=True, device=device, dtype=dtype)
        y = getattr(x, name)()
        y.backward()
        got = x.grad.numpy().astype(np.float64)
        print(f"  {name}(x) = {y.item():.4f}, d {name}/dx = {np.round(got, 4).tolist()}")
        same = np.allclose(got, want, rtol=tol)
        ok &= report(f"d {name}/dx == {np.round(want, 4).tolist()}", same)
    return ok


def slicing(device, dtype) -> bool:
    """(b) Only the sliced rows of a (10, 10) tensor receive gradient."""
    print("(b) slicing rows 2..6 of a (10, 10) tensor, backward of sum(slice)")
    a = vkgrad.randn(10, 10, requires_grad=True, device=device, dtype=dtype)
    a[2:7].sum().backward()
    grad = a.grad.numpy()
    print("  row sums of a.grad:", grad.sum(axis=1).tolist())
    want = np.zeros((10, 10))
    want[2:7] = 1.0
    return report("rows 2..6 have gradient 1, the others 0", np.array_equal(grad, want))


def regression_data(n: int, seed: int) -> tuple:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, size=(n, 2))
    y = np.sin(2 * x[:, 0]) + 0.5 * x[:, 1] ** 2 + 0.05 * rng.standard_normal(n)
    return x, y[:, None]


def regression(steps: int, device, dtype, plot: str | None) -> tuple:
    """(c) An MLP fitted by Adam to generated data; (losses, whether the target was met)."""
    print(f"(c) regression MLP, {steps} full-batch Adam steps")
    kw = dict(device=device, dtype=dtype)
    x_np, y_np = regression_data(512, seed=1)
    x, y = vkgrad.tensor(x_np, **kw), vkgrad.tensor(y_np, **kw)
    model = nn.Sequential(
        nn.Linear(2, 64, **kw),
        nn.ReLU(),
        nn.Linear(64, 64, **kw),
        nn.ReLU(),
        nn.Linear(64, 1, **kw),
    )
    opt = optim.Adam(model.parameters(), lr=1e-2)
    losses, bar = [], Progress(steps)
    for t in range(1, steps + 1):
        loss = F.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        bar.update(t, losses[-1])
    save_loss_plot(losses, plot, "nanograd_tour: regression MLP (MSE)")
    print(f"train loss: {losses[0]:.4f} -> {losses[-1]:.4f}")
    if steps >= DEFAULT_STEPS:
        ok = report(f"final MSE {losses[-1]:.4f} < {TARGET_MSE}", losses[-1] < TARGET_MSE)
    else:
        print(f"  (target MSE < {TARGET_MSE} is checked from {DEFAULT_STEPS} steps on)")
        ok = report("the loss fell", losses[-1] < losses[0])
    return losses, ok


class ResidualBlock(nn.Module):
    """relu(x + bn2(fc2(relu(bn1(fc1(x)))))): the dense form of a ResNet basic block."""

    def __init__(self, width: int, device=None, dtype=None) -> None:
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        self.fc1, self.bn1 = nn.Linear(width, width, **kw), nn.BatchNorm1d(width, **kw)
        self.fc2, self.bn2 = nn.Linear(width, width, **kw), nn.BatchNorm1d(width, **kw)

    def forward(self, x):
        h = F.relu(self.bn1(self.fc1(x)))
        return F.relu(x + self.bn2(self.fc2(h)))


def block_numpy(block: ResidualBlock, x: np.ndarray, use_running: bool) -> np.ndarray:
    """The block in float64 NumPy, normalizing with running or with batch statistics."""

    def f64(t):
        return t.detach().numpy().astype(np.float64)

    def linear(fc, h):
        return h @ f64(fc.weight).T + f64(fc.bias)

    def batch_norm(bn, h):
        if use_running:
            mean, var = f64(bn.running_mean), f64(bn.running_var)
        else:
            mean, var = h.mean(axis=0), h.var(axis=0)  # biased variance, as in training
        return (h - mean) / np.sqrt(var + bn.eps) * f64(bn.weight) + f64(bn.bias)

    h = np.maximum(batch_norm(block.bn1, linear(block.fc1, x)), 0)
    return np.maximum(x + batch_norm(block.bn2, linear(block.fc2, h)), 0)


def resnet_block(device, dtype, steps: int = 30, batch: int = 64) -> tuple:
    """(d) Train a model holding a residual block, then compare its eval and train outputs."""
    print(f"(d) ResNet-style block with BatchNorm1d, {steps} SGD steps with momentum")
    kw = dict(device=device, dtype=dtype)
    tol = TOL[dtype.name]
    x_np, y_np = regression_data(steps * batch, seed=2)
    stem, block, head = nn.Linear(2, 16, **kw), ResidualBlock(16, **kw), nn.Linear(16, 1, **kw)
    model = nn.Sequential(stem, block, head)
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for i in range(steps):
        rows = slice(i * batch, (i + 1) * batch)
        xb, yb = vkgrad.tensor(x_np[rows], **kw), vkgrad.tensor(y_np[rows], **kw)
        loss = F.mse_loss(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    print(f"  block training loss: {losses[0]:.4f} -> {losses[-1]:.4f}")
    ok = report("the block's training loss fell", losses[-1] < losses[0])

    # One fresh batch through the stem, then through the block in each mode.
    x_test, _ = regression_data(batch, seed=3)
    with vkgrad.no_grad():
        z = stem(vkgrad.tensor(x_test, **kw))
        z_np = z.numpy().astype(np.float64)
        block.eval()
        out_eval = block(z).numpy().astype(np.float64)
        alone = block(z[:1]).numpy().astype(np.float64)
        # Read the running statistics before the train-mode forward below moves them.
        ref_eval = block_numpy(block, z_np, use_running=True)
        running_mean = block.bn1.running_mean.numpy()[:4].astype(np.float64)
        block.train()
        out_train = block(z).numpy().astype(np.float64)
    ref_train = block_numpy(block, z_np, use_running=False)
    scale = max(1.0, np.abs(ref_eval).max())
    print(f"  bn1 running mean (first 4): {np.round(running_mean, 4).tolist()}")
    print(f"  bn1 batch mean (first 4):   {np.round(block_mean(block, z_np), 4).tolist()}")
    print(f"  max |eval - train| output difference: {np.abs(out_eval - out_train).max():.4f}")
    ok &= report(
        "eval output == NumPy with the running statistics",
        np.allclose(out_eval, ref_eval, atol=tol * scale, rtol=tol),
    )
    ok &= report(
        "eval: a sample alone gives its output inside the batch",
        np.allclose(alone, out_eval[:1], atol=tol * scale, rtol=tol),
    )
    ok &= report(
        "train output == NumPy with the batch statistics",
        np.allclose(out_train, ref_train, atol=tol * scale, rtol=tol),
    )
    ok &= report("eval output differs from train output", np.abs(out_eval - out_train).max() > 0.01)
    return losses, ok


def block_mean(block: ResidualBlock, z: np.ndarray) -> np.ndarray:
    """The batch mean that bn1 normalizes with in train mode (first 4 features)."""
    w, b = (t.detach().numpy().astype(np.float64) for t in (block.fc1.weight, block.fc1.bias))
    return (z @ w.T + b).mean(axis=0)[:4]


def main(argv: list | None = None) -> int:
    args = parser(__doc__, steps=DEFAULT_STEPS).parse_args(argv)
    device, dtype = setup(args)
    ok = reductions(device, dtype)
    ok &= slicing(device, dtype)
    _, met = regression(args.steps, device, dtype, args.plot)
    _, block_ok = resnet_block(device, dtype)
    ok = ok and met and block_ok
    print("all checks passed" if ok else "FAILED: a check did not pass")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
