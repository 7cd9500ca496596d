"""Op specs of the norm family (``vkgrad/library/norm.py``); see op_specs.py."""

from __future__ import annotations

import numpy as np
import philox_ref
from op_specs import U, spec

import vkgrad
import vkgrad.nn.functional as NF

# Names beyond the family's public functions (test_ops requires a spec for each of those).
WANTED: list[str] = []


# ---------------------------------------------------------------- float64 references


def ln_ref(x, ndim, w=None, b=None, eps=1e-5):
    axes = tuple(range(x.ndim - ndim, x.ndim))
    mu = x.mean(axes, keepdims=True)
    y = (x - mu) / np.sqrt(((x - mu) ** 2).mean(axes, keepdims=True) + eps)
    return y * (1.0 if w is None else w) + (0.0 if b is None else b)


def rms_ref(x, ndim, w=None, eps=1e-6):
    axes = tuple(range(x.ndim - ndim, x.ndim))
    y = x / np.sqrt((x * x).mean(axes, keepdims=True) + eps)
    return y * (1.0 if w is None else w)


def _bc(t, ndim):
    return t.reshape((1, -1) + (1,) * (ndim - 2))


def gn_ref(x, g, w=None, b=None, eps=1e-5):
    n, c = x.shape[:2]
    y = ln_ref(x.reshape(n, g, -1), 1, eps=eps).reshape(x.shape)
    if w is not None:
        y = y * _bc(w, x.ndim)
    return y if b is None else y + _bc(b, x.ndim)


