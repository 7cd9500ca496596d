"""docs/ops.md is generated from the op table and must not go stale."""

from __future__ import annotations

from pathlib import Path

from vkgrad import opdoc, ops

DOC = Path(__file__).resolve().parents[1] / "docs" / "ops.md"


def test_ops_doc_is_current():
    assert DOC.read_text() == opdoc.table(), (
        "docs/ops.md is stale: regenerate it with `make docs` (python -m vkgrad.opdoc)"
    )


def test_every_row_is_listed_once():
    lines = [ln for ln in DOC.read_text().splitlines() if ln.startswith("| `")]
    names = [ln.split("`")[1] for ln in lines]
    assert sorted(names) == sorted(ops.OPS)


def test_backward_column_tells_kernels_from_composed_rules():
    lines = {ln.split("`")[1]: ln for ln in opdoc.table().splitlines() if ln.startswith("| `")}
    cols = {name: [c.strip() for c in ln.split("|")[1:-1]] for name, ln in lines.items()}
    assert cols["relu"][5:7] == ["kernel `relu_backward`", "yes"]
    assert cols["add"][5:7] == ["composed of other rows", "yes"]
    assert cols["sign"][5:7] == ["none (no gradient)", "-"]
    # The matmul kind also runs the cooperative-matrix GEMM and its scalar emulation.
    assert cols["matmul"][3:5] == [
        "`numpy_kernels/linalg.py`",
        "`matmul.comp`, `matmul_coopmat.comp`, `matmul_coopmat_emulated.comp`",
    ]
