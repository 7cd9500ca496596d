"""Every op spec x backend x dtype: forward, backward, double backward (see helpers.py)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import vulkan_param
from helpers import BACKEND_DTYPES, check_backward, check_double_backward, check_forward
from op_specs import FAMILY_SPECS, SPECS

import vkgrad
from vkgrad.library import FAMILIES


def _params(specs):
    out = []
    for spec in specs:
        for dev, dt in BACKEND_DTYPES:
            pid = f"{spec.name}-{dev}-{dt}"
            out.append(
                vulkan_param(spec, dev, dt, id=pid)
                if dev == "vulkan"
                else pytest.param(spec, dev, dt, id=pid)
            )
    return out


CASES = _params(SPECS)
DOUBLE_CASES = _params([s for s in SPECS if s.grad and s.double])


@pytest.mark.parametrize("spec,dev,dt", CASES)
def test_forward(spec, dev, dt):
    check_forward(spec, dev, dt)


@pytest.mark.parametrize("spec,dev,dt", CASES)
def test_backward(spec, dev, dt):
    check_backward(spec, dev, dt)


@pytest.mark.parametrize("spec,dev,dt", DOUBLE_CASES)
def test_double_backward(spec, dev, dt):
    check_double_backward(spec, dev, dt)


def family_public_ops() -> list:
    """Every public function of the op families, aliases (the same function object under a
    second name, as ``arcsin`` for ``asin``) counted once."""
    out = []
    for fam in FAMILIES:
        seen = set()
        for name in (*fam.__all__, *fam.NN_FUNCTIONAL):
            fn = getattr(fam, name)
            if id(fn) not in seen:
                seen.add(id(fn))
                out.append(name)
    return out


def test_every_public_op_has_a_spec():
    names = {s.name for s in SPECS}
    assert len(names) == len(SPECS), "duplicate spec names"
    wanted = [
        "add", "sub", "mul", "div", "neg", "pow", "exp", "log", "sqrt", "abs", "relu",
        "sigmoid", "tanh", "gelu", "gelu_tanh", "silu", "clamp", "maximum", "minimum", "where",
        "matmul", "sum", "mean", "max", "reshape", "view", "transpose", "permute", "T",
        "expand", "unsqueeze", "squeeze", "softmax", "log_softmax", "cross_entropy_index",
        "cross_entropy_prob", "mse_loss", "getitem",
    ]  # fmt: skip
    for fam in FAMILY_SPECS:
        wanted += fam.WANTED
    wanted += family_public_ops()
    missing = [w for w in wanted if not any(n == w or n.startswith(w + "_") for n in names)]
    assert not missing, f"ops without a spec: {missing}"
    sizes = {int(np.prod(s)) for sp in SPECS for s in sp.shapes}
    assert {1, 7, 33, 257} <= sizes, f"workgroup-unaligned sizes missing: {sizes}"


# ---------------------------------------------------------------- large shapes (>= 1e5 elements)

LARGE = ["cpu", vulkan_param("vulkan", id="vulkan")]


def _big(shape, seed):
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)


def _sum_close(got, a, axis):
    # f32 accumulation error grows with the number of terms: bound it by sum |a| (1e-5 relative).
    ref = a.astype(np.float64).sum(axis)
    bound = 1e-5 * np.abs(a.astype(np.float64)).sum(axis) + 1e-6
    err = np.abs(np.asarray(got, np.float64) - ref)
    assert np.all(err <= bound), f"max err {err.max():.3g} vs bound {np.min(bound):.3g}"


@pytest.mark.parametrize("dev", LARGE)
def test_large_sum_all(dev):
    a = _big((100_003,), 1)
    got = vkgrad.tensor(a, dtype="f32", device=dev).sum()
    _sum_close(got.item(), a, None)


@pytest.mark.parametrize("dev", LARGE)
@pytest.mark.parametrize("axis", [0, 1])
def test_large_sum_dim(dev, axis):
    a = _big((317, 331), 2)
    got = vkgrad.tensor(a, dtype="f32", device=dev).sum(axis)
    _sum_close(got.numpy(), a, axis)


@pytest.mark.parametrize("dev", LARGE)
def test_large_max(dev):
    a = _big((100_003,), 3)
    a[77_777] = 5.0  # a known maximum far from the start
    x = vkgrad.tensor(a, dtype="f32", device=dev)
    assert x.max().item() == 5.0
    b = _big((331, 317), 4)
    got = vkgrad.tensor(b, dtype="f32", device=dev).max(1).values.numpy()
    np.testing.assert_array_equal(got, b.max(1))


@pytest.mark.parametrize("dev", LARGE)
def test_large_matmul(dev):
    a, b = _big((331, 307), 5), _big((307, 129), 6)
    got = vkgrad.tensor(a, dtype="f32", device=dev) @ vkgrad.tensor(b, dtype="f32", device=dev)
    ref = a.astype(np.float64) @ b.astype(np.float64)
    bound = 1e-5 * (np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64)) + 1e-6
    err = np.abs(got.numpy() - ref)
    assert np.all(err <= bound), f"matmul (331, 307) @ (307, 129): max err {err.max():.3g}"


@pytest.mark.parametrize("dev", LARGE)
def test_large_sum_backward(dev):
    a = _big((100_003,), 7)
    x = vkgrad.tensor(a, dtype="f32", device=dev, requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * a, rtol=1e-6)
