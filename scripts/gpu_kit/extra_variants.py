"""The shader variants the kit's SPIR-V bundle holds beyond ``compile.all_variants()``.

``all_variants()`` lists each row's main dtype combinations; others (``f32 * bool``,
``f16 + f32``, ``mask & mask``) are compiled on first use, which a machine without glslang
cannot do. ``extra_variants.json`` lists those that the Vulkan tests and the kit's own
workloads dispatch, from records of what ran (the tests' ``VKGRAD_SHADER_COVERAGE`` file,
``race.py``/``bench.py --variants-out``):

    python scripts/gpu_kit/extra_variants.py RECORD...           # add them to the list
    python scripts/gpu_kit/extra_variants.py --check RECORD...   # CI: fail on any not listed

Adding keeps what is listed, except variants of shaders that no longer exist; user shaders
(registered at run time) are never listed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from vkgrad.backends.vulkan.compile import SHADER_DIR, all_variants, variant_label

LIST = Path(__file__).with_name("extra_variants.json")


def _load(path: Path) -> set:
    return {(name, tuple(sorted(d.items()))) for name, d in json.loads(path.read_text())}


def unlisted(records: list) -> set:
    """Variants of vkgrad's own shaders in ``records`` that ``all_variants()`` lacks."""
    ran = set().union(*(_load(Path(r)) for r in records))
    listed = {(name, tuple(sorted(d.items()))) for name, d in all_variants()}
    return {v for v in ran - listed if (SHADER_DIR / f"{v[0]}.comp").exists()}


def main(argv: list) -> int:
    ap = argparse.ArgumentParser(prog="extra_variants.py")
    ap.add_argument("--check", action="store_true", help="fail if a record has one not listed")
    ap.add_argument("records", nargs="+")
    args = ap.parse_args(argv)
    have = _load(LIST) if LIST.exists() else set()
    need = unlisted(args.records)
    if args.check:
        missing = sorted(need - have)
        for name, d in missing:
            print(f"not in the GPU kit's bundle: {variant_label(name, dict(d))}")
        if missing:
            print(
                f"{len(missing)} variants ran that {LIST.name} lacks: the GPU kit would fail "
                f"on them. Add them: python scripts/gpu_kit/extra_variants.py "
                + " ".join(args.records)
            )
            return 1
        print(f"GPU kit bundle: all {len(need)} unlisted variants that ran are in {LIST.name}")
        return 0
    keep = {v for v in have | need if (SHADER_DIR / f"{v[0]}.comp").exists()}
    rows = [[name, dict(d)] for name, d in sorted(keep)]
    LIST.write_text("[\n" + ",\n".join(json.dumps(r) for r in rows) + "\n]\n")
    print(f"{LIST}: {len(rows)} variants ({len(keep - have)} new)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
