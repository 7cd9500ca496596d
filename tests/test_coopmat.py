"""The cooperative-matrix GEMM: which devices get it (host-side selection, with fake device
reports: lavapipe has no VK_KHR_cooperative_matrix), and its tiling, run on lavapipe through
the scalar emulation of its tile products (``VKGRAD_COOPMAT=emulate``) against float64."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import numpy as np
import pytest

from vkgrad import dtypes, ops
from vkgrad.backends.vulkan import compile as vc

vk = pytest.importorskip("vkgrad.backends.vulkan")
mm = pytest.importorskip("vkgrad.backends.vulkan.kinds.matmul")

f16, f32 = dtypes.float16, dtypes.float32
COOP = ("matmul_coopmat", "matmul_coopmat_emulated")


def test_matmul_declares_its_cooperative_matrix_twins():
    assert vc.directive("matmul", "coopmat") == COOP
    assert vc.directive("matmul_coopmat", "requires") == ("cooperativeMatrix",)
    listed = {(n, tuple(sorted(d.items()))) for n, d in vc.variants_for(ops.get("matmul"))}
    f16_defines = (("D0", 1), ("D1", 1), ("D2", 1))
    # The matrix units read float16_t: no packed-halves variant of the hardware shader.
    assert ("matmul_coopmat", (*f16_defines, ("NATIVE_F16", 1))) in listed
    assert ("matmul_coopmat", f16_defines) not in listed
    assert ("matmul_coopmat_emulated", f16_defines) in listed
    assert ("matmul_coopmat_emulated", (*f16_defines, ("NATIVE_F16", 1))) in listed


# ---------------------------------------------------------------- selection, fake devices


class FakeDevice:
    """What the matmul kind reads of a backend (hashable and weakly referenced, as a backend
    is: the kind keeps its choice per backend)."""

    def __init__(self, **attrs) -> None:
        self.__dict__.update(attrs)


def fake_device(features=None, shapes=None, native_f16=True):
    features = {"cooperativeMatrix": (True, True)} if features is None else features
    shapes = [dict(mm.COOPMAT_SHAPE)] if shapes is None else shapes
    calls = []

    def dispatch(name, defines, bufs, groups, push, reads, writes, hold):
        calls.append((name, defines, groups))

    be = FakeDevice(
        index=7,
        features=features,
        device_info={"subgroup_size": 32, "cooperative_matrix_shapes": shapes},
        native_f16=native_f16,
        max_groups=65535,
        dispatch=dispatch,
    )
    return be, calls


def fake_array(shape, dtype):
    return SimpleNamespace(
        shape=shape, dtype=dtype, size=int(np.prod(shape)), storage=None, buf=None
    )


def dispatched_shader(be, calls, dtype=f16):
    a, b = fake_array((1, 70, 40), dtype), fake_array((1, 40, 90), dtype)
    out = fake_array((1, 70, 90), dtype)
    mm.run(be, ops.get("matmul"), [a, b], {"ta": 0, "tb": 0}, out)
    ((name, defines, groups),) = calls[-1:]
    assert groups == (2, 2, 1)  # 64x64 blocks on every path
    return name, defines


@pytest.fixture(autouse=True)
def _fresh_choice(monkeypatch):
    monkeypatch.delenv("VKGRAD_COOPMAT", raising=False)
    mm._PATHS.clear()
    yield
    mm._PATHS.clear()


def test_a_device_with_16x16x16_f16_matrices_gets_the_coopmat_shader():
    be, calls = fake_device()
    assert dispatched_shader(be, calls) == ("matmul_coopmat", {"D0": 1, "D1": 1, "D2": 1})
    assert mm.gemm_path(be, "matmul") == "coopmat"


def test_f32_products_stay_on_the_scalar_gemm_even_with_matrix_units():
    be, calls = fake_device()
    assert dispatched_shader(be, calls, f32)[0] == "matmul"


@pytest.mark.parametrize(
    "features,shapes,native,says",
    [
        ({}, None, True, "this kp build enables no cooperative matrices"),
        ({"cooperativeMatrix": (False, False)}, None, True, "no VK_KHR_cooperative_matrix"),
        ({"cooperativeMatrix": (True, False)}, None, True, "need 16-bit storage"),
        (None, None, False, "need 16-bit storage"),
        # NVIDIA also lists 16x8x16; AMD lists 16x16x16 with f16 results too. Only the shape
        # the shader is written for counts.
        (None, [{**mm.COOPMAT_SHAPE, "n": 8}], True, "no 16x16x16 f16 x f16 -> f32"),
        (None, [{**mm.COOPMAT_SHAPE, "c": 0, "result": 0}], True, "no 16x16x16 f16 x f16"),
    ],
    ids=["stock-kp", "no-extension", "not-enabled", "packed-f16", "other-shape", "f16-accumulator"],
)
def test_without_the_feature_f16_falls_back_with_a_notice(features, shapes, native, says, caplog):
    be, calls = fake_device(features, shapes, native)
    with caplog.at_level(logging.INFO, logger="vkgrad"):
        assert dispatched_shader(be, calls)[0] == "matmul"
        dispatched_shader(be, calls)
    notices = [r.getMessage() for r in caplog.records if "scalar GEMM" in r.getMessage()]
    assert len(notices) == 1, notices  # once per device
    assert says in notices[0] and "vulkan:7" in notices[0]


def test_vkgrad_coopmat_0_turns_it_off(monkeypatch, caplog):
    monkeypatch.setenv("VKGRAD_COOPMAT", "0")
    be, calls = fake_device()
    with caplog.at_level(logging.INFO, logger="vkgrad"):
        assert dispatched_shader(be, calls)[0] == "matmul"
    assert "VKGRAD_COOPMAT=0" in caplog.text


def test_an_old_glslang_falls_back_with_its_reason(tmp_path, monkeypatch, caplog):
    exe = tmp_path / "glslangValidator"
    exe.write_text("#!/bin/sh\necho 'Glslang Version: 11:12.0.0'\nexit 1\n")
    exe.chmod(0o755)
    monkeypatch.setenv("VKGRAD_GLSLANG", str(exe))
    monkeypatch.setenv("VKGRAD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(vc, "_MEMORY", {})
    vc.glslang_version.cache_clear()
    try:
        be, calls = fake_device()
        with caplog.at_level(logging.INFO, logger="vkgrad"):
            assert dispatched_shader(be, calls)[0] == "matmul"
    finally:
        vc.glslang_version.cache_clear()
    assert "needs glslang 13" in caplog.text


# ---------------------------------------------------------------- lavapipe


@pytest.fixture(scope="module")
def be():
    try:
        return vk.VulkanBackend()
    except vk.VulkanUnavailable as e:
        pytest.skip(f"no Vulkan: {e}")


@pytest.mark.vulkan
def test_the_device_reports_its_features(be):
    for name in ("storageBuffer16BitAccess", "shaderFloat16", "cooperativeMatrix"):
        has, enabled = be.features[name]
        assert not enabled or has, name  # nothing enabled that the device lacks
    assert be.device_info["subgroup_size"] >= 1
    if not be.features["cooperativeMatrix"][0]:
        assert mm.gemm_path(be, "matmul") == "scalar"


def _gemm_case(rng, batch, m, n, k, ta, tb, a_batch=None):
    a_shape = (a_batch or batch, k, m) if ta else (a_batch or batch, m, k)
    b_shape = (batch, n, k) if tb else (batch, k, n)
    a = rng.standard_normal(a_shape).astype(np.float16)
    b = rng.standard_normal(b_shape).astype(np.float16)
    a64 = a.astype(np.float64)
    b64 = b.astype(np.float64)
    a64 = np.swapaxes(a64, 1, 2) if ta else a64
    b64 = np.swapaxes(b64, 1, 2) if tb else b64
    return a, b, a64 @ b64, np.abs(a64) @ np.abs(b64)


@pytest.mark.vulkan
@pytest.mark.parametrize(
    "batch,m,n,k,ta,tb,a_batch",
    [
        (1, 64, 64, 64, 0, 0, None),  # whole blocks, two K slabs
        (2, 70, 45, 33, 0, 0, None),  # ragged edges in every dimension
        (2, 17, 80, 50, 1, 0, None),  # A stored transposed
        (2, 40, 19, 70, 0, 1, None),  # B stored transposed
        (3, 65, 66, 31, 1, 1, 1),  # both, and A's batch of 1 broadcast
    ],
)
def test_emulated_coopmat_tiling_f16_matches_float64(
    be, monkeypatch, batch, m, n, k, ta, tb, a_batch
):
    monkeypatch.setenv("VKGRAD_COOPMAT", "emulate")
    monkeypatch.setattr(be, "max_groups", 1)  # every block through the grid-stride loops
    ran = []
    dispatch = be.dispatch
    monkeypatch.setattr(be, "dispatch", lambda name, *a: (ran.append(name), dispatch(name, *a)))
    rng = np.random.default_rng(batch * 1000 + m + n + k)
    a, b, ref, mag = _gemm_case(rng, batch, m, n, k, ta, tb, a_batch)
    op = ops.get("matmul")
    attrs = {"ta": ta, "tb": tb}
    shape = ops.out_shape(op, [a.shape, b.shape], attrs)
    out = be.run(op, [be.from_numpy(a, f16), be.from_numpy(b, f16)], attrs, shape, f16)
    got = be.to_numpy(out).astype(np.float64)
    assert "matmul_coopmat_emulated" in ran
    # f16 inputs are exact in f32; the sum is f32 (relative error ~K * 2^-24 of sum |a||b|)
    # and the result is rounded once to f16 (2^-11 relative).
    np.testing.assert_allclose(got, ref, rtol=2.0**-10, atol=k * 2.0**-22 * mag.max())
