"""Check that the test suite ran every shader variant on Vulkan.

    VKGRAD_SHADER_COVERAGE=build/shader-coverage.json .venv/bin/python -m pytest
    .venv/bin/python scripts/shader_coverage.py build/shader-coverage.json

The first command records every (shader, defines) variant dispatched (tests/conftest.py);
this script compares the record with the shaders in ``shaders/`` and with the variants the
op table lists (``vkgrad.backends.vulkan.compile.all_variants``, which the compile test
builds). It prints what no test dispatched and exits with 1 when anything is missing: a
shader that no test runs on a Vulkan device is untested code.

A shader that declares ``// vkgrad: requires <feature>`` (the cooperative-matrix GEMM) runs
only on devices with that feature, which lavapipe lacks: its variants are compiled by the
compile test, and their tiling runs through a scalar emulation that is listed and must be
dispatched (``matmul_coopmat_emulated``). They are printed, not counted as failures.

Variants dispatched but not listed are printed, not counted as failures: they are other
combinations of input dtypes (``int_tensor * f16_tensor``, ``mask & mask``), which the map
shaders read slot by slot, built on first use; the list keeps the main ones so that ``--all``
stays small.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from vkgrad.backends.vulkan.compile import SHADER_DIR, all_variants, directive, variant_label


def main(record: str) -> int:
    ran = {(name, tuple(sorted(d.items()))) for name, d in json.loads(Path(record).read_text())}
    listed = {(name, tuple(sorted(d.items()))) for name, d in all_variants()}
    files = {p.stem for p in SHADER_DIR.glob("*.comp")}
    gated = {name: directive(name, "requires")[0] for name in files if directive(name, "requires")}
    problems = []
    for name in sorted(files - {name for name, _ in ran}):
        if name not in gated:
            problems.append(f"shader never dispatched: {name}")
    for name, d in sorted(listed - ran):
        label = variant_label(name, dict(d))
        if name in gated:
            print(f"needs {gated[name]}, not on this device: compiled, not dispatched: {label}")
        else:
            problems.append(f"variant never dispatched: {label}")
    for line in problems:
        print(line)
    for name, d in sorted(ran - listed):
        label = variant_label(name, dict(d))
        print(f"also dispatched, built on first use (not in all_variants): {label}")
    print(
        f"shader coverage: {len(ran & listed)} of {len(listed)} listed variants dispatched, "
        f"{len(files & {n for n, _ in ran})} of {len(files)} shaders, "
        f"{len(ran - listed)} other variants"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