def bn_train_ref(x, w, b, eps=1e-5):
    axes = (0,) + tuple(range(2, x.ndim))
    mu = x.mean(axes, keepdims=True)
    var = ((x - mu) ** 2).mean(axes, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * _bc(w, x.ndim) + _bc(b, x.ndim)


# The dropout mask, from the documented algorithm (tests/philox_ref.py): after
# manual_seed(seed), the first draw is at offset 0 of key seed; mask entry j // group is kept
# iff Philox word j >> 8 >= round(p 2^24).
dropout_keep = philox_ref.dropout_keep


def dropout_ref(x, p, seed, group=1):
    keep = dropout_keep(seed, x.size, p, group).reshape(x.shape)
    return np.where(keep, x / (1 - p), 0.0) if p < 1 else np.zeros_like(x)


def sdpa_ref(q, k, v, mask=None, causal=False, scale=None, p=0.0, seed=0):
    z = q @ np.swapaxes(k, -1, -2) * (1 / np.sqrt(q.shape[-1]) if scale is None else scale)
    lq, s = z.shape[-2:]
    if causal:
        mask = np.tril(np.ones((lq, s), bool))
    if mask is not None:
        z = np.where(mask, z, -np.inf) if mask.dtype == bool else z + mask
    z = z - z.max(-1, keepdims=True)
    a = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
    if p:
        a = dropout_ref(a, p, seed)
    return a @ v


# ---------------------------------------------------------------- layer / rms norm

spec(
    "layer_norm",
    lambda x, w, b: NF.layer_norm(x, (33,), w, b),
    lambda x, w, b: ln_ref(x, 1, w, b),
    [(7, 33), (33,), (33,)],
)
spec(
    "layer_norm_2dims_no_affine",
    lambda x: NF.layer_norm(x, (3, 7)),
    lambda x: ln_ref(x, 2),
    [(2, 3, 7)],
)
spec(
    "layer_norm_weight_only_eps",
    lambda x, w: NF.layer_norm(x, 5, w, eps=1e-3),
    lambda x, w: ln_ref(x, 1, w, eps=1e-3),
    [(1, 5), (5,)],
)
spec("layer_norm_one_row_257", lambda x: NF.layer_norm(x, 257), lambda x: ln_ref(x, 1), [(257,)])
spec(
    "rms_norm",
    lambda x, w: NF.rms_norm(x, (33,), w, eps=1e-6),
    lambda x, w: rms_ref(x, 1, w, 1e-6),
    [(7, 33), (33,)],
)
spec(
    "rms_norm_default_eps",
    lambda x: NF.rms_norm(x, (2, 3)),
    # eps = finfo(dtype).eps, negligible against mean squares ~1 at these tolerances
    lambda x: rms_ref(x, 2, eps=0.0),
    [(4, 2, 3)],
    gens=(U(0.5, 2.0),),
)

# ---------------------------------------------------------------- group / batch norm

spec(
    "group_norm",
    lambda x, w, b: NF.group_norm(x, 3, w, b),
    lambda x, w, b: gn_ref(x, 3, w, b),
    [(2, 6, 5), (6,), (6,)],
)
spec(
    "group_norm_4d_no_affine",
    lambda x: NF.group_norm(x, 2, eps=1e-4),
    lambda x: gn_ref(x, 2, eps=1e-4),
    [(3, 4, 3, 3)],
)


def in_ref(x, w=None, b=None, eps=1e-5):
    """Instance norm: each (sample, channel) over its spatial positions, biased variance."""
    axes = tuple(range(2, x.ndim))
    y = (x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + eps)
    bc = (1, -1) + (1,) * (x.ndim - 2)
    if w is not None:
        y = y * w.reshape(bc)
    if b is not None:
        y = y + b.reshape(bc)
    return y


spec(
    "instance_norm",
    lambda x, w, b: NF.instance_norm(x, weight=w, bias=b),
    lambda x, w, b: in_ref(x, w, b),
    [(2, 3, 7), (3,), (3,)],
)
spec(
    "instance_norm_4d_no_affine",
    lambda x: NF.instance_norm(x, eps=1e-3),
    lambda x: in_ref(x, eps=1e-3),
    [(3, 2, 4, 5)],
)


def _in_running(x):
    """Normalized by the running statistics (use_input_stats=False): an affine map."""
    c = x.shape[1]
    rm = vkgrad.tensor(np.linspace(-0.5, 0.5, c), dtype=x.dtype, device=x.device)
    rv = vkgrad.tensor(np.linspace(0.5, 2.0, c), dtype=x.dtype, device=x.device)
    return NF.instance_norm(x, rm, rv, use_input_stats=False)


spec(
    "instance_norm_running_stats",
    _in_running,
    lambda x: (
        (x - np.linspace(-0.5, 0.5, 3)[None, :, None])
        / np.sqrt(np.linspace(0.5, 2.0, 3)[None, :, None] + 1e-5)
    ),
    [(2, 3, 4)],
)


def _bn_train(x, w, b):
    c = x.shape[1]
    rm = vkgrad.zeros(c, dtype=x.dtype, device=x.device)
    rv = vkgrad.ones(c, dtype=x.dtype, device=x.device)
    return NF.batch_norm(x, rm, rv, w, b, training=True)


spec("batch_norm_train_2d", _bn_train, bn_train_ref, [(7, 3), (3,), (3,)])
spec("batch_norm_train_3d", _bn_train, bn_train_ref, [(2, 3, 7), (3,), (3,)])
spec("batch_norm_train_4d", _bn_train, bn_train_ref, [(2, 2, 3, 3), (2,), (2,)])
_RM, _RV = np.array([0.5, -1.0, 0.25]), np.array([0.5, 2.0, 1.5])


def _bn_eval(x, w, b):
    rm = vkgrad.tensor(_RM, dtype=x.dtype, device=x.device)
    rv = vkgrad.tensor(_RV, dtype=x.dtype, device=x.device)
    return NF.batch_norm(x, rm, rv, w, b, training=False, eps=1e-3)


spec(
    "batch_norm_eval",
    _bn_eval,
    lambda x, w, b: (x - _bc(_RM, 3)) / np.sqrt(_bc(_RV, 3) + 1e-3) * _bc(w, 3) + _bc(b, 3),
    [(4, 3, 5), (3,), (3,)],
)

# ---------------------------------------------------------------- dropout (fixed seed: the
# same mask in every call, so finite differences see one linear map)


def _seeded(fn, seed):
    def run(*a, **k):
        vkgrad.manual_seed(seed)
        return fn(*a, **k)

    return run


spec(
    "dropout",
    _seeded(lambda x: NF.dropout(x, 0.3), 11),
    lambda x: dropout_ref(x, 0.3, 11),
    [(7, 33)],
)
spec(
    "dropout_p0",
    _seeded(lambda x: NF.dropout(x, 0.0) * 1.0, 3),
    lambda x: x,
    [(33,)],
)
spec(
    "dropout_p1",
    _seeded(lambda x: NF.dropout(x, 1.0), 3),
    lambda x: np.zeros_like(x),
    [(7,)],
)
spec(
    "dropout2d",
    _seeded(lambda x: NF.dropout2d(x, 0.5), 5),
    lambda x: dropout_ref(x, 0.5, 5, group=6),
    [(2, 4, 2, 3)],
)
spec(
    "dropout1d",
    _seeded(lambda x: NF.dropout1d(x, 0.4), 6),
    lambda x: dropout_ref(x, 0.4, 6, group=7),  # whole (n, c) rows of length L = 7
    [(2, 4, 7)],
)

# ---------------------------------------------------------------- attention

_SDPA = NF.scaled_dot_product_attention
_QKV = [(2, 7, 5), (2, 6, 5), (2, 6, 4)]
spec("scaled_dot_product_attention", _SDPA, sdpa_ref, _QKV)
spec(
    "scaled_dot_product_attention_causal_scale",
    lambda q, k, v: _SDPA(q, k, v, is_causal=True, scale=0.7),
    lambda q, k, v: sdpa_ref(q, k, v, causal=True, scale=0.7),
    [(3, 7, 4), (3, 7, 4), (3, 7, 3)],
)
_BMASK = np.random.default_rng(0).random((7, 6)) < 0.7
_BMASK[:, 0] = True  # every query sees a key


def _bool_mask(shape):
    return lambda rng: {"m": np.broadcast_to(_BMASK, shape).copy()}


spec(
    "scaled_dot_product_attention_bool_mask",
    lambda q, k, v, m: _SDPA(q, k, v, attn_mask=m),
    lambda q, k, v, m: sdpa_ref(q, k, v, mask=m),
    _QKV,
    aux=_bool_mask((7, 6)),
)
spec(
    "scaled_dot_product_attention_batched_bool_mask",
    lambda q, k, v, m: _SDPA(q, k, v, attn_mask=m),
    lambda q, k, v, m: sdpa_ref(q, k, v, mask=m),
    [(2, 2, 7, 5), (2, 2, 6, 5), (2, 2, 6, 4)],
    aux=_bool_mask((2, 1, 7, 6)),
)
spec(
    "scaled_dot_product_attention_float_mask",
    lambda q, k, v, m: _SDPA(q, k, v, attn_mask=m),
    lambda q, k, v, m: sdpa_ref(q, k, v, mask=m),
    [(2, 7, 5), (2, 6, 5), (2, 6, 4), (7, 6)],
)
spec(
    "scaled_dot_product_attention_dropout",
    _seeded(lambda q, k, v: _SDPA(q, k, v, dropout_p=0.25), 7),
    lambda q, k, v: sdpa_ref(q, k, v, p=0.25, seed=7),
    [(2, 7, 5), (2, 6, 5), (2, 6, 4)],
)
# The forms below take the fused backward (attention_backward): no mask gradient needed.
spec(
    "scaled_dot_product_attention_one_query",
    _SDPA,
    sdpa_ref,
    [(3, 1, 4), (3, 33, 4), (3, 33, 2)],
)
spec(
    "scaled_dot_product_attention_causal_more_queries",
    lambda q, k, v: _SDPA(q, k, v, is_causal=True),
    lambda q, k, v: sdpa_ref(q, k, v, causal=True),
    [(2, 9, 3), (2, 5, 3), (2, 5, 6)],
)
# A float mask that needs no gradient, batch dims that broadcast (2, 1) x (3,) x (1,).
_FMASK = (np.random.default_rng(1).integers(-4, 5, (3, 7, 9)) * 0.25).astype(np.float32)
spec(
    "scaled_dot_product_attention_const_float_mask_bcast",
    lambda q, k, v, m: _SDPA(q, k, v, attn_mask=m),
    lambda q, k, v, m: sdpa_ref(q, k, v, mask=m.astype(np.float64)),
    [(2, 1, 7, 5), (3, 9, 5), (1, 9, 4)],
    aux=lambda rng: {"m": _FMASK.copy()},
)
spec(
    "scaled_dot_product_attention_dropout_causal",
    _seeded(lambda q, k, v: _SDPA(q, k, v, dropout_p=0.3, is_causal=True), 8),
    lambda q, k, v: sdpa_ref(q, k, v, causal=True, p=0.3, seed=8),
    [(2, 6, 4), (2, 10, 4), (2, 10, 5)],
)
spec(
    "scaled_dot_product_attention_dropout_bool_mask_bcast",
    _seeded(lambda q, k, v, m: _SDPA(q, k, v, attn_mask=m, dropout_p=0.2), 9),
    lambda q, k, v, m: sdpa_ref(q, k, v, mask=m, p=0.2, seed=9),
    [(2, 2, 7, 5), (2, 1, 6, 5), (1, 2, 6, 3)],
    aux=_bool_mask((7, 6)),
)
