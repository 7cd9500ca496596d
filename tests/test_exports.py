"""Every public name is defined or imported where it is exposed, and the generated import
blocks (scripts/gen_exports.py) match the op families' export lists."""

import importlib.util
import pathlib
import re

import vkgrad
import vkgrad.functional as F
import vkgrad.nn.functional as NF
from vkgrad.library import FAMILIES

ROOT = pathlib.Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "vkgrad"


def _gen():
    spec = importlib.util.spec_from_file_location("gen_exports", ROOT / "scripts/gen_exports.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_generated_blocks_are_current():
    assert _gen().main(["--check"]) == 0, "run python scripts/gen_exports.py"


def test_no_names_injected_at_runtime():
    # The public surface is static: no globals().update, no setattr of API onto Tensor.
    for path in SRC.rglob("*.py"):
        text = path.read_text()
        assert "globals().update" not in text, path
        assert not re.search(r"setattr\(Tensor\b", text), path


def test_every_family_export_is_reachable():
    for fam in FAMILIES:
        for name in fam.__all__:
            assert getattr(vkgrad, name) is getattr(fam, name), name
            assert getattr(F, name) is getattr(fam, name), name
        for name in fam.NN_FUNCTIONAL:
            assert getattr(NF, name) is getattr(fam, name), name
        for name in fam.FUNCTIONAL:
            assert getattr(F, name) is getattr(fam, name), name
        for name, fn in fam.TENSOR_METHODS.items():
            assert vkgrad.Tensor.__dict__[name] is fn, name
