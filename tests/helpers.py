"""One helper run over every op spec x backend x dtype.

For a spec (``tests/op_specs.py``), a device and a dtype:

* forward: the op's output vs the spec's float64 NumPy reference, computed on the inputs
  rounded to the tested dtype (so that f16 is judged on its own inputs, not on values it
  cannot hold);
* backward: on cpu/f64, the vector-Jacobian product ``sum(gout * f(x))`` vs central finite
  differences of vkgrad's cpu/f64 forward; elsewhere, vs the cpu/f64 backward on the same
  rounded values;
* double backward: with ``create_graph=True``, the gradient of ``sum(v * grad(x))`` vs central
  finite differences of the first gradient (cpu/f64); elsewhere, vs cpu/f64.
"""

from __future__ import annotations

import zlib

import numpy as np

import vkgrad
from vkgrad import autograd, dtypes

# (backend, dtype) pairs: float64 is CPU-only.
BACKEND_DTYPES = [
    ("cpu", "f64"),
    ("cpu", "f32"),
    ("cpu", "f16"),
    ("vulkan", "f32"),
    ("vulkan", "f16"),
]

# (rtol, atol); atol is scaled by max(1, max |expected|) so that it means "relative to the
# size of the values", not absolute units.
# f16 has an 11-bit significand (unit roundoff 4.9e-4): every op rounds its output to f16 and
# composite ops (mean, softmax over a non-last dim, losses) round several times, so ~1e-2
# relative is the honest bound; backward chains a few more roundings, double backward more.
DEFAULT_TOL = {
    "fwd": {"f64": (1e-10, 1e-12), "f32": (2e-5, 2e-6), "f16": (1e-2, 5e-3)},
    "bwd": {"f32": (1e-4, 1e-5), "f16": (2e-2, 1e-2)},
    "bwd2": {"f32": (1e-4, 1e-5), "f16": (5e-2, 2e-2)},
    # central differences in f64 with eps 1e-6: truncation ~1e-12, cancellation ~1e-10.
    "fd": {"f64": (1e-5, 1e-6)},
    "fd2": {"f64": (1e-5, 1e-6)},
}
FD_EPS = 1e-6


def tol(spec, kind: str, dt: str) -> tuple:
    return spec.tol.get((kind, dt), DEFAULT_TOL[kind][dt])


def rng_for(spec) -> np.random.Generator:
    """The same values for every backend and dtype of one spec."""
    return np.random.default_rng(zlib.crc32(spec.name.encode()))


def rounded(a: np.ndarray, dt: str) -> np.ndarray:
    return np.asarray(a).astype(dtypes.get(dt).np).astype(np.float64)


def assert_close(actual, expected, rtol: float, atol: float, what: str) -> None:
    actual = np.asarray(actual, np.float64)
    expected = np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, (
        f"{what}: shape {actual.shape}, expected {expected.shape}"
    )
    if expected.size == 0:
        return
    scale = max(1.0, float(np.max(np.abs(expected))))
    err = np.abs(actual - expected)
    bound = atol * scale + rtol * np.abs(expected)
    bad = ~(err <= bound)  # also catches NaN
    if bad.any():
        i = np.unravel_index(int(np.argmax(np.where(bad, err, -1.0))), expected.shape)
        raise AssertionError(
            f"{what}: {int(bad.sum())}/{expected.size} elements off; worst at {i}: got "
            f"{actual[i]!r}, expected {expected[i]!r} (abs err {err[i]:.3g}, rtol={rtol}, "
            f"atol={atol}*{scale:.3g})\ngot:\n{actual}\nexpected:\n{expected}"
        )


# ---------------------------------------------------------------- drawing a case


class Case:
    """The values of one spec, rounded to one dtype: inputs, aux inputs, cotangents."""

    def __init__(self, spec, dt: str) -> None:
        rng = rng_for(spec)
        self.spec = spec
        self.dt = dt
        self.arrays = [rounded(a, dt) for a in spec.draw(rng)]
        self.aux = spec.aux(rng) if spec.aux else {}
        out_shape = np.shape(spec.ref(*self.arrays, **self.aux))
        self.out_shape = out_shape
        self.gout = rounded(rng.uniform(-1, 1, out_shape), dt)
        self.vs = [rounded(rng.uniform(-1, 1, a.shape), dt) for a in self.arrays]


def _aux_tensors(aux: dict, device: str) -> dict:
    return {k: vkgrad.tensor(v, device=device) for k, v in aux.items()}


def _leaves(arrays, device, dt, requires_grad=True):
    return [vkgrad.tensor(a, dtype=dt, device=device, requires_grad=requires_grad) for a in arrays]


def forward(spec, arrays, aux, device: str, dt: str):
    with vkgrad.no_grad():
        out = spec.fn(*_leaves(arrays, device, dt, False), **_aux_tensors(aux, device))
    return out


def vjp(spec, arrays, aux, gout, device: str, dt: str) -> list:
    """Gradients of sum(gout * f(x)) for each input, as float64 arrays (zeros where unused)."""
    xs = _leaves(arrays, device, dt)
    out = spec.fn(*xs, **_aux_tensors(aux, device))
    g = vkgrad.tensor(gout, dtype=dt, device=device)
    grads = autograd.grad(out, xs, g, allow_unused=True)
    return [_check_grad(spec, gi, x, device, dt) for gi, x in zip(grads, xs)]


