"""The PyTorch training scripts in this folder run unchanged apart from their imports, on
every backend, and learn: each one's loss falls over a short run.

Each script is written as a plain PyTorch program (``import vkgrad as torch`` and friends are
its only vkgrad lines); the source test below holds them to that.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest

import vkgrad

HERE = Path(__file__).resolve().parent
PORTS = ["mnist_cnn", "word_lm", "vae", "dcgan", "regression"]

# The digits data of the CNN, the VAE and the GAN come with scikit-learn (the examples extra).
needs_digits = pytest.mark.extras


# ``import vkgrad as torch``, ``import vkgrad.nn.functional as F``; other modules bind their
# own last name (``import vkgrad.nn as nn``).
CONVENTIONAL_ALIAS = {"vkgrad": "torch", "vkgrad.nn.functional": "F"}


def load_port(name: str):
    spec = importlib.util.spec_from_file_location(f"ports_{name}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_port(name: str, *argv: str) -> list:
    losses = load_port(name).main(list(argv))
    assert losses, f"{name}: main() returned no losses"
    assert np.isfinite(np.asarray(losses, dtype=np.float64)).all(), f"{name}: {losses}"
    return losses


def assert_falls(losses, k: int, fraction: float) -> None:
    first, last = float(np.mean(losses[:k])), float(np.mean(losses[-k:]))
    assert last < fraction * first, (
        f"mean of the last {k} losses {last:.4f} is not below {fraction} x the mean of the "
        f"first {k} ({first:.4f}); losses: {np.round(losses, 4).tolist()}"
    )


# Flags of the short runs (the CNN's test adds --save-model).
SHORT_RUNS = {
    "mnist_cnn": ["--epochs", "2", "--seed", "1", "--log-interval", "0"],
    "word_lm": ["--epochs", "2", "--log-interval", "0"],
    "vae": ["--epochs", "3"],
    "dcgan": ["--epochs", "1", "--log-interval", "0"],
    "regression": ["--steps", "150"],
}


def check_mnist_cnn(losses):
    # 2 epochs of 23 batches: chance level is ln(10) = 2.3; the run ends near 0.7.
    assert_falls(losses, k=5, fraction=0.5)


def check_word_lm(losses):
    # The grammar's words follow each other predictably: from ln(vocabulary) = 3.6 the loss
    # drops to about 1.2 in two epochs; 0.6 x leaves room for seeds and backends.
    assert_falls(losses, k=5, fraction=0.6)


def check_vae(losses):
    # Per-image BCE + KLD: about 44 at the start, under 30 after three epochs.
    assert_falls(losses, k=5, fraction=0.8)


@needs_digits
def test_mnist_cnn_learns(device, tmp_path):
    path = tmp_path / "cnn.pt"
    flags = ["--device", device, *SHORT_RUNS["mnist_cnn"], "--save-model", str(path)]
    losses = run_port("mnist_cnn", *flags)
    check_mnist_cnn(losses)
    state = vkgrad.load(str(path))
    assert sorted(state) == sorted(
        f"{layer}.{p}" for layer in ("conv1", "conv2", "fc1", "fc2") for p in ("weight", "bias")
    )
    assert state["conv1.weight"].shape == (16, 1, 3, 3)


@pytest.mark.parametrize("tied", [False, True], ids=["untied", "tied"])
def test_word_lm_learns(device, tied):
    flags = ["--device", device, "--epochs", "2", "--log-interval", "0"]
    check_word_lm(run_port("word_lm", *flags, *(["--tied"] if tied else [])))


@needs_digits
def test_vae_learns(device):
    check_vae(run_port("vae", "--device", device, *SHORT_RUNS["vae"]))


@needs_digits
def test_dcgan_trains(device):
    check_dcgan(run_port("dcgan", "--device", device, *SHORT_RUNS["dcgan"]))


def check_dcgan(losses):
    d_loss = np.array([d for d, _ in losses])
    g_loss = np.array([g for _, g in losses])
    # A GAN's losses do not fall together: G's loss rises as D gets better and the pair then
    # oscillates. What a working training loop shows on its first steps is D learning to tell
    # real from fake: its loss starts near 2 ln 2 = 1.386 (D outputs 0.5 for everything) and
    # drops, while G's loss stays finite and in the range a non-collapsed game gives.
    assert abs(d_loss[:3].mean() - 2 * np.log(2)) < 0.15, d_loss[:3]
    assert d_loss[-5:].mean() < 0.92 * d_loss[:3].mean(), d_loss.round(4).tolist()
    assert np.all((g_loss > 0.1) & (g_loss < 5.0)), g_loss.round(4).tolist()


def test_regression_learns(device):
    check_regression(run_port("regression", "--device", device, *SHORT_RUNS["regression"]))


def check_regression(losses):
    # The target is a cubic with noise of std 0.1 (mean squared error floor 0.01); the first
    # batches, from a random linear layer, have a loss of order 1 and more.
    assert_falls(losses, k=10, fraction=0.05)
    assert np.mean(losses[-10:]) < 0.03


# ------------------------------------------------------------------ the scripts are PyTorch


def torch_source(name: str) -> str:
    """The port with its imports turned back into PyTorch's."""
    text = (HERE / f"{name}.py").read_text()
    text = re.sub(r"^import vkgrad as torch$", "import torch", text, flags=re.M)
    text = re.sub(r"^(import|from) vkgrad\.", r"\1 torch.", text, flags=re.M)
    assert "vkgrad" not in text.split('"""', 2)[2], f"{name}: vkgrad left after the imports"
    return text


