"""scripts/shader_coverage.py, the CI check that the suite dispatches every shader variant."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from vkgrad.backends.vulkan.compile import all_variants

_SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "shader_coverage.py"


@pytest.fixture(scope="module")
def coverage():
    spec = importlib.util.spec_from_file_location("shader_coverage", _SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _write(tmp_path, rows) -> str:
    path = tmp_path / "record.json"
    path.write_text(json.dumps([[name, d] for name, d in rows]))
    return str(path)


def test_complete_record_passes(coverage, tmp_path, capsys):
    assert coverage.main(_write(tmp_path, all_variants())) == 0
    assert "variants dispatched" in capsys.readouterr().out


def test_a_missing_variant_or_shader_fails(coverage, tmp_path, capsys):
    rows = [(n, d) for n, d in all_variants() if n != "gather"]
    assert coverage.main(_write(tmp_path, rows)) == 1
    out = capsys.readouterr().out
    assert "shader never dispatched: gather" in out
    assert "variant never dispatched: gather[" in out


def test_a_mixed_dtype_variant_is_listed_not_failed(coverage, tmp_path, capsys):
    rows = all_variants() + [("add", {"D0": 0, "D1": 1, "D2": 0})]
    assert coverage.main(_write(tmp_path, rows)) == 0
    assert "also dispatched, built on first use (not in all_variants): add[D0=0, D1=1, D2=0]" in (
        capsys.readouterr().out
    )


def test_a_feature_gated_shader_is_reported_not_failed(coverage, tmp_path, capsys):
    # matmul_coopmat needs VK_KHR_cooperative_matrix; its scalar emulation does not.
    rows = [(n, d) for n, d in all_variants() if n != "matmul_coopmat"]
    assert coverage.main(_write(tmp_path, rows)) == 0
    assert "needs cooperativeMatrix, not on this device" in capsys.readouterr().out
    rows = [(n, d) for n, d in rows if n != "matmul_coopmat_emulated"]
    assert coverage.main(_write(tmp_path, rows)) == 1
    assert "matmul_coopmat_emulated" in capsys.readouterr().out
