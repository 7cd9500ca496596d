"""Every ```python block in README.md and docs/ runs, so the docs cannot rot.

Blocks of one file run in order in one namespace, as a reader would run them.
"""

import pathlib
import re

import pytest

import vkgrad

ROOT = pathlib.Path(__file__).resolve().parents[1]
FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_code_blocks_run(path):
    blocks = BLOCK.findall(path.read_text())
    ns = {"vkgrad": vkgrad}
    with vkgrad.device("cpu"):
        for i, code in enumerate(blocks):
            try:
                exec(compile(code, f"{path.name}[block {i}]", "exec"), ns)
            except Exception as e:  # the message names the file and block
                raise AssertionError(f"{path.name}, python block {i} failed: {e!r}") from e