@pytest.mark.parametrize("name", PORTS)
def test_the_same_script_trains_under_pytorch(name):
    """Proof that the ports are PyTorch programs: switched back to torch's imports they run
    and meet the same checks (skipped where PyTorch is not installed)."""
    pytest.importorskip("torch")
    if name in ("mnist_cnn", "vae", "dcgan"):
        pytest.importorskip("sklearn")
    namespace = {"__name__": f"torch_port_{name}"}
    exec(compile(torch_source(name), f"torch:{name}.py", "exec"), namespace)
    losses = namespace["main"](["--device", "cpu", *SHORT_RUNS[name]])
    CHECKS[name](losses)


def _vkgrad_lines(tree: ast.Module) -> list:
    """(line, text) of every statement that names vkgrad, other than the imports."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            bad = [a.name for a in node.names if a.name.split(".")[0] == "vkgrad" and not a.asname]
            if bad:  # ``import vkgrad`` would leave ``vkgrad.`` in the code below
                found.append((node.lineno, f"import {bad} without an alias"))
        elif isinstance(node, ast.Name) and ("vkgrad" in node.id or node.id.startswith("ag_")):
            found.append((node.lineno, node.id))
        elif isinstance(node, ast.Attribute) and (
            "vkgrad" in node.attr or node.attr.startswith("ag_")
        ):
            found.append((node.lineno, node.attr))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if "vkgrad" in node.value and node is not _docstring(tree):
                found.append((node.lineno, repr(node.value)))
    return found


def _docstring(tree: ast.Module):
    first = tree.body[0] if tree.body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        return first.value
    return None


@pytest.mark.parametrize("name", PORTS)
def test_only_the_imports_are_vkgrad(name):
    tree = ast.parse((HERE / f"{name}.py").read_text())
    imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    from_vkgrad = [
        n for n in imports if isinstance(n, ast.ImportFrom) and n.module.startswith("vkgrad")
    ]
    aliased = [
        n for n in imports if isinstance(n, ast.Import) and n.names[0].name.startswith("vkgrad")
    ]
    assert aliased, f"{name}: no 'import vkgrad... as ...' line"
    # The vkgrad imports bind PyTorch's names and sit at the top of the module.
    for node in from_vkgrad + aliased:
        assert node in tree.body, f"{name}:{node.lineno}: vkgrad imported inside a block"
    for node in aliased:
        for alias in node.names:
            assert alias.asname == CONVENTIONAL_ALIAS.get(alias.name, alias.name.split(".")[-1]), (
                f"{name}:{node.lineno}: 'import {alias.name} as {alias.asname}' does not bind "
                "the name PyTorch's import would"
            )
    assert _vkgrad_lines(tree) == [], f"{name}: vkgrad-specific code: {_vkgrad_lines(tree)}"


CHECKS = {
    "mnist_cnn": check_mnist_cnn,
    "word_lm": check_word_lm,
    "vae": check_vae,
    "dcgan": check_dcgan,
    "regression": check_regression,
}


def test_every_port_is_tested():
    scripts = sorted(p.stem for p in HERE.glob("*.py") if not p.stem.startswith("test_"))
    assert scripts == sorted(PORTS)


def test_the_source_check_sees_vkgrad_code():
    src = (
        '"""A docstring may name vkgrad."""\n'
        "import vkgrad as torch\n"
        "import vkgrad\n"
        "x = vkgrad.zeros(2)\n"
        "y = torch.ag_tensor(x)\n"
        "z = torch.device('vkgrad')\n"
    )
    lines = [line for line, _ in _vkgrad_lines(ast.parse(src))]
    assert sorted(set(lines)) == [3, 4, 5, 6]
