"""The linalg family beyond the op specs: large batches (many workgroups, cpu vs Vulkan vs a
float64 NumPy reference), singular inputs, and error messages."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import vulkan_param
from specs_linalg import spd, wellcond, with_svals

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


@pytest.mark.parametrize("dt", ["f32", "f16"])
@pytest.mark.parametrize("dev", LARGE)
def test_matrices_past_the_small_workgroup(dev, dt):
    # n = 40 > 32: the small-matrix and SVD kernels switch from 64 to 256 threads.
    rng = np.random.default_rng(6)
    n, npd = 40, {"f32": np.float32, "f16": np.float16}[dt]

    def t(a, grad=False):  # the values the kernels see, and their float64 copy
        a = np.asarray(a).astype(npd)
        return vkgrad.tensor(a, dtype=dt, device=dev, requires_grad=grad), a.astype(np.float64)

    # f16 stores every input and result with a relative rounding of 2^-11 (the kernels work
    # in f32): the error bound grows by that much times the condition number (< 6).
    rel = {"f32": 2e-5, "f16": 2e-2}[dt]
    A, a = t(wellcond()(rng, (n, n)))
    assert A.dtype is {"f32": vkgrad.float32, "f16": vkgrad.float16}[dt]
    B, b = t(rng.uniform(-1, 1, (n, 3)))
    _close_per_matrix(LA.solve(A, B).numpy()[None], np.linalg.solve(a, b)[None], rel)
    S, s = t(spd(rng, (n, n)))
    L = LA.cholesky(S)
    _close_per_matrix(L.numpy()[None], np.linalg.cholesky(s)[None], rel)
    lo = np.linalg.cholesky(s).astype(npd).astype(np.float64)
    x = LA.solve_triangular(L, B, upper=False).numpy()
    _close_per_matrix(x[None], np.linalg.solve(lo, b)[None], 2 * rel)
    sign, logabs = LA.slogdet(A)
    ref_sign, ref_log = np.linalg.slogdet(a)
    assert sign.item() == ref_sign
    assert logabs.item() == pytest.approx(ref_log, rel=rel, abs=rel)
    P, p = t(with_svals(np.linspace(0.5, 2.0, 36))(rng, (n, 36)))
    _close_per_matrix(LA.pinv(P).numpy()[None], np.linalg.pinv(p)[None], rel)
    sv = LA.svdvals(P).numpy().astype(np.float64)
    np.testing.assert_allclose(sv, np.linalg.svd(p, compute_uv=False), rtol=rel, atol=rel)
    # det, scaled to |det| ~ 1 (a 40x40 det can leave f16's range); its gradient is the
    # cofactor matrix, computed from an SVD.
    g0 = wellcond()(rng, (n, n))
    G, g = t(g0 / abs(np.linalg.det(g0)) ** (1 / n), grad=True)
    d = LA.det(G)
    assert d.item() == pytest.approx(np.linalg.det(g), rel=rel)
    d.backward()
    cof = np.linalg.det(g) * np.linalg.inv(g).T
    # Through a one-sided Jacobi SVD in f32: measured 8.6e-5 relative on lavapipe at n = 40.
    _close_per_matrix(G.grad.numpy()[None], cof[None], max(rel, 2e-4))


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
    _raises(
        TypeError,
        "linalg.pinv: atol must be a Python float",
        LA.pinv,
        vkgrad.ones(3, 2),
        atol=vkgrad.ones(1),
    )


def test_svd_errors():
    ints = vkgrad.tensor([[1, 0], [0, 1]])
    for fn in (LA.svd, LA.svdvals, LA.pinv):
        _raises(TypeError, "expected a floating point tensor", fn, ints)
        _raises(RuntimeError, "at least 2 dimensions", fn, vkgrad.ones(3))
    _raises(TypeError, r"linalg\.svd: expected a floating point tensor, got .*int32", LA.svd, ints)


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
    with pytest.raises(RuntimeError, match=r"linalg_det: 1 matrices of size 400x400 .*lavapipe"):
        LA.det(a)
    # Just under the limit still runs, and correctly.
    rng = np.random.default_rng(6)
    m = wellcond()(rng, (350, 350)).astype(np.float32)
    got = LA.slogdet(_t(m, dev)).logabsdet.item()
    np.testing.assert_allclose(got, np.linalg.slogdet(m.astype(np.float64))[1], rtol=1e-5)


@pytest.mark.parametrize("dev", [vulkan_param("vulkan", id="vulkan")])
def test_lavapipe_loop_limit_svd(dev):
    from vkgrad.backends.vulkan import enumerate_devices

    a = _t(np.eye(64), dev)
    if enumerate_devices()[a.device.backend.index]["device_type"] != "cpu":
        pytest.skip("only CPU Vulkan devices (lavapipe) limit loop iterations")
    with pytest.raises(RuntimeError, match=r"linalg_svd: 1 matrices of size 64x64 .*lavapipe"):
        LA.svd(a)
    with pytest.raises(RuntimeError, match=r"linalg_pinv: 1 matrices of size 64x64 .*lavapipe"):
        LA.pinv(a)
    with pytest.raises(RuntimeError, match=r"linalg_cofactor: 1 matrices of size 64x64"):
        a.requires_grad_()
        LA.det(a).backward()
    # n = 56 is the largest square size under the limit: it runs, and correctly (rank 20
    # included: its noise-level columns are replaced by an orthonormal completion).
    rng = np.random.default_rng(7)
    for m in (
        rng.standard_normal((56, 56)),
        rng.standard_normal((56, 20)) @ rng.standard_normal((20, 56)),
    ):
        m = m.astype(np.float32)
        u, s, vh = (x.numpy().astype(np.float64) for x in LA.svd(_t(m, dev)))
        _check_svd(m[None], u[None], s[None], vh[None], 2e-5)


# ---------------------------------------------------------------- SVD, pinv, det gradient


def _check_svd(a, u, s, vh, rel):
    """U, Vh orthogonal, S decreasing and equal to float64 singular values, U S Vh = A."""
    a64 = np.asarray(a, np.float64)
    k = s.shape[-1]
    eye_u, eye_v = np.eye(u.shape[-1]), np.eye(vh.shape[-2])
    assert np.abs(np.swapaxes(u, -1, -2) @ u - eye_u).max() < 50 * rel
    assert np.abs(vh @ np.swapaxes(vh, -1, -2) - eye_v).max() < 50 * rel
    assert np.all(np.diff(s, axis=-1) <= 0)
    ref = np.linalg.svd(a64, compute_uv=False)
    scale = ref[..., :1]
    assert np.all(np.abs(s - ref) <= 10 * rel * scale)
    rec = (u[..., :, :k] * s[..., None, :]) @ vh[..., :k, :]
    _close_per_matrix(rec.reshape(len(a64), -1), a64.reshape(len(a64), -1), 10 * rel)


@pytest.mark.parametrize("dev", LARGE)
def test_large_batch_svd(dev):
    # 2000 matrices of 7x5 (70000 elements; 2000 workgroups), tall and wide, reduced and full.
    rng = np.random.default_rng(8)
    a = rng.uniform(-1, 1, (2000, 7, 5)).astype(np.float32)
    A = _t(a, dev)
    for full in (False, True):
        u, s, vh = (x.numpy().astype(np.float64) for x in LA.svd(A, full_matrices=full))
        assert u.shape == (2000, 7, 7 if full else 5) and vh.shape == (2000, 5, 5)
        _check_svd(a, u, s, vh, 1e-6)
        u, s, vh = (x.numpy().astype(np.float64) for x in LA.svd(A.mT, full_matrices=full))
        assert u.shape == (2000, 5, 5) and vh.shape == (2000, 7 if full else 5, 7)
        _check_svd(np.swapaxes(a, 1, 2), u, s, vh, 1e-6)
    a64 = a.astype(np.float64)
    _close_per_matrix(LA.pinv(A).numpy(), np.linalg.pinv(a64), 1e-5)
    # svdvals backward: U diag(g) Vh, checked against LAPACK's (sign-invariant) product. On
    # 300 matrices: the rule's batched matmuls of 5x5 blocks take about a second per call on
    # lavapipe at 2000.
    a, a64 = a[:300], a64[:300]
    X = _t(a, dev, True)
    g = rng.uniform(-1, 1, (300, 5))
    (LA.svdvals(X) * _t(g, dev)).sum().backward()
    u, _, vh = np.linalg.svd(a64, full_matrices=False)
    # U and V are determined to about eps32 * s_max / gap: some of 2000 random matrices have
    # gaps near 0.1 s_max, hence 1e-4 rather than the 1e-5 of U S Vh (which is gap-free).
    _close_per_matrix(X.grad.numpy(), (u * g[:, None, :]) @ vh, 1e-4)


@pytest.mark.parametrize("dev", LARGE)
def test_svd_rank_deficient_and_zero(dev):
    rng = np.random.default_rng(9)
    low = rng.standard_normal((30, 6, 2)) @ rng.standard_normal((30, 2, 4))  # rank 2
    mats = np.concatenate([low, np.zeros((2, 6, 4))]).astype(np.float32)
    u, s, vh = (x.numpy().astype(np.float64) for x in LA.svd(_t(mats, dev)))
    assert u.shape == (32, 6, 6)
    _check_svd(mats, u, s, vh, 1e-6)
    assert np.all(s[:30, 2:] < 1e-5 * s[:30, :1]) and np.all(s[30:] == 0)
    # Default rtol (max(m, n) * eps32) cuts the rounding-level singular values.
    ref = np.linalg.pinv(mats.astype(np.float64), rcond=1e-6)
    _close_per_matrix(LA.pinv(_t(mats, dev)).numpy(), ref, 1e-5)


@pytest.mark.parametrize("dev", LARGE)
def test_pinv_atol_rtol_cut_nonzero_values(dev):
    # Singular values 2, 1, 0.3, 0.05: rtol 0.1 keeps three, atol 0.5 keeps two, and atol
    # with rtol takes the larger cut-off.
    rng = np.random.default_rng(10)
    a = with_svals([2.0, 1.0, 0.3, 0.05])(rng, (3, 6, 4)).astype(np.float32)
    u, s, vh = np.linalg.svd(a.astype(np.float64), full_matrices=False)

    def ref(keep):
        return np.swapaxes(vh[:, :keep], 1, 2) @ (
            np.swapaxes(u[:, :, :keep], 1, 2) / s[:, :keep, None]
        )

    A = _t(a, dev)
    _close_per_matrix(LA.pinv(A).numpy(), ref(4), 1e-4)
    _close_per_matrix(LA.pinv(A, rtol=0.1).numpy(), ref(3), 1e-5)
    _close_per_matrix(LA.pinv(A, atol=0.5).numpy(), ref(2), 1e-5)
    _close_per_matrix(LA.pinv(A, atol=0.5, rtol=0.1).numpy(), ref(2), 1e-5)
    _close_per_matrix(LA.pinv(A, atol=0.01, rtol=0.1).numpy(), ref(3), 1e-5)
    _close_per_matrix(LA.pinv(A.mT, rtol=0.1).numpy(), np.swapaxes(ref(3), 1, 2), 1e-5)


def _pinv_grad_ref(a, p, g):
    """Golub-Pereyra's gradient in float64: -P^T G P^T + (I - AP) G^T P P^T + P^T P G^T (I -
    PA)."""
    pt, gt = p.T, g.T
    im, in_ = np.eye(a.shape[0]), np.eye(a.shape[1])
    return -pt @ g @ pt + (im - a @ p) @ gt @ p @ pt + pt @ p @ gt @ (in_ - p @ a)


@pytest.mark.parametrize("dev", LARGE)
def test_pinv_gradient_rank_deficient(dev):
    # The full gradient of a rank-2 5x4 input (normal part included, which the factored spec
    # cannot see) against the float64 formula; its normal part U_perp^T gA V_perp is zero.
    rng = np.random.default_rng(11)
    a = with_svals([1.5, 0.9])(rng, (5, 2)) @ with_svals([1.2, 0.8])(rng, (2, 4))
    a = a.astype(np.float32)
    g = rng.uniform(-1, 1, (4, 5))
    A = _t(a, dev, True)
    (LA.pinv(A, rtol=1e-3) * _t(g, dev)).sum().backward()
    a64 = a.astype(np.float64)
    p = np.linalg.pinv(a64, rcond=1e-3)
    ref = _pinv_grad_ref(a64, p, g)
    got = A.grad.numpy()
    np.testing.assert_allclose(got, ref, atol=1e-5 * np.abs(ref).max())
    u, s, vh = np.linalg.svd(a64)
    assert np.abs(u[:, 2:].T @ got @ vh[2:].T).max() < 1e-5 * np.abs(ref).max()


def _cofactor(a):
    n = a.shape[-1]
    return np.array(
        [
            [(-1) ** (i + j) * np.linalg.det(np.delete(np.delete(a, i, 0), j, 1)) for j in range(n)]
            for i in range(n)
        ]
    )


@pytest.mark.parametrize("dev", LARGE)
def test_det_gradient_singular(dev):
    # Rank n - 1: the gradient is the (nonzero) cofactor matrix; rank n - 2: zero; invertible:
    # det(A) A^-T. All in one batch: the rule needs no branch per matrix.
    rng = np.random.default_rng(12)
    mats = np.stack(
        [
            with_svals([1.6, 1.1, 0.7, 0.0])(rng, (4, 4)),
            with_svals([1.6, 1.1, 0.0, 0.0])(rng, (4, 4)),
            wellcond()(rng, (4, 4)),
            np.array([[1.0, 2, 3, 4], [2, 4, 6, 8], [0, 1, 0, 1], [1, 0, 1, 0]]),
        ]
    ).astype(np.float32)
    A = _t(mats, dev, True)
    d = LA.det(A)
    d.sum().backward()
    m64 = mats.astype(np.float64)
    np.testing.assert_allclose(d.numpy(), np.linalg.det(m64), atol=1e-5)
    got = A.grad.numpy()
    for i in range(4):
        ref = _cofactor(m64[i])
        np.testing.assert_allclose(got[i], ref, atol=2e-5 * max(1.0, np.abs(ref).max()))
    assert np.abs(got[0]).max() > 0.1 and np.abs(got[3]).max() > 1.0
    assert np.abs(got[1]).max() < 1e-5
    inv_t = np.linalg.det(m64[2]) * np.linalg.inv(m64[2]).T
    np.testing.assert_allclose(got[2], inv_t, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dev", [vulkan_param("vulkan", id="vulkan")])
def test_vulkan_svd_grid_stride_f16(dev):
    # Fewer workgroups than matrices, f16 storage (odd sizes: outputs start mid-word).
    rng = np.random.default_rng(13)
    a = with_svals([2.0, 1.3, 0.6])(rng, (9, 5, 3))
    A = vkgrad.tensor(a, dtype="f16", device=dev)
    be = A.device.backend
    old = be.max_groups
    try:
        be.max_groups = 2
        u, s, vh = (x.numpy().astype(np.float64) for x in LA.svd(A))
        p = LA.pinv(A).numpy().astype(np.float64)
    finally:
        be.max_groups = old
    # f16 storage: the inputs and outputs are rounded to 11 bits (u = 4.9e-4).
    _check_svd(A.numpy(), u, s, vh, 5e-4)
    _close_per_matrix(p, np.linalg.pinv(A.numpy().astype(np.float64)), 5e-3)