def _check_grad(spec, g, x, device, dt) -> np.ndarray:
    if g is None:
        return np.zeros(x.shape)
    where = f"{spec.name} on {device}/{dt}"
    assert tuple(g.shape) == tuple(x.shape), f"{where}: grad shape {g.shape}, input {x.shape}"
    assert g.dtype is dtypes.get(dt), f"{where}: grad dtype {g.dtype}, expected {dt}"
    assert g.device == x.device, f"{where}: grad on {g.device}, input on {x.device}"
    return g.numpy().astype(np.float64)


def vjp2(spec, arrays, aux, gout, vs, device: str, dt: str) -> list:
    """Gradients of sum_i(v_i * grad_i(x)), through a create_graph=True first backward."""
    xs = _leaves(arrays, device, dt)
    out = spec.fn(*xs, **_aux_tensors(aux, device))
    g = vkgrad.tensor(gout, dtype=dt, device=device)
    first = autograd.grad(out, xs, g, create_graph=True, allow_unused=True)
    s = None
    for gi, v in zip(first, vs):
        # A first gradient that does not depend on x (linear ops, masks) has no graph: its
        # derivative is zero, and finite differences must agree.
        if gi is None or not gi.requires_grad:
            continue
        term = (gi * vkgrad.tensor(v, dtype=dt, device=device)).sum()
        s = term if s is None else s + term
    if s is None:
        return [np.zeros(a.shape) for a in arrays]
    second = autograd.grad(s, xs, allow_unused=True)
    return [_check_grad(spec, h, x, device, dt) for h, x in zip(second, xs)]


def finite_differences(scalar_fn, arrays, eps: float = FD_EPS) -> list:
    """Central differences of ``scalar_fn(list of arrays) -> float`` w.r.t. every element."""
    grads = []
    for j, a in enumerate(arrays):
        g = np.zeros(a.shape)
        for k in np.ndindex(a.shape):
            vals = []
            for sign in (1.0, -1.0):
                pert = [x.copy() for x in arrays]
                pert[j][k] += sign * eps
                vals.append(scalar_fn(pert))
            g[k] = (vals[0] - vals[1]) / (2 * eps)
        grads.append(g)
    return grads


# ---------------------------------------------------------------- the three checks


def check_forward(spec, device: str, dt: str) -> None:
    case = Case(spec, dt)
    out = forward(spec, case.arrays, case.aux, device, dt)
    where = f"forward {spec.name} on {device}/{dt}"
    assert out.dtype is dtypes.get(dt), f"{where}: dtype {out.dtype}"
    assert out.device == vkgrad.Device.parse(device), f"{where}: device {out.device}"
    expected = spec.ref(*case.arrays, **case.aux)
    assert tuple(out.shape) == np.shape(expected), f"{where}: shape {out.shape}"
    assert_close(out.numpy(), expected, *tol(spec, "fwd", dt), where)


def check_backward(spec, device: str, dt: str) -> None:
    case = Case(spec, dt)
    if not spec.grad:
        xs = _leaves(case.arrays, device, dt)
        out = spec.fn(*xs, **_aux_tensors(case.aux, device))
        assert not out.requires_grad, f"{spec.name}: output of a no-grad op requires grad"
        assert out.grad_fn is None, f"{spec.name}: no-grad op recorded {out.grad_fn}"
        return
    got = vjp(spec, case.arrays, case.aux, case.gout, device, dt)
    if dt == "f64":
        assert device == "cpu"

        def s(arrs):
            out = forward(spec, arrs, case.aux, "cpu", "f64").numpy()
            return float(np.sum(case.gout * out))

        expected = finite_differences(s, case.arrays)
        kind, ref = "fd", "finite differences"
    else:
        expected = vjp(spec, case.arrays, case.aux, case.gout, "cpu", "f64")
        kind, ref = "bwd", "cpu/f64 backward"
    for i, (g, e) in enumerate(zip(got, expected)):
        where = f"backward {spec.name} on {device}/{dt}, input {i}, vs {ref}"
        assert_close(g, e, *tol(spec, kind, dt), where)


def check_double_backward(spec, device: str, dt: str) -> None:
    case = Case(spec, dt)
    got = vjp2(spec, case.arrays, case.aux, case.gout, case.vs, device, dt)
    if dt == "f64":

        def s(arrs):
            g = vjp(spec, arrs, case.aux, case.gout, "cpu", "f64")
            return float(sum(np.sum(v * gi) for v, gi in zip(case.vs, g)))

        expected = finite_differences(s, case.arrays)
        kind, ref = "fd2", "finite differences of the first gradient"
    else:
        expected = vjp2(spec, case.arrays, case.aux, case.gout, case.vs, "cpu", "f64")
        kind, ref = "bwd2", "cpu/f64 double backward"
    for i, (g, e) in enumerate(zip(got, expected)):
        where = f"double backward {spec.name} on {device}/{dt}, input {i}, vs {ref}"
        assert_close(g, e, *tol(spec, kind, dt), where)
