"""Each kind writes its push-constant layout once (``kinds.PUSH``); every shader a row of the
kind owns declares the same words, by name and in order, in its ``layout(push_constant)``
block (in the .comp file or a header it includes), so that the two cannot drift."""

from __future__ import annotations

import re

import pytest

from vkgrad import ops
from vkgrad.backends.vulkan import compile as vc
from vkgrad.backends.vulkan import kinds

_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
_BLOCK = re.compile(r"layout\s*\(\s*push_constant\s*\)\s*uniform\s+\w+\s*\{([^}]*)\}\s*pc\s*;")
_FIELD = re.compile(r"^uint\s+(\w+)\s*(?:\[\s*(\d+)\s*\])?$")


def _expanded(path, seen=None) -> str:
    seen = set() if seen is None else seen
    if path in seen:
        return ""
    seen.add(path)
    text = path.read_text()
    return text + "".join(_expanded(path.parent / inc, seen) for inc in _INCLUDE.findall(text))


def push_fields(shader: str) -> tuple:
    """The fields of the push-constant block of ``shaders/<shader>.comp``, as ``name`` or
    ``name[n]``."""
    blocks = _BLOCK.findall(_expanded(vc.SHADER_DIR / f"{shader}.comp"))
    assert len(blocks) == 1, f"{shader}.comp: {len(blocks)} push_constant blocks, expected 1"
    out = []
    for decl in blocks[0].split(";"):
        decl = " ".join(decl.split())
        if not decl:
            continue
        m = _FIELD.match(decl)
        assert m, f"{shader}.comp: push field {decl!r} is not a uint word or uint array"
        out.append(m.group(1) + (f"[{m.group(2)}]" if m.group(2) else ""))
    return tuple(out)


OWNED = sorted(
    {(op.kind, name) for op in ops.OPS.values() for name in vc.shader_names(op)},
)


@pytest.mark.parametrize("kind,shader", OWNED, ids=[f"{k}:{s}" for k, s in OWNED])
def test_shader_push_block_matches_its_kind(kind, shader):
    assert kind in kinds.PUSH, f"kind {kind} declares no push layout"
    assert push_fields(shader) == kinds.PUSH[kind].fields, (
        f"{shader}.comp (kind {kind}): the push block and kinds.PUSH[{kind!r}] differ"
    )


def test_every_kind_declares_a_layout_that_fits():
    for kind in kinds.RUNNERS:
        assert kind in kinds.PUSH, f"kind {kind} declares no push layout"
        last = list(kinds.PUSH[kind].slots.values())[-1]
        assert sum(last) <= 32, f"kind {kind}: more than 32 push words"


def test_shared_shaders_keep_their_kinds_layout():
    # Shaders one kind borrows from another (a zero fill, the gather copy of a scatter, the
    # reduce that adds a window's slices) are dispatched with the lending kind's layout.
    assert push_fields("fill") == kinds.PUSH["map"].fields
    assert push_fields("gather") == kinds.PUSH["gather"].fields
    assert push_fields("sum") == kinds.PUSH["reduce"].fields


def test_push_words_follow_the_declared_order():
    p = kinds.Push("n", "scalars[3]", "attrs[4]")
    w = p.words(n=7, scalars=[1, 2], attrs=[-1])
    assert w[:8].tolist() == [7, 1, 2, 0, 0xFFFFFFFF, 0, 0, 0]
    with pytest.raises(ValueError, match="scalars: 4 values for 3 words"):
        p.words(scalars=[1, 2, 3, 4])
    with pytest.raises(KeyError):
        p.words(missing=1)
