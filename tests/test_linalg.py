"""The linalg family beyond the op specs: large batches (many workgroups, cpu vs Vulkan vs a
float64 NumPy reference), singular inputs, and error messages."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import vulkan_param
from specs_linalg import spd, wellcond

import vkgrad

LA = vkgrad.linalg
LARGE = ["cpu", vulkan_param("vulkan", id="vulkan")]


def _t(a, dev, requires_grad=False):
    return vkgrad.tensor(np.asarray(a), dtype="f32", device=dev, requires_grad=requires_grad)


def _close_per_matrix(got, ref, rel):
    """|got - ref| <= rel * max|ref| of the same matrix (f32 elimination error scales with the
    matrix's largest entry times its condition number, which wellcond keeps below 6)."""
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    assert got.shape == ref.shape
    scale = np.abs(ref).reshape(ref.shape[0], -1).max(1)
    err = np.abs(got - ref).reshape(ref.shape[0], -1).max(1)
    assert np.all(err <= rel * scale), f"worst relative error {np.max(err / scale):.3g}"


# ---------------------------------------------------------------- large inputs (>= 1e5 elements)


@pytest.mark.parametrize("dev", LARGE)
def test_large_batch_solve_inv_det(dev):
    rng = np.random.default_rng(0)
    a = wellcond()(rng, (2100, 7, 7))  # 102900 elements, 2100 workgroups
    b = rng.uniform(-1, 1, (2100, 7, 3))
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    a64, b64 = a32.astype(np.float64), b32.astype(np.float64)
    A, B = _t(a32, dev), _t(b32, dev)
    _close_per_matrix(LA.solve(A, B).numpy(), np.linalg.solve(a64, b64), 1e-5)
    _close_per_matrix(LA.inv(A).numpy(), np.linalg.inv(a64), 1e-5)
    d = LA.det(A).numpy()
    np.testing.assert_allclose(d, np.linalg.det(a64), rtol=1e-5)


@pytest.mark.parametrize("dev", LARGE)
def test_large_batch_cholesky_and_triangular(dev):
    rng = np.random.default_rng(1)
    a = spd(rng, (2100, 7, 7)).astype(np.float32)
    a64 = a.astype(np.float64)
    lo = LA.cholesky(_t(a, dev))
    ref = np.linalg.cholesky(a64)
    _close_per_matrix(lo.numpy(), ref, 1e-5)
    b = rng.uniform(-1, 1, (2100, 7, 2)).astype(np.float32)
    x = LA.solve_triangular(lo, _t(b, dev), upper=False)
    _close_per_matrix(x.numpy(), np.linalg.solve(ref, b.astype(np.float64)), 1e-4)


@pytest.mark.parametrize("dev", LARGE)
def test_large_single_matrix_solve(dev):
    # n = 321: more rows than threads per workgroup, 103041 elements in one matrix.
    rng = np.random.default_rng(2)
    a = wellcond()(rng, (321, 321)).astype(np.float32)
    b = rng.uniform(-1, 1, (321, 2)).astype(np.float32)
    got = LA.solve(_t(a, dev), _t(b, dev)).numpy()
    ref = np.linalg.solve(a.astype(np.float64), b.astype(np.float64))
    # Elimination error grows with n: n * cond * eps32 ~ 321 * 6 * 6e-8 ~ 1e-4.
    _close_per_matrix(got.T, ref.T, 2e-4)


@pytest.mark.parametrize("dev", LARGE)
def test_large_batch_solve_backward(dev):
    rng = np.random.default_rng(3)
    a = wellcond()(rng, (2100, 7, 7)).astype(np.float32)
    b = rng.uniform(-1, 1, (2100, 7)).astype(np.float32)
    A, B = _t(a, dev, True), _t(b, dev, True)
    LA.solve(A, B).sum().backward()
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    x = np.linalg.solve(a64, b64[..., None])
    gb = np.linalg.solve(np.swapaxes(a64, -1, -2), np.ones((2100, 7, 1)))
    _close_per_matrix(B.grad.numpy(), gb[..., 0], 1e-5)
    _close_per_matrix(A.grad.numpy(), -gb @ np.swapaxes(x, -1, -2), 1e-5)


@pytest.mark.parametrize("dev", LARGE)
def test_large_bmm_and_einsum(dev):
    rng = np.random.default_rng(4)
    a = rng.uniform(-1, 1, (400, 9, 33)).astype(np.float32)  # 118800 elements
    b = rng.uniform(-1, 1, (400, 33, 5)).astype(np.float32)
    A, B = _t(a, dev, True), _t(b, dev, True)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    bound = 1e-5 * (np.abs(a64) @ np.abs(b64)) + 1e-6
    out = vkgrad.bmm(A, B)
    assert np.all(np.abs(out.numpy() - a64 @ b64) <= bound)
    out.sum().backward()
    np.testing.assert_allclose(
        A.grad.numpy(), np.broadcast_to(b64.sum(-1)[:, None], a.shape), 1e-5, 1e-5
    )
    e = vkgrad.einsum("bij,bkj->bik", A, _t(np.swapaxes(b, 1, 2), dev)).numpy()
    assert np.all(np.abs(e - a64 @ b64) <= bound)


# ---------------------------------------------------------------- singular inputs


def test_cpu_singular_raises_like_torch():
    s = vkgrad.tensor([[1.0, 2.0], [2.0, 4.0]], dtype="f64")
    with pytest.raises(RuntimeError, match=r"linalg.inv: The diagonal element 2 is zero, the "):
        LA.inv(s)
    with pytest.raises(RuntimeError, match=r"linalg.solve: .*singular"):
        LA.solve(s, vkgrad.ones(2, dtype="f64"))
    batch = vkgrad.tensor(np.stack([np.eye(2), [[1.0, 2.0], [2.0, 4.0]]]), dtype="f32")
    with pytest.raises(RuntimeError, match=r"linalg.inv: \(Batch element 1\): The diagonal"):
        LA.inv(batch)
    with pytest.raises(RuntimeError, match=r"leading minor of order 2 is not positive-definite"):
        LA.cholesky(vkgrad.tensor([[1.0, 2.0], [2.0, 1.0]]))
    sign, logabs = LA.slogdet(s)
    assert sign.item() == 0 and logabs.item() == -np.inf
    assert LA.det(s).item() == 0


@pytest.mark.parametrize("dev", [vulkan_param("vulkan", id="vulkan")])
def test_vulkan_singular_gives_nan(dev):
    # No host sync to raise from: singular inputs give NaN (inv, solve, cholesky) instead.
    s = np.stack([np.eye(3), [[1.0, 2, 3], [2, 4, 6], [1, 0, 1]]]).astype(np.float32)
    inv = LA.inv(_t(s, dev)).numpy()
    np.testing.assert_allclose(inv[0], np.eye(3))
    assert np.isnan(inv[1]).all()
    assert np.isnan(LA.cholesky(_t([[1.0, 2.0], [2.0, 1.0]], dev)).numpy()).all()
    sign, logabs = LA.slogdet(_t(s, dev))
    np.testing.assert_array_equal(sign.numpy(), [1, 0])
    np.testing.assert_array_equal(logabs.numpy(), [0, -np.inf])
    np.testing.assert_array_equal(LA.det(_t(s, dev)).numpy(), [1, 0])


def test_logdet_negative_is_nan(device):
    a = _t(np.diag([-1.0, 2.0]), device)
    assert np.isnan(vkgrad.logdet(a).item())
    np.testing.assert_allclose(LA.slogdet(a).logabsdet.item(), np.log(2), rtol=1e-6)
    assert LA.slogdet(a).sign.item() == -1


def test_namespace_and_methods():
    for name in ("cholesky", "solve", "solve_triangular", "inv", "det", "slogdet", "pinv"):
        assert callable(getattr(vkgrad.linalg, name))
    for name in ("mm", "bmm", "mv", "dot", "outer", "cross", "det", "logdet", "inverse"):
        assert callable(getattr(vkgrad.Tensor, name))
    assert vkgrad.functional.einsum is vkgrad.einsum


# ---------------------------------------------------------------- errors


def _raises(exc, match, fn, *args, **kw):
    with pytest.raises(exc, match=match):
        fn(*args, **kw)


def test_product_errors():
    a, v = vkgrad.ones(2, 3), vkgrad.ones(3)
    _raises(RuntimeError, r"mm: expected 2-D tensors, got shapes \(3,\)", vkgrad.mm, v, a)
    _raises(RuntimeError, r"mm: shapes \(2, 3\) and \(2, 3\) cannot be multiplied", vkgrad.mm, a, a)
    _raises(RuntimeError, "bmm: expected 3-D", vkgrad.bmm, a, a)
    _raises(RuntimeError, "bmm: shapes", vkgrad.bmm, vkgrad.ones(2, 2, 3), vkgrad.ones(3, 3, 2))
    _raises(RuntimeError, r"mv: shapes \(2, 3\) and \(2,\)", vkgrad.mv, a, vkgrad.ones(2))
    _raises(RuntimeError, "dot: inconsistent tensor size", vkgrad.dot, v, vkgrad.ones(4))
    _raises(RuntimeError, "same dtype", vkgrad.dot, v, vkgrad.ones(3, dtype="f16"))
    _raises(RuntimeError, "outer: expected 1-D", vkgrad.outer, a, v)
    _raises(RuntimeError, "cross: inputs must have size 3", vkgrad.cross, a, a, dim=0)
    _raises(RuntimeError, "no dimension of size 3", vkgrad.cross, vkgrad.ones(2), vkgrad.ones(2))


def test_einsum_errors():
    a = vkgrad.ones(2, 3)
    _raises(ValueError, r"invalid subscript '1' at index 1", vkgrad.einsum, "i1->i", a)
    _raises(ValueError, "2 operand terms for 1 operands", vkgrad.einsum, "ij,jk->ik", a)
    _raises(ValueError, "operand 0 has 2 dims but 3 subscripts", vkgrad.einsum, "ijk->i", a)
    _raises(ValueError, "output subscript 'k' does not appear", vkgrad.einsum, "ij->k", a)
    _raises(ValueError, "output subscript 'i' appears more than once", vkgrad.einsum, "ij->ii", a)
    _raises(ValueError, r"subscript 'j' has sizes 3 and 2", vkgrad.einsum, "ij,jk->ik", a, a)
    _raises(ValueError, "subscript .i. has sizes 2 and 3", vkgrad.einsum, "ii->i", a)
    _raises(ValueError, "repeated for dims of sizes 1 and 3", vkgrad.einsum, "ii->i", a[:1])
    _raises(ValueError, "more than one '->'", vkgrad.einsum, "ij->j->i", a)
    _raises(ValueError, "at least one operand", vkgrad.einsum, "i")


def test_linalg_errors():
    _raises(
        RuntimeError,
        "A must be batches of square matrices, but they are 2 by 3",
        LA.inv,
        vkgrad.ones(2, 3),
    )
    _raises(RuntimeError, "at least 2 dimensions", LA.det, vkgrad.ones(3))
    _raises(TypeError, "floating point", LA.inv, vkgrad.tensor([[1, 0], [0, 1]]))
    _raises(RuntimeError, "incompatible shapes", LA.solve, vkgrad.eye(3), vkgrad.ones(2, 1))
    _raises(
        RuntimeError,
        "do not broadcast|cannot be broadcast",
        LA.solve,
        vkgrad.ones(2, 3, 3),
        vkgrad.ones(4, 3, 1),
    )
    _raises(NotImplementedError, "atol/rtol", LA.pinv, vkgrad.ones(3, 2), rtol=1e-3)


@pytest.mark.parametrize("dev", [vulkan_param("vulkan", id="vulkan")])
def test_vulkan_grid_stride_over_batch(dev):
    # Fewer workgroups than matrices: each workgroup loops over several, in f16 too (odd n * n:
    # matrices start mid-word, so the packed half stores of neighbours share words).
    rng = np.random.default_rng(5)
    a = wellcond(positive=True)(rng, (10, 5, 5))
    s = spd(rng, (10, 5, 5))
    for dt, rel in (("f32", 1e-5), ("f16", 5e-3)):
        A = vkgrad.tensor(a, dtype=dt, device=dev)
        S = vkgrad.tensor(s, dtype=dt, device=dev)
        a64, s64 = A.numpy().astype(np.float64), S.numpy().astype(np.float64)
        be = A.device.backend
        old = be.max_groups
        try:
            be.max_groups = 3
            inv, lo, ld = LA.inv(A).numpy(), LA.cholesky(S).numpy(), vkgrad.logdet(A).numpy()
        finally:
            be.max_groups = old
        _close_per_matrix(inv, np.linalg.inv(a64), rel)
        _close_per_matrix(lo, np.linalg.cholesky(s64), rel)
        np.testing.assert_allclose(ld, np.linalg.slogdet(a64)[1], rtol=rel, atol=rel)


@pytest.mark.parametrize("dev", [vulkan_param("vulkan", id="vulkan")])
def test_lavapipe_loop_limit_is_an_error(dev):
    a = _t(3 * np.eye(400), dev)
    from vkgrad.backends.vulkan import enumerate_devices

    if enumerate_devices()[a.device.backend.index]["device_type"] != "cpu":
        pytest.skip("only CPU Vulkan devices (lavapipe) limit loop iterations")
    with pytest.raises(
        RuntimeError, match=r"linalg_slogdet: 1 matrices of size 400x400 .*lavapipe"
    ):
        LA.det(a)
    # Just under the limit still runs, and correctly.
    rng = np.random.default_rng(6)
    m = wellcond()(rng, (350, 350)).astype(np.float32)
    got = LA.slogdet(_t(m, dev)).logabsdet.item()
    np.testing.assert_allclose(got, np.linalg.slogdet(m.astype(np.float64))[1], rtol=1e-5)
