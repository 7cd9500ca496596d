"""What a kit holds and which sources it was built from.

    python manifest.py KITDIR        # writes KITDIR/manifest.json (scripts/gpu_kit/build.sh)

The kit's vkgrad wheel and SPIR-V come from the tree at build time, while its tests run from
the tree it travels with: ``source_hash`` lets the run refuse a kit built from other sources.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path


def source_files(root: Path) -> list:
    """The files the kit's wheel and SPIR-V are built from, relative to ``root``."""
    out = [Path("pyproject.toml")]
    for top, exts in (("src/vkgrad", (".py",)), ("shaders", (".comp", ".glsl"))):
        # followlinks=False: src/vkgrad/shaders is a link to shaders/, hashed once.
        for d, _, files in os.walk(root / top, followlinks=False):
            out += [Path(d, f).relative_to(root) for f in files if f.endswith(exts)]
    return sorted(out)


def source_hash(root: Path) -> str:
    h = hashlib.sha256()
    for rel in source_files(root):
        h.update(str(rel).encode() + b"\0" + (root / rel).read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _git(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
    except OSError:
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def write(kit: Path, root: Path) -> dict:
    files = {
        str(p.relative_to(kit)): p.stat().st_size
        for p in sorted(kit.rglob("*"))
        if p.is_file() and p.parent.name != "spirv"
    }
    spirv = list((kit / "spirv").glob("*.spv"))
    manifest = {
        "built": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": _git(root, "rev-parse", "--short", "HEAD"),
        "uncommitted_changes": bool(_git(root, "status", "--porcelain")),
        "source_hash": source_hash(root),
        "spirv_files": len(spirv),
        "spirv_bytes": sum(p.stat().st_size for p in spirv),
        "files": files,
    }
    (kit / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


if __name__ == "__main__":
    kit = Path(sys.argv[1])
    m = write(kit, Path(__file__).resolve().parents[2])
    print(f"manifest: commit {m['commit']}, sources {m['source_hash']}, {m['spirv_files']} SPIR-V")
