"""Where shaders come from: the package's ``shaders/`` directory, or GLSL registered by user
code (``vkgrad.extend``); the headers each includes; and what a shader declares of itself in
``// vkgrad: <key> <args>`` header lines (its loop cost, fixed binding dtypes, ...), which
the kinds read.

This module knows files, not Vulkan: the kinds and the compiler both build on it.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import tempfile
from pathlib import Path

# src/vkgrad/backends/vulkan/compile.py -> src/vkgrad/shaders (a symlink to the repo's shaders/)
SHADER_DIR = Path(__file__).resolve().parents[2] / "shaders"

_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)

# Shaders of ops defined outside the package (vkgrad.extend): name -> .comp file.
_USER: dict[str, Path] = {}


def cache_root() -> Path:
    """Where compiled shaders, pipelines and user shaders are kept: ``$VKGRAD_CACHE_DIR``, or
    ``~/.cache/vkgrad``."""
    return Path(os.environ.get("VKGRAD_CACHE_DIR") or Path.home() / ".cache" / "vkgrad")


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename: processes sharing the
    cache directory never read half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def sources(path: Path, seen: set | None = None) -> list[bytes]:
    """The file's bytes followed by those of every header it includes, recursively."""
    seen = set() if seen is None else seen
    if path in seen:
        return []
    seen.add(path)
    text = path.read_bytes()
    parts = [path.name.encode(), text]
    for inc in _INCLUDE.findall(text.decode()):
        dep = path.parent / inc
        if not dep.exists():  # a user's shader includes the kinds' headers from here
            dep = SHADER_DIR / inc
        if dep.exists():  # a missing header is glslang's error to report, with its line
            parts += sources(dep, seen)
    return parts


def register_shader(name: str, source: str | Path, text_dir: Path) -> Path:
    """Make shader ``name`` come from ``source``: GLSL text (written to a file in
    ``text_dir``), or a ``Path`` to a .comp file. Its ``#include``s find the kinds' headers
    (``map.glsl``, ...). Returns the file.

    >>> register_shader("bias_gelu", BIAS_GELU_GLSL)   # doctest: +SKIP
    """
    if (SHADER_DIR / f"{name}.comp").exists():
        raise ValueError(f"register_shader: {name!r} is a shader of vkgrad itself")
    if isinstance(source, Path):
        path = source.resolve()
        if not path.is_file():
            raise FileNotFoundError(f"register_shader: {name}: no shader file {path}")
    else:
        text = str(source)
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        path = Path(text_dir) / f"{name}-{digest}.comp"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    _USER[name] = path
    directives.cache_clear()
    return path


def unregister_shader(name: str) -> None:
    """Forget a shader given to ``register_shader`` (its compiled variants too)."""
    if _USER.pop(name, None) is not None:
        directives.cache_clear()


def user_shaders() -> dict[str, Path]:
    """The shaders given to ``register_shader``: name -> .comp file."""
    return dict(_USER)


def shader_path(name: str, shader_dir: Path | None = None) -> Path:
    """The .comp file of shader ``name``: a registered user shader, else ``shaders/``."""
    if shader_dir is None and name in _USER:
        return _USER[name]
    return (Path(shader_dir) if shader_dir is not None else SHADER_DIR) / f"{name}.comp"


_DIRECTIVE = re.compile(r"^//\s*vkgrad:\s*(\S+)(.*)$", re.M)


@functools.cache
def directives(name: str) -> dict:
    """``// vkgrad: <key> <args>`` lines of ``shaders/<name>.comp`` and the headers it
    includes (the shader's own line first): what a shader declares of itself to its kind
    (its loop cost, its fixed binding dtypes, a shader it relies on, ...).

    >>> directives("sum")["loops"]
    ('rows', '1')
    """
    out: dict = {}
    src = shader_path(name)
    if not src.exists():
        return out
    for part in sources(src)[1::2]:
        for key, args in _DIRECTIVE.findall(part.decode()):
            out.setdefault(key, tuple(args.split()))
    return out


def directive(name: str, key: str) -> tuple | None:
    """The arguments of shader ``name``'s directive ``key``, or None."""
    return directives(name).get(key)


def variant_label(name: str, defines: dict) -> str:
    """``name[D0=0, D1=1]``: a shader variant as errors, the profiler and coverage name it."""
    return name + "[" + ", ".join(f"{k}={v}" for k, v in sorted(defines.items())) + "]"
