"""Every op row has its three pieces: the row, a NumPy kernel, and its shader file(s)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vkgrad import ops
from vkgrad.backends import numpy_backend

SHADERS = Path(__file__).resolve().parents[1] / "shaders"


def missing_pieces(op: ops.Op, kernels: dict, shader_dir: Path, shaders=None) -> list:
    """What ``op`` lacks, each named so that the failure says what to add; ``shaders``: the
    row's shader files (by default those the Vulkan backend's kind of the row runs)."""
    from vkgrad.backends.vulkan.compile import shader_names

    out = []
    if op.name not in kernels:
        out.append(f"NumPy kernel '{op.name}' (numpy_backend.py or numpy_kernels/<family>.py)")
    for s in shader_names(op) if shaders is None else shaders:
        if not (shader_dir / f"{s}.comp").is_file():
            out.append(f"shader shaders/{s}.comp")
    return out


@pytest.mark.parametrize("name", sorted(ops.OPS))
def test_row_has_kernel_and_shaders(name):
    op = ops.OPS[name]
    missing = missing_pieces(op, numpy_backend.KERNELS, SHADERS)
    assert not missing, f"op '{name}' (kind {op.kind}) is missing: {', '.join(missing)}"


def test_no_orphan_kernels():
    orphans = sorted(set(numpy_backend.KERNELS) - set(ops.OPS))
    assert not orphans, f"NumPy kernels without an op row in ops.py: {orphans}"


def test_packaged_shaders_are_the_repo_shaders():
    import vkgrad

    pkg = Path(vkgrad.__file__).resolve().parent / "shaders"
    assert pkg.resolve() == SHADERS, f"vkgrad/shaders resolves to {pkg.resolve()}, not {SHADERS}"


def test_missing_pieces_names_them(tmp_path):
    (tmp_path / "present.comp").write_text("")
    row = ops.Op("fake_op", "map", 1)
    missing = missing_pieces(row, {}, tmp_path, shaders=("present", "fake_op_backward"))
    assert missing == [
        "NumPy kernel 'fake_op' (numpy_backend.py or numpy_kernels/<family>.py)",
        "shader shaders/fake_op_backward.comp",
    ]
    assert missing_pieces(ops.OPS["add"], numpy_backend.KERNELS, SHADERS) == []
    assert missing_pieces(row, {"fake_op": None}, tmp_path) == ["shader shaders/fake_op.comp"]
