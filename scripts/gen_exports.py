"""Write the import blocks that expose the op families' functions, so that every public name
of vkgrad is defined or imported where it is used (go-to-definition and type checkers see it).

Each family in ``vkgrad/library/`` lists its exports: ``__all__`` (``vkgrad.<name>``,
``vkgrad.functional.<name>``), ``NN_FUNCTIONAL`` (``vkgrad.nn.functional``), ``FUNCTIONAL``
(``vkgrad.functional`` only) and ``TENSOR_METHODS`` (``Tensor.<name>``). This script turns
those lists into the blocks between ``# BEGIN GENERATED ...`` and ``# END GENERATED ...`` in
four files. ``--check`` changes nothing and exits 1 naming each stale file
(tests/test_exports.py runs it).

    python scripts/gen_exports.py [--check]
"""

from __future__ import annotations

import argparse
import builtins
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "vkgrad"


def _import_block(package: str, table: dict[str, list[str]], indent: str = "") -> str:
    out = []
    for fam, names in table.items():
        if not names:
            continue
        if len(names) == 1:
            out.append(f"{indent}from {package}.{fam} import {_alias(names[0])}")
            continue
        out.append(f"{indent}from {package}.{fam} import (")
        out += [f"{indent}    {_alias(n)}," for n in names]
        out.append(f"{indent})")
    return "\n".join(out)


def _alias(name: str) -> str:
    # ``import x as x`` marks a re-export where the name shadows a builtin (sum, max, ...), so
    # that linters do not read it as an accident.
    return f"{name} as {name}" if hasattr(builtins, name) else name


def _names(fam, *lists: str) -> list[str]:
    seen: list[str] = []
    for attr in lists:
        for n in getattr(fam, attr, ()):
            if n not in seen:
                seen.append(n)
    return sorted(seen)


def _unique(table: dict[str, list[str]], where: str) -> None:
    owner: dict[str, str] = {}
    for fam, names in table.items():
        for n in names:
            if n in owner:
                raise SystemExit(f"gen_exports: {where}: {n!r} exported by {owner[n]} and {fam}")
            owner[n] = fam


def _method_lines(families) -> str:
    lines = []
    seen: dict[str, str] = {}
    for fam in families:
        short = fam.__name__.rsplit(".", 1)[1]
        for method, fn in sorted(fam.TENSOR_METHODS.items()):
            attr = next((k for k, v in vars(fam).items() if v is fn), None)
            if attr is None:
                raise SystemExit(
                    f"gen_exports: {short}.TENSOR_METHODS[{method!r}] is not a module-level "
                    "function of its family; define it with def"
                )
            if method in seen:
                raise SystemExit(f"gen_exports: Tensor.{method} from {seen[method]} and {short}")
            seen[method] = short
            lines.append(f"    {method} = _{short}.{attr}")
    return "\n".join(lines)


def blocks() -> dict[Path, dict[str, str]]:
    """{file: {block name: text}} as they should be."""
    sys.path.insert(0, str(ROOT / "src"))
    from vkgrad.library import FAMILIES

    short = {f.__name__.rsplit(".", 1)[1]: f for f in FAMILIES}
    short = dict(sorted(short.items()))  # import blocks sorted by module, as the linter wants
    functional = {k: _names(f, "__all__", "NN_FUNCTIONAL", "FUNCTIONAL") for k, f in short.items()}
    public = {k: _names(f, "__all__") for k, f in short.items()}
    nn = {k: _names(f, "NN_FUNCTIONAL") for k, f in short.items()}
    for table, where in ((functional, "functional"), (public, "vkgrad"), (nn, "nn.functional")):
        _unique(table, where)
    nn_all = sorted({n for names in nn.values() for n in names} | {"linear"})
    nn_text = _import_block("..library", nn) + "\n\n__all__ = [\n"
    nn_text += "".join(f'    "{n}",\n' for n in nn_all) + "]"
    fn_all = sorted({n for names in functional.values() for n in names} | {"call"})
    fn_text = _import_block(".library", functional) + "\n\n__all__ = [\n"
    fn_text += "".join(f'    "{n}",\n' for n in fn_all) + "]"
    modules = "\n".join(
        f"from .library import {k} as _{k}" for k, f in short.items() if f.TENSOR_METHODS
    )
    return {
        SRC / "functional.py": {"EXPORTS": fn_text},
        SRC / "__init__.py": {"EXPORTS": _import_block(".library", public)},
        SRC / "nn" / "functional.py": {"EXPORTS": nn_text},
        SRC / "tensor.py": {
            "IMPORTS": modules,
            "METHODS": _method_lines(FAMILIES),
        },
    }


_BLOCK = re.compile(
    r"(?P<head>^[ \t]*# BEGIN GENERATED (?P<name>\w+)[^\n]*\n)(?P<body>.*?)"
    r"(?P<tail>^[ \t]*# END GENERATED (?P=name)\n)",
    re.M | re.S,
)


def render(path: Path, wanted: dict[str, str]) -> str:
    text = path.read_text()
    found = set()

    def fill(m: re.Match) -> str:
        name = m.group("name")
        if name not in wanted:
            return m.group(0)
        found.add(name)
        body = wanted[name]
        return m.group("head") + (body + "\n" if body else "") + m.group("tail")

    text = _BLOCK.sub(fill, text)
    missing = set(wanted) - found
    if missing:
        raise SystemExit(f"gen_exports: {path} has no '# BEGIN GENERATED' block for {missing}")
    return text


def _squeeze(text: str) -> str:
    return re.sub(r"\n\s*\n", "\n", text)


def main(argv: list | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if a block is stale")
    args = ap.parse_args(argv)
    stale = []
    for path, wanted in blocks().items():
        text, old = render(path, wanted), path.read_text()
        # The formatter may add blank lines around a block: they do not make it stale.
        if _squeeze(text) != _squeeze(old):
            stale.append(path)
            if not args.check:
                path.write_text(text)
    if args.check and stale:
        for p in stale:
            print(f"stale: {p.relative_to(ROOT)} (run python scripts/gen_exports.py)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
