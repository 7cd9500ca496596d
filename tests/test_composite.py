"""Random composite expressions: ten ops chained with broadcasting, cpu vs Vulkan.

Each case draws a chain of ten ops from a pool (unary, binary with a broadcast operand,
reductions over a dim with keepdim), on shapes of 1, 7, 33 and 257 elements (never a multiple
of the 256-thread workgroup), runs it on the NumPy backend and on Vulkan in f32, and compares
the outputs and the gradients of every input. Per-op tests cannot catch a kernel that is right
alone but wrong after a broadcast or a permuted reduction feeds it; chains can.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import vulkan_param
from helpers import assert_close

import vkgrad
from vkgrad import autograd

# Values stay in a moderate range whatever the chain: every op maps bounded inputs to bounded
# outputs (log and sqrt see 1 + |x|, division sees 1 + x^2).
UNARY = {
    "tanh": lambda x: x.tanh(),
    "sigmoid": lambda x: x.sigmoid(),
    "neg": lambda x: -x,
    "relu": lambda x: x.relu(),
    "gelu": lambda x: vkgrad.nn.functional.gelu(x),
    "silu": lambda x: vkgrad.nn.functional.silu(x),
    "log1p_abs": lambda x: (x.abs() + 1.0).log(),
    "sqrt": lambda x: (x * x + 1.0).sqrt(),
    "exp_tanh": lambda x: x.tanh().exp(),
    "square": lambda x: x * x * 0.5,
    "clamp": lambda x: x.clamp(-0.8, 0.9),
    "softmax_last": lambda x: x.softmax(-1),
    "log_softmax_first": lambda x: x.log_softmax(0) * 0.3,
    "sin": lambda x: x.sin(),
    "cos": lambda x: x.cos(),
    "atan": lambda x: x.atan(),
    "softplus": lambda x: vkgrad.nn.functional.softplus(x) * 0.5,
    "elu": lambda x: vkgrad.nn.functional.elu(x),
    "mish": lambda x: vkgrad.nn.functional.mish(x),
    "logsigmoid": lambda x: vkgrad.nn.functional.logsigmoid(x) * 0.3,
    "leaky_relu": lambda x: vkgrad.nn.functional.leaky_relu(x, 0.1),
    "expm1_tanh": lambda x: x.tanh().expm1(),
}
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (b * b + 1.0),
    "maximum": lambda a, b: vkgrad.maximum(a, b + 0.01),
    "minimum": lambda a, b: vkgrad.minimum(a, b - 0.01),
}
REDUCE = {
    "sum_keep": lambda x, d: x.sum(d, keepdim=True) * 0.1,
    "mean_keep": lambda x, d: x.mean(d, keepdim=True),
    "max_keep": lambda x, d: x.max(d, keepdim=True).values,
    "min_keep": lambda x, d: x.min(d, keepdim=True).values,
    "logsumexp_keep": lambda x, d: x.logsumexp(d, keepdim=True) * 0.3,
    "var_keep": lambda x, d: x.var(d, keepdim=True, correction=0),
    "norm_keep": lambda x, d: x.norm(dim=d, keepdim=True) * 0.3,
    "cumsum": lambda x, d: x.cumsum(d) * 0.1,
}
SHAPES = [(1,), (7,), (33,), (257,), (1, 7), (7, 1), (33, 7), (7, 33), (257, 1), (1, 33, 7)]
N_CASES = 24
N_OPS = 10


def _broadcast_partner(rng, shape):
    """A shape that broadcasts against ``shape``: some dims 1, maybe fewer leading dims."""
    dims = [d if rng.random() < 0.5 else 1 for d in shape]
    drop = int(rng.integers(0, len(dims)))
    return tuple(dims[drop:]) or (1,)


def _plan(seed: int):
    """The chain: a start shape and ten (kind, name, arg) steps, with operand shapes."""
    rng = np.random.default_rng(seed)
    shape = SHAPES[int(rng.integers(len(SHAPES)))]
    steps, operands = [], [shape]
    for _ in range(N_OPS):
        kind = rng.choice(["unary", "binary", "binary", "reduce"], p=[0.45, 0.2, 0.2, 0.15])
        if kind == "unary":
            steps.append(("unary", rng.choice(sorted(UNARY)), None))
        elif kind == "binary":
            other = _broadcast_partner(rng, shape)
            steps.append(("binary", rng.choice(sorted(BINARY)), len(operands)))
            operands.append(other)
            shape = np.broadcast_shapes(shape, other)
        else:
            steps.append(("reduce", rng.choice(sorted(REDUCE)), int(rng.integers(len(shape)))))
    values = [rng.uniform(-1.5, 1.5, s).astype(np.float32) for s in operands]
    return steps, values


def _run(steps, values, device: str):
    xs = [vkgrad.tensor(v, device=device, requires_grad=True) for v in values]
    y = xs[0]
    for kind, name, arg in steps:
        if kind == "unary":
            y = UNARY[name](y)
        elif kind == "binary":
            y = BINARY[name](y, xs[arg])
        else:
            y = REDUCE[name](y, arg)
    gout = np.random.default_rng(1).uniform(-1, 1, y.shape).astype(np.float32)
    grads = autograd.grad(y, xs, vkgrad.tensor(gout, device=device), allow_unused=True)
    return y.numpy(), [None if g is None else g.numpy() for g in grads]


def _describe(steps) -> str:
    return " -> ".join(name if arg is None else f"{name}({arg})" for _, name, arg in steps)


@pytest.mark.parametrize("seed", [vulkan_param(s, id=f"chain{s}") for s in range(N_CASES)])
def test_composite_chain_cpu_vs_vulkan(seed):
    steps, values = _plan(seed)
    what = f"chain {seed}: {_describe(steps)} on {[v.shape for v in values]}"
    y_cpu, g_cpu = _run(steps, values, "cpu")
    y_vk, g_vk = _run(steps, values, "vulkan")
    # Both backends compute in f32 but in different orders (workgroup trees vs NumPy's
    # pairwise sums) and with different exp/tanh implementations; ten chained ops compound
    # a few ulps each, so 1e-4 relative is the bound, not the per-op 2e-5.
    assert_close(y_vk, y_cpu, 1e-4, 1e-5, f"forward, {what}")
    for i, (a, b) in enumerate(zip(g_vk, g_cpu)):
        assert (a is None) == (b is None), f"{what}: input {i} unused on one backend only"
        if a is not None:
            assert_close(a, b, 1e-4, 1e-5, f"grad of input {i}, {what}")


def test_plans_cover_the_unaligned_sizes_and_broadcasting():
    plans = [_plan(s) for s in range(N_CASES)]
    sizes = {v.size for _, values in plans for v in values}
    assert {1, 7, 33, 257} <= sizes, sizes
    assert any(len(values) > 1 and values[0].shape != values[1].shape for _, values in plans)
    assert all(len(steps) == N_OPS for steps, _ in plans)
    used = {name for steps, _ in plans for _, name, _ in steps}
    missing = (set(UNARY) | set(BINARY) | set(REDUCE)) - used
    assert not missing, f"ops no chain draws: {sorted(missing)}"
