"""Op specs of the random family (``vkgrad/library/random.py``); see op_specs.py.

Each spec draws from a generator seeded inside the call, so every backend and dtype sees the
same draw; the references compute the documented draws (tests/philox_ref.py). The spec's
input only carries the dtype and device (and, for bernoulli and multinomial, the
probabilities). A float64 tensor draws 53-bit uniforms from two words per element
(tests/test_random.py checks those): the specs draw f64 cases in f32 and widen them, so that
one reference serves every dtype.
"""

from __future__ import annotations

import numpy as np
import philox_ref
from op_specs import U, spec

import vkgrad
import vkgrad.nn.functional as NF

WANTED: list[str] = [
    "rand_f16_bits",
    "bernoulli_scalar",
    "multinomial_without_replacement",
    "dropout_generator",
]


def _gen(x, seed):
    return vkgrad.Generator(x.device).manual_seed(seed)


def _draw_dtype(x):
    return vkgrad.float32 if x.dtype is vkgrad.float64 else x.dtype


# ---------------------------------------------------------------- floats

spec(
    "rand",
    lambda x: vkgrad.rand(x.shape, generator=_gen(x, 5), dtype=_draw_dtype(x), device=x.device).to(
        x.dtype
    ),
    lambda x: philox_ref.uniform(5, x.size).reshape(x.shape),
    [(257,)],
    grad=False,
)
# f16 keeps 11 bits (the top ones of the same words), exact in f16: within f16 rounding of
# the 24-bit reference, and equal to the 11-bit one.
spec(
    "rand_f16_bits",
    lambda x: vkgrad.rand(7, 3, generator=_gen(x, 6), dtype="f16", device=x.device).to(x.dtype),
    lambda x: philox_ref.uniform(6, 21, bits=11).reshape(7, 3),
    [(7, 3)],
    grad=False,
    tol={("fwd", k): (0.0, 0.0) for k in ("f64", "f32", "f16")},
)
spec(
    "rand_like",
    lambda x: vkgrad.rand_like(x, generator=_gen(x, 9), dtype=_draw_dtype(x)).to(x.dtype),
    lambda x: philox_ref.uniform(9, x.size).reshape(x.shape),
    [(2, 3, 5)],
    grad=False,
)
# Box-Muller's log, sqrt, cos and sin are the device's: f32 within the bound docs/random.md
# states (a few f32 ulps of the values, up to ~5.8).
_NORMAL_TOL = {("fwd", "f32"): (1e-5, 1e-5), ("fwd", "f64"): (1e-5, 1e-5)}
spec(
    "randn",
    lambda x: vkgrad.randn(
        *x.shape, generator=_gen(x, 7), dtype=_draw_dtype(x), device=x.device
    ).to(x.dtype),
    lambda x: philox_ref.normal(7, x.size).reshape(x.shape),
    [(33, 7)],
    grad=False,
    tol=_NORMAL_TOL,
)
spec(
    "randn_like",
    lambda x: vkgrad.randn_like(x, generator=_gen(x, 8), dtype=_draw_dtype(x)).to(x.dtype),
    lambda x: philox_ref.normal(8, x.size).reshape(x.shape),
    [(1,)],
    grad=False,
    tol=_NORMAL_TOL,
)

# ---------------------------------------------------------------- integers

spec(
    "randint",
    lambda x: vkgrad.randint(-3, 40, x.shape, generator=_gen(x, 11), device=x.device).to(x.dtype),
    lambda x: philox_ref.randint(11, x.size, -3, 40).reshape(x.shape).astype(np.float64),
    [(33,)],
    grad=False,
    tol={("fwd", k): (0.0, 0.0) for k in ("f64", "f32", "f16")},
)


def _perm_ref(seed, n):
    w = philox_ref.words(seed, 2 * n)
    keys = (w[0::2] << np.uint64(32)) | w[1::2]
    return np.argsort(keys, kind="stable").astype(np.float64)


spec(
    "randperm",
    lambda x: vkgrad.randperm(x.shape[0], generator=_gen(x, 12), device=x.device).to(x.dtype),
    lambda x: _perm_ref(12, x.shape[0]),
    [(257,)],
    grad=False,
    tol={("fwd", k): (0.0, 0.0) for k in ("f64", "f32", "f16")},
)

# ---------------------------------------------------------------- bernoulli, multinomial

spec(
    "bernoulli",
    lambda p: vkgrad.bernoulli(p, generator=_gen(p, 13)),
    lambda p: (philox_ref.uniform(13, p.size).reshape(p.shape) < p).astype(np.float64),
    [(7, 33)],
    gens=(U(0.0, 1.0),),
    grad=False,
    tol={("fwd", k): (0.0, 0.0) for k in ("f64", "f32", "f16")},
)
spec(
    "bernoulli_scalar",
    lambda x: vkgrad.bernoulli(x, 0.3, generator=_gen(x, 14)),
    lambda x: (philox_ref.uniform(14, x.size).reshape(x.shape) < np.float32(0.3)).astype(
        np.float64
    ),
    [(257,)],
    grad=False,
    tol={("fwd", k): (0.0, 0.0) for k in ("f64", "f32", "f16")},
)


def _uniform53(seed, n):
    w = philox_ref.words(seed, 2 * n)
    return ((w[0::2] >> np.uint64(5)) * 2.0**26 + (w[1::2] >> np.uint64(6))) / 2.0**53


def _multinomial_ref(w, k, replacement, seed):
    rows = w.reshape(-1, w.shape[-1])
    out = []
    if replacement:
        u = _uniform53(seed, rows.shape[0] * k).reshape(-1, k)
        for r, ur in zip(rows, u):
            cdf = np.cumsum(r)
            out.append([int(np.argmax(cdf > x * cdf[-1])) for x in ur])
    else:
        # the exponential race: the k smallest -log(1 - u) / w
        u = _uniform53(seed, rows.size).reshape(rows.shape)
        for r, ur in zip(rows, u):
            out.append(np.argsort(-np.log1p(-ur) / r, kind="stable")[:k])
    return np.array(out, np.float64).reshape(w.shape[:-1] + (k,))


spec(
    "multinomial",
    lambda w: vkgrad.multinomial(w, 5, replacement=True, generator=_gen(w, 15)).to(w.dtype),
    lambda w: _multinomial_ref(w, 5, True, 15),
    [(3, 7)],
    gens=(U(0.1, 2.0),),
    grad=False,
    tol={("fwd", k): (0.0, 0.0) for k in ("f64", "f32", "f16")},
)
spec(
    "multinomial_without_replacement",
    lambda w: vkgrad.multinomial(w, 4, generator=_gen(w, 16)).to(w.dtype),
    lambda w: _multinomial_ref(w, 4, False, 16),
    [(33,)],
    gens=(U(0.1, 2.0),),
    grad=False,
    tol={("fwd", k): (0.0, 0.0) for k in ("f64", "f32", "f16")},
)

# ---------------------------------------------------------------- dropout with a generator


def _dropout_gen(x):
    return NF.dropout(x, 0.25, generator=_gen(x, 17))


spec(
    "dropout_generator",
    _dropout_gen,
    lambda x: np.where(philox_ref.dropout_keep(17, x.size, 0.25).reshape(x.shape), x / 0.75, 0.0),
    [(3, 257)],
)
