"""vkgrad.validate: the one implementation of the rows' index bounds, for every backend."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import vkgrad
from vkgrad import dtypes, nn, ops, optim, validate
from vkgrad.backends.numpy_backend import KERNELS, NumpyBackend

MSG = "op: index {v} out of range"


def _ix(values) -> np.ndarray:
    return np.asarray(values, np.int32)


def test_check_values_passes_in_range_and_skip_values():
    validate.check_values(_ix([0, 3, 1]), 0, 4, None, MSG)
    validate.check_values(_ix([-100, 2]), 0, 4, -100, MSG)
    validate.check_values(_ix([]), 0, 0, None, MSG)  # nothing to check, even in [0, 0)
    validate.check_values(_ix([-3, 2]), -3, 3, None, MSG)  # negative lo (index_linear)


def test_check_values_names_the_first_bad_value_in_memory_order():
    with pytest.raises(IndexError, match=r"^op: index 7 out of range$"):
        validate.check_values(_ix([[1, 7], [-1, 9]]), 0, 4, None, MSG)
    with pytest.raises(IndexError, match=r"^op: index -1 out of range$"):
        validate.check_values(_ix([[1, -1], [7, 9]]), 0, 4, None, MSG)
    # The skip value is allowed, not a value between the extremes.
    with pytest.raises(IndexError, match=r"^op: index 5 out of range$"):
        validate.check_values(_ix([-100, 5, 3]), 0, 4, -100, MSG)
    # Scalars and 0-d arrays too.
    with pytest.raises(IndexError, match=r"^op: index 4 out of range$"):
        validate.check_values(4, 0, 4, None, MSG)


def test_check_known_range_checks_the_extremes_only():
    validate.check_known_range(None, 0, 4, None, MSG)  # nothing known
    validate.check_known_range((0, 3), 0, 4, None, MSG)
    with pytest.raises(IndexError, match=r"^op: index 4 out of range$"):
        validate.check_known_range((0, 4), 0, 4, None, MSG)
    # The maximum is reported first, as the Vulkan backend always has.
    with pytest.raises(IndexError, match=r"^op: index 9 out of range$"):
        validate.check_known_range((-1, 9), 0, 4, None, MSG)
    # A skip value at an extreme hides what lies between: the Vulkan kernels skip it.
    validate.check_known_range((-100, 3), 0, 4, -100, MSG)


def test_index_bounds_reads_the_row():
    assert validate.index_bounds(ops.OPS["add"], [(2,), (2,)], {}) is None
    pos, lo, hi, skip, msg = validate.index_bounds(ops.OPS["gather"], [(3, 4), (3, 2)], {"dim": 1})
    assert (pos, lo, hi, skip) == (1, 0, 4, None)
    assert msg.format(v=9) == "gather: index 9 is out of bounds for dimension 1 with size 4"


# ---------------------------------------------------------------- the NumPy backend


def _run(op, inputs, attrs, dtype=dtypes.float32):
    be = NumpyBackend()
    shapes = [np.shape(x) for x in inputs]
    shape = ops.out_shape(op, shapes, attrs)
    return be.run(op, inputs, attrs, shape, dtype)


BAD_RUNS = [
    ("gather", [np.zeros((3, 4)), _ix([[0, 4]] * 3)], {"dim": 1},
     "gather: index 4 is out of bounds for dimension 1 with size 4"),
    ("index_select", [np.zeros((3, 4)), _ix([1, -2])], {"dim": 0, "skip": -1},
     "index_select: index -2 is out of bounds for dimension 0 with size 3"),
    ("embedding", [np.zeros((5, 2)), _ix([0, 5])], {"padding_idx": -1},
     "embedding: index 5 is out of bounds for dimension 0 with size 5"),
    ("scatter_add", [np.zeros(4), _ix([1, 4]), np.ones(2)], {"dim": 0},
     "scatter_add: index 4 is out of bounds for dimension 0 with size 4"),
    ("one_hot", [_ix([0, 3])], {"num_classes": 3},
     r"one_hot: class value 3 is out of range \[0, 3\)"),
    ("index_linear", [_ix([0, 0]), _ix([1, -5])], {"size": 4, "stride": 1, "dim": 1},
     "indexing: index -5 is out of bounds for dimension 1 with size 4"),
    ("cross_entropy_index", [np.zeros((2, 3)), _ix([0, 3])], {},
     r"cross_entropy: target class index 3 out of range \[0, 3\)"),
    ("nll_loss", [np.zeros((2, 3)), _ix([-100, 3]), np.ones(3)], {"ignore_index": -100},
     r"nll_loss: target class index 3 out of range \[0, 3\)"),
]  # fmt: skip


@pytest.mark.parametrize("name, inputs, attrs, message", BAD_RUNS, ids=[b[0] for b in BAD_RUNS])
def test_backend_run_raises_the_rows_bounds_error(name, inputs, attrs, message):
    with pytest.raises(IndexError, match=message):
        _run(ops.OPS[name], inputs, attrs)


def test_the_message_comes_from_the_row_not_the_kernel():
    # A row with other bounds: the backend raises those, before the kernel sees the index.
    row = dataclasses.replace(
        ops.OPS["gather"], bounds=lambda shapes, attrs: (1, 0, 2, None, "row says {v}")
    )
    with pytest.raises(IndexError, match="^row says 3$"):
        _run(row, [np.zeros((3, 4)), _ix([[0, 3]] * 3)], {"dim": 1})
    # The kernel itself takes any valid NumPy index.
    out = KERNELS["gather"](np.arange(4.0)[None], _ix([[3, -1]]), dim=1)
    np.testing.assert_array_equal(out, [[3.0, 3.0]])


def test_skip_values_reach_the_kernel():
    out = _run(ops.OPS["index_select"], [np.arange(6.0).reshape(3, 2), _ix([2, 5])],
               {"dim": 0, "skip": 5})  # fmt: skip
    np.testing.assert_array_equal(out, [[4, 5], [0, 0]])


# ---------------------------------------------------------------- captured CPU steps


def test_captured_step_checks_the_indices_of_each_replay():
    """Embedding indices of a new batch are checked on replay, where the kernels are called
    directly: the row's IndexError, before the step changes a parameter or a gradient."""
    vkgrad.manual_seed(0)
    model = nn.Sequential(nn.Embedding(10, 4), nn.Flatten(), nn.Linear(8, 3))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    def step(idx, y):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(idx), y)
        loss.backward()
        opt.step()
        return loss

    step = vkgrad.capture(step)
    rng = np.random.default_rng(0)
    y = vkgrad.tensor(_ix(rng.integers(0, 3, 6)))
    idx = vkgrad.tensor(_ix(rng.integers(0, 10, (6, 2))))
    for _ in range(3):  # eager, recorded, replayed
        step(idx, y)
    assert step.replays == 1
    params = [p.numpy() for p in model.parameters()]
    grads = [p.grad.numpy() for p in model.parameters()]
    bad = _ix(rng.integers(0, 10, (6, 2)))
    bad[4, 1] = 10
    with pytest.raises(IndexError, match="embedding: index 10 is out of bounds for dimension 0"):
        step(vkgrad.tensor(bad), y)
    for p, before, g in zip(model.parameters(), params, grads):
        np.testing.assert_array_equal(p.numpy(), before)
        np.testing.assert_array_equal(p.grad.numpy(), g)
    step(idx, y)  # a good batch still replays
    assert step.replays == 2
