"""Ops from user code (vkgrad.extend): a fused bias + GELU defined in this file, with a
backward kernel of its own, run through the same spec helper as the built-in ops on every
backend and dtype, and inside a captured training step."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import vulkan_param
from helpers import BACKEND_DTYPES, check_backward, check_forward
from op_specs import Spec

import vkgrad
from vkgrad import extend, ops
from vkgrad.backends import numpy_backend
from vkgrad.backends.vulkan import compile as vulkan_compile

K, C = math.sqrt(2.0 / math.pi), 0.044715

# User shaders are compiled when first dispatched: the Vulkan cases need glslangValidator
# itself (no precompiled bundle holds them).
GLSLANG = (pytest.mark.glslang,)
DEVICES_GLSL = ["cpu", vulkan_param("vulkan", id="vulkan", marks=GLSLANG)]

FORWARD_GLSL = """// y = gelu_tanh(x + b): bias and activation in one pass (a user op)
#version 450
#extension GL_GOOGLE_include_directive : require
#include "map.glsl"

float op(float a, float b, float c) {
    float z = a + b;
    return 0.5 * z * (1.0 + tanh_(GELU_K * (z + GELU_C * z * z * z)));
}
"""

BACKWARD_GLSL = """// g * d/dz gelu_tanh(z), z = x + b (inputs: x, b, g)
#version 450
#extension GL_GOOGLE_include_directive : require
#include "map.glsl"

float op(float a, float b, float g) {
    float z = a + b;
    float t = tanh_(GELU_K * (z + GELU_C * z * z * z));
    float du = GELU_K * (1.0 + 3.0 * GELU_C * z * z);
    return g * (0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * du);
}
"""


def _np_forward(x, b):
    z = x + b
    return 0.5 * z * (1.0 + np.tanh(K * (z + C * z**3)))


def _np_backward(x, b, g):
    z = x + b
    t = np.tanh(K * (z + C * z**3))
    return g * (0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * K * (1.0 + 3.0 * C * z * z))


def _rule(ctx, g):
    x, b = ctx.inputs
    # d/dx and d/db of f(x + b) are the same tensor; the engine sums b's down to its shape.
    d = vkgrad.functional.call("user_bias_gelu_backward", x, b, g)
    return d, d


@pytest.fixture(scope="module")
def bias_gelu():
    bw = extend.define_op(
        "user_bias_gelu_backward", "map", 3, numpy=_np_backward, glsl=BACKWARD_GLSL
    )
    fn = extend.define_op(
        "user_bias_gelu", "map", 2, numpy=_np_forward, glsl=FORWARD_GLSL, backward=_rule
    )
    yield fn, bw
    extend.remove_op("user_bias_gelu")
    extend.remove_op("user_bias_gelu_backward")


def _spec(fn):
    # The reference is written here in float64, independently of the kernels above.
    def ref(x, b):
        z = x + b
        return 0.5 * z * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (z + 0.044715 * z**3)))

    return Spec("user_bias_gelu", fn, ref, ((4, 33), (33,)), double=False)


def _params():
    out = []
    for dev, dt in BACKEND_DTYPES:
        pid = f"{dev}-{dt}"
        out.append(
            vulkan_param(dev, dt, id=pid, marks=GLSLANG)
            if dev == "vulkan"
            else pytest.param(dev, dt, id=pid)
        )
    return out


@pytest.mark.parametrize("dev,dt", _params())
def test_user_op_forward_and_backward(bias_gelu, dev, dt):
    spec = _spec(bias_gelu[0])
    check_forward(spec, dev, dt)
    check_backward(spec, dev, dt)


@pytest.mark.parametrize("dev", DEVICES_GLSL)
def test_user_op_inside_a_captured_step(bias_gelu, dev):
    fn = bias_gelu[0]
    vkgrad.manual_seed(0)
    w = vkgrad.randn(8, 5, device=dev, requires_grad=True)
    b = vkgrad.zeros(5, device=dev, requires_grad=True)
    opt = vkgrad.optim.SGD([w, b], lr=0.1)

    def step(x, y):
        opt.zero_grad()
        loss = ((fn(x @ w, b) - y) ** 2).mean()
        loss.backward()
        opt.step()
        return loss

    captured = vkgrad.capture(step)
    rng = np.random.default_rng(1)
    batches = [
        tuple(vkgrad.tensor(rng.normal(size=(16, n)), device=dev) for n in (8, 5)) for _ in range(6)
    ]
    # An eager twin from the same start: the captured replays must follow it.
    w2 = vkgrad.tensor(w.numpy(), device=dev, requires_grad=True)
    b2 = vkgrad.tensor(b.numpy(), device=dev, requires_grad=True)
    opt2 = vkgrad.optim.SGD([w2, b2], lr=0.1)
    for x, y in batches:
        loss = captured(x, y)
        opt2.zero_grad()
        eager = ((fn(x @ w2, b2) - y) ** 2).mean()
        eager.backward()
        opt2.step()
        assert abs(loss.item() - eager.item()) <= 1e-5 * max(1.0, abs(eager.item()))
    np.testing.assert_allclose(w.numpy(), w2.numpy(), rtol=1e-5, atol=1e-6)


def test_define_op_refuses_bad_input_and_registers_nothing():
    with pytest.raises(ValueError, match="an op named 'add' exists already"):
        extend.define_op("add", "map", 2, numpy=np.add, glsl=FORWARD_GLSL)
    with pytest.raises(ValueError, match="unknown kind 'elementwise'"):
        extend.define_op("user_x", "elementwise", 2, numpy=np.add, glsl=FORWARD_GLSL)
    with pytest.raises(ValueError, match="runs shaders of its own"):
        extend.define_op("user_x", "gather", 2, numpy=np.add, glsl=FORWARD_GLSL)
    with pytest.raises(TypeError, match="numpy must be a function"):
        extend.define_op("user_x", "map", 2, numpy=None, glsl=FORWARD_GLSL)
    assert "user_x" not in ops.OPS and "user_x" not in numpy_backend.KERNELS
    with pytest.raises(ValueError, match="not an op added by define_op"):
        extend.remove_op("add")


@pytest.mark.parametrize("dev", DEVICES_GLSL)
def test_remove_op_lets_a_name_be_defined_again(dev):
    fn = extend.define_op("user_twice", "map", 1, numpy=lambda a: a * 2.0, glsl=_times(2.0))
    x = vkgrad.tensor([1.0, 3.0], device=dev)
    assert fn(x).tolist() == [2.0, 6.0]
    extend.remove_op("user_twice")
    assert "user_twice" not in ops.OPS
    fn = extend.define_op("user_twice", "map", 1, numpy=lambda a: a * 3.0, glsl=_times(3.0))
    try:
        assert fn(x).tolist() == [3.0, 9.0]
    finally:
        extend.remove_op("user_twice")


@pytest.mark.parametrize("dev", [vulkan_param("vulkan", id="vulkan", marks=GLSLANG)])
def test_a_shader_error_names_the_user_shader(dev):
    fn = extend.define_op("user_broken", "map", 1, numpy=lambda a: a, glsl=_times("oops"))
    try:
        with pytest.raises(vulkan_compile.ShaderCompileError, match="user_broken"):
            fn(vkgrad.ones(3, device=dev)).numpy()
    finally:
        extend.remove_op("user_broken")


def _times(k) -> str:
    return (
        '#version 450\n#extension GL_GOOGLE_include_directive : require\n#include "map.glsl"\n'
        f"float op(float a, float b, float c) {{ return a * {k}; }}\n"
    )
