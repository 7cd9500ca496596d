"""nn layer modules: shapes, values vs float64 NumPy, gradients, train/eval behaviour,
state_dict names, reprs and default initialisation, on cpu and Vulkan."""

from __future__ import annotations

import math

import numpy as np
import pytest

import vkgrad
from vkgrad import nn

F32 = vkgrad.float32


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _t(a, device, grad=False, dtype=F32):
    return vkgrad.tensor(np.asarray(a), dtype=dtype, device=device, requires_grad=grad)


def _np(t) -> np.ndarray:
    return np.asarray(t.numpy(), dtype=np.float64)


def _set(module: nn.Module, **values) -> dict:
    """Overwrite parameters/buffers by name with the given arrays; return them as float64."""
    state = module.state_dict()
    for name, a in values.items():
        state[name] = _t(a, state[name].device, dtype=state[name].dtype)
    module.load_state_dict(state)
    return {k: np.asarray(v, np.float64) for k, v in values.items()}


def _close(got, ref, what, rtol=1e-4, atol=1e-5):
    got = np.asarray(got, np.float64)
    ref = np.asarray(ref, np.float64)
    assert got.shape == ref.shape, f"{what}: shape {got.shape} != {ref.shape}"
    err = np.abs(got - ref)
    bound = atol + rtol * np.abs(ref)
    assert np.all(err <= bound), f"{what}: max err {err.max():.3g}"


def _backward(y, seed=99) -> np.ndarray:
    """Backpropagate <y, r> for a fixed random r; return r (float64)."""
    r = _rng(seed).standard_normal(y.shape)
    (y * _t(r, y.device)).sum().backward()
    return r


def _all_grads(module: nn.Module) -> dict:
    grads = {}
    for name, p in module.named_parameters():
        assert p.grad is not None, f"{name} got no gradient"
        g = _np(p.grad)
        assert np.all(np.isfinite(g)), f"{name}: non-finite gradient"
        grads[name] = g
    return grads


def _fd_grad(f, a: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar f at a (float64)."""
    a = np.array(a, np.float64)
    g = np.zeros_like(a)
    flat, gf = a.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        fp = f(a)
        flat[i] = old - h
        fm = f(a)
        flat[i] = old
        gf[i] = (fp - fm) / (2 * h)
    return g


# ---------------------------------------------------------------- batch norm


def _bn_ref(x, w, b, eps, mean=None, var=None):
    axes = (0,) + tuple(range(2, x.ndim))
    bc = (1, -1) + (1,) * (x.ndim - 2)
    if mean is None:
        mean, var = x.mean(axes), x.var(axes)
    return (x - mean.reshape(bc)) / np.sqrt(var.reshape(bc) + eps) * w.reshape(bc) + b.reshape(bc)


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (2, 3, 4, 5)])
def test_batchnorm_train_values_grads_running_stats(device, shape):
    c = shape[1]
    cls = nn.BatchNorm2d if len(shape) == 4 else nn.BatchNorm1d
    bn = cls(c, momentum=0.3, device=device, dtype=F32)
    rng = _rng(0)
    p = _set(bn, weight=rng.uniform(0.5, 2, c), bias=rng.standard_normal(c))
    axes = (0,) + tuple(range(2, len(shape)))
    n = math.prod(shape) // c
    rm, rv = np.zeros(c), np.ones(c)
    for step in range(1, 3):
        x = rng.standard_normal(shape) * 2 + 1
        xt = _t(x, device, grad=True)
        y = bn(xt)
        _close(_np(y), _bn_ref(x, p["weight"], p["bias"], 1e-5), f"{cls.__name__} forward")
        rm = 0.7 * rm + 0.3 * x.mean(axes)
        rv = 0.7 * rv + 0.3 * x.var(axes) * n / (n - 1)  # unbiased variance
        _close(_np(bn.running_mean), rm, "running_mean")
        _close(_np(bn.running_var), rv, "running_var")
        assert bn.num_batches_tracked.item() == step
        assert bn.num_batches_tracked.dtype == vkgrad.int32
    bn.zero_grad()
    r = _backward(y)
    g = _all_grads(bn)
    bc = (1, -1) + (1,) * (len(shape) - 2)
    xhat = (x - x.mean(axes).reshape(bc)) / np.sqrt(x.var(axes).reshape(bc) + 1e-5)
    _close(g["weight"], (r * xhat).sum(axes), "grad weight", atol=1e-4)
    _close(g["bias"], r.sum(axes), "grad bias", atol=1e-4)

    def loss(xa):
        return float((_bn_ref(xa, p["weight"], p["bias"], 1e-5) * r).sum())

    _close(_np(xt.grad), _fd_grad(loss, x), "grad input", rtol=1e-3, atol=1e-4)


def test_batchnorm_eval_uses_running_stats_and_leaves_them(device):
    bn = nn.BatchNorm2d(3, device=device, dtype=F32)
    rng = _rng(1)
    p = _set(
        bn,
        weight=rng.uniform(0.5, 2, 3),
        bias=rng.standard_normal(3),
        running_mean=rng.standard_normal(3),
        running_var=rng.uniform(0.5, 2, 3),
    )
    bn.eval()
    x = rng.standard_normal((2, 3, 4, 4))
    y = bn(_t(x, device))
    ref = _bn_ref(x, p["weight"], p["bias"], 1e-5, p["running_mean"], p["running_var"])
    _close(_np(y), ref, "eval forward")
    _close(_np(bn.running_mean), p["running_mean"], "running_mean untouched in eval")
    _close(_np(bn.running_var), p["running_var"], "running_var untouched in eval")
    assert bn.num_batches_tracked.item() == 0


def test_batchnorm_cumulative_average_and_no_tracking(device):
    bn = nn.BatchNorm1d(2, momentum=None, device=device, dtype=F32)
    rng = _rng(2)
    xs = [rng.standard_normal((5, 2)) for _ in range(3)]
    for x in xs:
        bn(_t(x, device))
    _close(_np(bn.running_mean), np.mean([x.mean(0) for x in xs], 0), "cumulative mean")
    _close(_np(bn.running_var), np.mean([x.var(0, ddof=1) for x in xs], 0), "cumulative var")

    free = nn.BatchNorm1d(2, affine=False, track_running_stats=False, device=device)
    assert free.running_mean is None and free.num_batches_tracked is None
    assert list(free.state_dict()) == [] and list(free.parameters()) == []
    free.eval()  # no running statistics: eval normalizes with the batch's
    x = xs[0]
    _close(_np(free(_t(x, device))), (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5), "no stats")


def test_batchnorm_state_dict_repr_and_errors():
    bn = nn.BatchNorm2d(4)
    assert list(bn.state_dict()) == [
        "weight",
        "bias",
        "running_mean",
        "running_var",
        "num_batches_tracked",
    ]
    assert repr(bn) == (
        "BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)"
    )
    assert np.all(_np(bn.weight) == 1) and np.all(_np(bn.bias) == 0)
    assert np.all(_np(bn.running_var) == 1) and np.all(_np(bn.running_mean) == 0)
    with pytest.raises(ValueError, match="BatchNorm2d: expected 4D input"):
        bn(vkgrad.ones(2, 4))
    with pytest.raises(ValueError, match="BatchNorm1d: expected 2D or 3D input"):
        nn.BatchNorm1d(4)(vkgrad.ones(2, 4, 1, 1))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(4)(vkgrad.ones(1, 4))


# ---------------------------------------------------------------- layer / group / rms norm


def _ln_ref(x, k, w=None, b=None, eps=1e-5):
    lead = x.shape[: x.ndim - k]
    rows = x.reshape(lead + (-1,))
    y = (rows - rows.mean(-1, keepdims=True)) / np.sqrt(rows.var(-1, keepdims=True) + eps)
    y = y.reshape(x.shape)
    if w is not None:
        y = y * w
    if b is not None:
        y = y + b
    return y


def test_layernorm(device):
    ln = nn.LayerNorm((3, 4), eps=1e-4, device=device, dtype=F32)
    assert list(ln.state_dict()) == ["weight", "bias"]
    assert repr(ln) == "LayerNorm((3, 4), eps=0.0001, elementwise_affine=True, bias=True)"
    rng = _rng(3)
    p = _set(ln, weight=rng.uniform(0.5, 2, (3, 4)), bias=rng.standard_normal((3, 4)))
    x = rng.standard_normal((2, 5, 3, 4)) * 3
    xt = _t(x, device, grad=True)
    y = ln(xt)
    _close(_np(y), _ln_ref(x, 2, p["weight"], p["bias"], 1e-4), "layer_norm forward")
    r = _backward(y)
    g = _all_grads(ln)
    xhat = _ln_ref(x, 2, eps=1e-4)
    _close(g["weight"], (r * xhat).sum((0, 1)), "grad weight", atol=1e-4)
    _close(g["bias"], r.sum((0, 1)), "grad bias", atol=1e-4)

    def loss(xa):
        return float((_ln_ref(xa, 2, p["weight"], p["bias"], 1e-4) * r).sum())

    _close(_np(xt.grad), _fd_grad(loss, x), "grad input", rtol=1e-3, atol=1e-4)

    plain = nn.LayerNorm(4, elementwise_affine=False)
    assert plain.weight is None and plain.bias is None and list(plain.state_dict()) == []
    assert nn.LayerNorm(4, bias=False).bias is None


def test_groupnorm(device):
    gn = nn.GroupNorm(2, 6, device=device, dtype=F32)
    assert list(gn.state_dict()) == ["weight", "bias"]
    assert repr(gn) == "GroupNorm(2, 6, eps=1e-05, affine=True, bias=True)"
    rng = _rng(4)
    p = _set(gn, weight=rng.uniform(0.5, 2, 6), bias=rng.standard_normal(6))
    x = rng.standard_normal((3, 6, 5))
    xt = _t(x, device, grad=True)
    y = gn(xt)
    xhat = _ln_ref(x.reshape(3, 2, 15), 1).reshape(x.shape)
    ref = xhat * p["weight"][:, None] + p["bias"][:, None]
    _close(_np(y), ref, "group_norm forward")
    r = _backward(y)
    g = _all_grads(gn)
    _close(g["weight"], (r * xhat).sum((0, 2)), "grad weight", atol=1e-4)
    _close(g["bias"], r.sum((0, 2)), "grad bias", atol=1e-4)
    assert xt.grad is not None
    with pytest.raises(ValueError, match="divisible by num_groups"):
        nn.GroupNorm(4, 6)


def _in_ref(x, w=None, b=None, eps=1e-5):
    axes = tuple(range(2, x.ndim))
    bc = (1, -1) + (1,) * (x.ndim - 2)
    y = (x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + eps)
    if w is not None:
        y = y * w.reshape(bc) + b.reshape(bc)
    return y


def test_instancenorm_defaults_and_unbatched(device):
    m = nn.InstanceNorm1d(4, device=device, dtype=F32)
    assert repr(m) == (
        "InstanceNorm1d(4, eps=1e-05, momentum=0.1, affine=False, bias=False, "
        "track_running_stats=False)"
    )
    assert m.weight is None and m.running_mean is None and list(m.state_dict()) == []
    x = _rng(50).standard_normal((3, 4, 9)) * 2 + 1
    xt = _t(x, device, grad=True)
    y = m(xt)
    _close(_np(y), _in_ref(x), "instance_norm1d")
    r = _backward(y)
    fd = _fd_grad(lambda a: float((_in_ref(a) * r).sum()), x)
    _close(_np(xt.grad), fd, "instance_norm1d grad input", rtol=1e-3, atol=1e-4)
    # (C, L) input: one sample.
    _close(_np(m(_t(x[0], device))), _in_ref(x[:1])[0], "instance_norm1d unbatched")
    m.eval()  # no running statistics: eval still normalizes by the input's own
    _close(_np(m(_t(x, device))), _in_ref(x), "instance_norm1d eval")


def test_instancenorm_affine_running_stats(device):
    m = nn.InstanceNorm2d(3, momentum=0.3, affine=True, track_running_stats=True, device=device)
    assert list(m.state_dict()) == [
        "weight",
        "bias",
        "running_mean",
        "running_var",
        "num_batches_tracked",
    ]
    rng = _rng(51)
    p = _set(m, weight=rng.uniform(0.5, 2, 3), bias=rng.standard_normal(3))
    rm, rv = np.zeros(3), np.ones(3)
    for _ in range(2):
        x = rng.standard_normal((2, 3, 4, 5)) * 3 - 1
        xt = _t(x, device, grad=True)
        y = m(xt)
        _close(_np(y), _in_ref(x, p["weight"], p["bias"]), "instance_norm2d train")
        # Running statistics: the per-instance mean and unbiased variance, averaged over N.
        rm = 0.7 * rm + 0.3 * x.mean((2, 3)).mean(0)
        rv = 0.7 * rv + 0.3 * x.var((2, 3), ddof=1).mean(0)
        _close(_np(m.running_mean), rm, "running_mean")
        _close(_np(m.running_var), rv, "running_var")
    assert m.num_batches_tracked.item() == 0  # as PyTorch: instance norm never counts
    m.zero_grad()
    r = _backward(y)
    g = _all_grads(m)
    xhat = _in_ref(x)
    _close(g["weight"], (r * xhat).sum((0, 2, 3)), "grad weight", atol=1e-4)
    _close(g["bias"], r.sum((0, 2, 3)), "grad bias", atol=1e-4)
    fd = _fd_grad(lambda a: float((_in_ref(a, p["weight"], p["bias"]) * r).sum()), x)
    _close(_np(xt.grad), fd, "grad input", rtol=1e-3, atol=1e-4)
    m.eval()
    x = rng.standard_normal((2, 3, 4, 5))
    bc = (1, -1, 1, 1)
    ref = (x - rm.reshape(bc)) / np.sqrt(rv.reshape(bc) + 1e-5) * p["weight"].reshape(bc) + p[
        "bias"
    ].reshape(bc)
    _close(_np(m(_t(x, device))), ref, "instance_norm2d eval (running statistics)")
    _close(_np(m.running_mean), rm, "eval leaves running_mean")
    frozen = nn.InstanceNorm2d(3, momentum=None, track_running_stats=True, device=device)
    frozen(_t(x, device))
    assert np.all(_np(frozen.running_mean) == 0) and np.all(_np(frozen.running_var) == 1)
    with pytest.raises(ValueError, match=r"InstanceNorm2d: expected 3D or 4D input \(got 2D"):
        m(_t(x[0, 0], device))
    with pytest.raises(ValueError, match=r"InstanceNorm2d: expected input's size at dim=1 to "
                       r"match num_features \(3\), got input shape \(2, 4, 4, 5\)"):  # fmt: skip
        m(_t(np.zeros((2, 4, 4, 5)), device))
    with pytest.raises(ValueError, match="instance_norm: expected more than 1 spatial element"):
        nn.InstanceNorm1d(3)(_t(np.zeros((2, 3, 1)), device))


def test_rmsnorm(device):
    rms = nn.RMSNorm(8, eps=1e-6, device=device, dtype=F32)
    assert list(rms.state_dict()) == ["weight"]
    assert repr(rms) == "RMSNorm((8,), eps=1e-06, elementwise_affine=True)"
    rng = _rng(5)
    p = _set(rms, weight=rng.uniform(0.5, 2, 8))
    x = rng.standard_normal((4, 8))
    xt = _t(x, device, grad=True)
    y = rms(xt)
    xhat = x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-6)
    _close(_np(y), xhat * p["weight"], "rms_norm forward")
    r = _backward(y)
    _close(_all_grads(rms)["weight"], (r * xhat).sum(0), "grad weight", atol=1e-4)

    def loss(xa):
        ya = xa / np.sqrt((xa * xa).mean(-1, keepdims=True) + 1e-6) * p["weight"]
        return float((ya * r).sum())

    _close(_np(xt.grad), _fd_grad(loss, x), "grad input", rtol=1e-3, atol=1e-4)
    # eps=None: the machine epsilon of the input dtype (f32).
    default = nn.RMSNorm(8, device=device, dtype=F32)
    xs = _t(np.full((1, 8), 1e-4), device)
    ref = 1e-4 / math.sqrt(1e-8 + 2.0**-23)
    _close(_np(default(xs)), np.full((1, 8), ref), "rms_norm default eps")


# ---------------------------------------------------------------- dropout


@pytest.mark.parametrize(
    "cls, shape, group",
    [(nn.Dropout, (40, 50), 1), (nn.Dropout1d, (8, 30, 20), 20), (nn.Dropout2d, (6, 20, 4, 5), 20)],
)
def test_dropout_train_and_eval(device, cls, shape, group):
    vkgrad.manual_seed(0)
    drop = cls(0.25)
    assert repr(drop) == f"{cls.__name__}(p=0.25, inplace=False)"
    x = _rng(6).uniform(1, 2, shape)
    xt = _t(x, device, grad=True)
    y = _np(drop(xt))
    kept = y != 0
    # Kept elements are scaled by 1 / (1 - p); channel variants keep or drop whole groups.
    _close(y[kept], x[kept] / 0.75, "kept values")
    groups = kept.reshape(-1, group)
    assert np.all(groups.all(1) | ~groups.any(1)), "a channel was partly dropped"
    frac = 1 - groups[:, 0].mean()
    n = groups.shape[0]
    assert abs(frac - 0.25) < 4 * math.sqrt(0.25 * 0.75 / n), f"dropped fraction {frac}"
    drop.eval()
    ye = drop(xt)
    _close(_np(ye), x, "eval: identity", rtol=1e-6)
    r = _backward(ye)
    _close(_np(xt.grad), r, "eval: identity gradient", rtol=1e-6)
    with pytest.raises(ValueError, match="between 0 and 1"):
        cls(1.5)


def test_dropout_gradient_uses_the_same_mask(device):
    vkgrad.manual_seed(3)
    drop = nn.Dropout(0.5)
    x = _rng(7).uniform(1, 2, (9, 33))
    xt = _t(x, device, grad=True)
    y = drop(xt)
    r = _backward(y)
    mask = _np(y) != 0
    _close(_np(xt.grad), np.where(mask, r * 2.0, 0.0), "dropout grad")


# ---------------------------------------------------------------- embedding


def test_embedding(device):
    vkgrad.manual_seed(0)
    emb = nn.Embedding(7, 5, padding_idx=-2, device=device, dtype=F32)
    assert emb.padding_idx == 5
    assert list(emb.state_dict()) == ["weight"]
    assert repr(emb) == "Embedding(7, 5, padding_idx=5)"
    w = _np(emb.weight)
    assert np.all(w[5] == 0)
    idx = np.array([[1, 5, 6], [1, 0, 5]])
    y = emb(vkgrad.tensor(idx, dtype=vkgrad.int32, device=device))
    assert y.shape == (2, 3, 5)
    _close(_np(y), w[idx], "embedding forward", rtol=0, atol=0)
    r = _backward(y)
    g = _all_grads(emb)
    ref = np.zeros((7, 5))
    np.add.at(ref, idx.reshape(-1), r.reshape(-1, 5))
    ref[5] = 0  # the padding row gets no gradient
    _close(g["weight"], ref, "embedding grad")


def test_embedding_init_statistics():
    vkgrad.manual_seed(1)
    w = _np(nn.Embedding(1000, 64).weight)
    # N(0, 1): for 64000 draws the mean is within 4 / sqrt(n) and the std within 2%.
    assert abs(w.mean()) < 4 / math.sqrt(w.size)
    assert abs(w.std() - 1) < 0.02


def test_embedding_from_pretrained(device):
    table = _rng(8).standard_normal((4, 3))
    emb = nn.Embedding.from_pretrained(_t(table, device), padding_idx=1)
    assert not emb.weight.requires_grad and emb.padding_idx == 1
    _close(_np(emb.weight), table, "weight kept as given (padding row too)", rtol=1e-6)
    y = emb(vkgrad.tensor([3, 1], device=device))
    _close(_np(y), table[[3, 1]], "lookup", rtol=1e-6)
    trainable = nn.Embedding.from_pretrained(_t(table, device), freeze=False)
    assert trainable.weight.requires_grad
    with pytest.raises(ValueError, match="must be 2-D"):
        nn.Embedding.from_pretrained(_t(np.zeros(3), device))
    with pytest.raises(NotImplementedError, match="max_norm"):
        nn.Embedding(4, 3, max_norm=1.0)
    with pytest.raises(ValueError, match="padding_idx 4 must be within"):
        nn.Embedding(4, 3, padding_idx=4)


# ---------------------------------------------------------------- activations


def _sig(x):
    return 1 / (1 + np.exp(-x))


_erf = np.vectorize(math.erf)
_C = math.sqrt(2 / math.pi)
_SA, _SS = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def _sp(x, b=1.0):
    return np.logaddexp(0, b * x) / b


def _gelu_tanh(x):
    t = np.tanh(_C * (x + 0.044715 * x**3))
    return 0.5 * x * (1 + t), 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _C * (
        1 + 3 * 0.044715 * x * x
    )


def _mish(x):
    t = np.tanh(_sp(x))
    return x * t, t + x * (1 - t * t) * _sig(x)


# (module, repr, f(x), f'(x)), each a float64 NumPy definition.
ACTIVATIONS = {
    "ReLU": (nn.ReLU(), "ReLU()", lambda x: np.maximum(x, 0), lambda x: 1.0 * (x > 0)),
    "LeakyReLU": (
        nn.LeakyReLU(0.2),
        "LeakyReLU(negative_slope=0.2)",
        lambda x: np.where(x > 0, x, 0.2 * x),
        lambda x: np.where(x > 0, 1, 0.2),
    ),
    "ELU": (
        nn.ELU(0.7),
        "ELU(alpha=0.7)",
        lambda x: np.where(x > 0, x, 0.7 * np.expm1(x)),
        lambda x: np.where(x > 0, 1, 0.7 * np.exp(x)),
    ),
    "CELU": (
        nn.CELU(0.5),
        "CELU(alpha=0.5)",
        lambda x: np.where(x > 0, x, 0.5 * np.expm1(x / 0.5)),
        lambda x: np.where(x > 0, 1, np.exp(x / 0.5)),
    ),
    "SELU": (
        nn.SELU(),
        "SELU()",
        lambda x: _SS * np.where(x > 0, x, _SA * np.expm1(x)),
        lambda x: _SS * np.where(x > 0, 1, _SA * np.exp(x)),
    ),
    "GELU": (
        nn.GELU(),
        "GELU(approximate='none')",
        lambda x: x * 0.5 * (1 + _erf(x / math.sqrt(2))),
        lambda x: (
            0.5 * (1 + _erf(x / math.sqrt(2))) + x * np.exp(-x * x / 2) / math.sqrt(2 * math.pi)
        ),
    ),
    "GELU-tanh": (
        nn.GELU("tanh"),
        "GELU(approximate='tanh')",
        lambda x: _gelu_tanh(x)[0],
        lambda x: _gelu_tanh(x)[1],
    ),
    "SiLU": (
        nn.SiLU(),
        "SiLU()",
        lambda x: x * _sig(x),
        lambda x: _sig(x) * (1 + x * (1 - _sig(x))),
    ),
    "Sigmoid": (nn.Sigmoid(), "Sigmoid()", _sig, lambda x: _sig(x) * (1 - _sig(x))),
    "Tanh": (nn.Tanh(), "Tanh()", np.tanh, lambda x: 1 - np.tanh(x) ** 2),
    "Softplus": (
        nn.Softplus(beta=2.0),
        "Softplus(beta=2.0, threshold=20.0)",
        lambda x: _sp(x, 2.0),
        lambda x: _sig(2 * x),
    ),
    "Hardswish": (
        nn.Hardswish(),
        "Hardswish()",
        lambda x: x * np.clip(x + 3, 0, 6) / 6,
        lambda x: np.where(x < -3, 0, np.where(x > 3, 1, (2 * x + 3) / 6)),
    ),
    "Hardsigmoid": (
        nn.Hardsigmoid(),
        "Hardsigmoid()",
        lambda x: np.clip(x + 3, 0, 6) / 6,
        lambda x: (np.abs(x) < 3) / 6,
    ),
    "Hardtanh": (
        nn.Hardtanh(-2.0, 2.0),
        "Hardtanh(min_val=-2.0, max_val=2.0)",
        lambda x: np.clip(x, -2, 2),
        lambda x: 1.0 * (np.abs(x) < 2),
    ),
    "ReLU6": (
        nn.ReLU6(inplace=True),
        "ReLU6(inplace=True)",
        lambda x: np.clip(x, 0, 6),
        lambda x: 1.0 * ((x > 0) & (x < 6)),
    ),
    "Mish": (nn.Mish(), "Mish()", lambda x: _mish(x)[0], lambda x: _mish(x)[1]),
    "LogSigmoid": (nn.LogSigmoid(), "LogSigmoid()", lambda x: -_sp(-x), lambda x: 1 - _sig(x)),
    "Softsign": (
        nn.Softsign(),
        "Softsign()",
        lambda x: x / (1 + np.abs(x)),
        lambda x: 1 / (1 + np.abs(x)) ** 2,
    ),
    "Tanhshrink": (
        nn.Tanhshrink(),
        "Tanhshrink()",
        lambda x: x - np.tanh(x),
        lambda x: np.tanh(x) ** 2,
    ),
}


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_modules(device, name):
    module, rep, f, df = ACTIVATIONS[name]
    assert repr(module) == rep
    # A grid over [-8, 8] that stays >= 0.01 away from every kink (0, +-1, +-2, +-3, 6).
    x = (np.linspace(-7.9, 7.9, 41) + 0.0123).reshape(1, 41).repeat(3, 0)
    xt = _t(x, device, grad=True)
    y = module(xt)
    assert y.shape == (3, 41) and y.dtype == F32
    _close(_np(y), f(x), f"{name} forward")
    r = _backward(y)
    _close(_np(xt.grad), r * df(x), f"{name} grad")
    assert list(module.state_dict()) == []


def _softmax(x, dim):
    e = np.exp(x - x.max(dim, keepdims=True))
    return e / e.sum(dim, keepdims=True)


@pytest.mark.parametrize("kind", ["Softmax", "LogSoftmax", "Softmin"])
def test_softmax_modules(device, kind):
    module = getattr(nn, kind)(dim=1)
    assert repr(module) == f"{kind}(dim=1)"
    x = _rng(9).standard_normal((2, 5, 3)) * 2
    xt = _t(x, device, grad=True)
    y = module(xt)
    r = _backward(y)
    if kind == "LogSoftmax":
        s = _softmax(x, 1)
        ref, gref = np.log(s), r - s * r.sum(1, keepdims=True)
    else:
        sign = -1 if kind == "Softmin" else 1
        s = _softmax(sign * x, 1)
        ref, gref = s, sign * s * (r - (r * s).sum(1, keepdims=True))
    _close(_np(y), ref, f"{kind} forward")
    _close(_np(xt.grad), gref, f"{kind} grad")


def test_glu(device):
    glu = nn.GLU(dim=1)
    assert repr(glu) == "GLU(dim=1)"
    x = _rng(10).standard_normal((3, 6, 2))
    xt = _t(x, device, grad=True)
    y = glu(xt)
    a, b = x[:, :3], x[:, 3:]
    _close(_np(y), a * _sig(b), "GLU forward")
    r = _backward(y)
    gref = np.concatenate([r * _sig(b), r * a * _sig(b) * (1 - _sig(b))], 1)
    _close(_np(xt.grad), gref, "GLU grad")
    with pytest.raises(RuntimeError, match="even-sized dim"):
        nn.GLU()(_t(np.ones((2, 3)), device))


@pytest.mark.parametrize("num", [1, 4])
def test_prelu(device, num):
    pr = nn.PReLU(num, init=0.1, device=device, dtype=F32)
    assert repr(pr) == f"PReLU(num_parameters={num})"
    assert list(pr.state_dict()) == ["weight"]
    _close(_np(pr.weight), np.full(num, 0.1), "PReLU init", rtol=1e-6)
    w = _set(pr, weight=np.linspace(0.1, 0.4, num))["weight"]
    x = _rng(11).standard_normal((2, 4, 3)) + 0.01
    xt = _t(x, device, grad=True)
    y = pr(xt)
    wb = w.reshape(1, -1, 1)
    _close(_np(y), np.where(x > 0, x, wb * x), "PReLU forward")
    r = _backward(y)
    _close(_np(xt.grad), np.where(x > 0, r, wb * r), "PReLU grad input")
    gw = np.where(x > 0, 0, r * x).sum((0, 2))
    _close(_all_grads(pr)["weight"], gw.sum(keepdims=True) if num == 1 else gw, "PReLU grad w")
    if num == 4:
        with pytest.raises(RuntimeError, match="PReLU: 4 parameters"):
            pr(_t(np.ones((2, 3)), device))


# ---------------------------------------------------------------- attention / transformer


def _softmax_np(s):
    with np.errstate(invalid="ignore"):
        e = np.exp(s - s.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)


def _mha_ref(q_in, k_in, v_in, p, heads, mask=None, prefix=""):
    """Batch-first (N, L, E) multi-head attention in float64; mask additive (N, H, L, S)."""
    w, b = p[prefix + "in_proj_weight"], p[prefix + "in_proj_bias"]
    e = w.shape[1]
    q = q_in @ w[:e].T + b[:e]
    k = k_in @ w[e : 2 * e].T + b[e : 2 * e]
    v = v_in @ w[2 * e :].T + b[2 * e :]
    n, lq, s, hd = q.shape[0], q.shape[1], k.shape[1], e // heads

    def split(t, length):
        return t.reshape(n, length, heads, hd).transpose(0, 2, 1, 3)

    q, k, v = split(q, lq), split(k, s), split(v, s)
    scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hd)
    if mask is not None:
        scores = scores + mask
    attn = _softmax_np(scores)
    out = (attn @ v).transpose(0, 2, 1, 3).reshape(n, lq, e)
    out = out @ p[prefix + "out_proj.weight"].T + p[prefix + "out_proj.bias"]
    return out, attn


def _random_params(module, seed, scale=0.3) -> dict:
    """Every parameter set to random values (biases and norms too), returned as float64."""
    rng = _rng(seed)
    values = {}
    for name, t in module.named_parameters():
        base = 1.0 if name.startswith("norm") and name.endswith("weight") else 0.0
        values[name] = base + scale * rng.standard_normal(t.shape)
    return _set(module, **values)


def _fd_params(f, params: dict, names) -> dict:
    """Finite-difference gradients of f(params) for each named float64 array."""
    out = {}
    for name in names:

        def g(a, name=name):
            return f({**params, name: a})

        out[name] = _fd_grad(g, params[name])
    return out


def test_multihead_attention_values_masks_and_grads(device):
    e, heads, n, lq, s = 8, 2, 2, 5, 4
    mha = nn.MultiheadAttention(e, heads, device=device, dtype=F32)
    assert list(mha.state_dict()) == [
        "in_proj_weight",
        "in_proj_bias",
        "out_proj.weight",
        "out_proj.bias",
    ]
    p = _random_params(mha, 12)
    rng = _rng(13)
    # (L, N, E) layout (batch_first=False); cross attention with S != L.
    q, k, v = (
        rng.standard_normal((lq, n, e)),
        rng.standard_normal((s, n, e)),
        rng.standard_normal((s, n, e)),
    )
    float_mask = rng.standard_normal((lq, s))
    pad = np.array([[False, False, False, True], [False, True, False, False]])
    qt, kt, vt = (_t(a, device, grad=True) for a in (q, k, v))
    out, w = mha(
        qt,
        kt,
        vt,
        key_padding_mask=vkgrad.tensor(pad, device=device),
        attn_mask=_t(float_mask, device),
        average_attn_weights=False,
    )
    assert out.shape == (lq, n, e) and w.shape == (n, heads, lq, s)
    mask = float_mask[None, None] + np.where(pad, -np.inf, 0.0)[:, None, None, :]

    def ref(pp, qa=q, ka=k, va=v):
        o, a = _mha_ref(*(x.transpose(1, 0, 2) for x in (qa, ka, va)), pp, heads, mask)
        return o.transpose(1, 0, 2), a

    ro, ra = ref(p)
    _close(_np(out), ro, "MHA output")
    _close(_np(w), ra, "MHA per-head weights")
    assert np.all(_np(w)[..., pad[0]][0] == 0)
    # The fused path (need_weights=False) gives the same output.
    fused, none = mha(
        qt,
        kt,
        vt,
        key_padding_mask=vkgrad.tensor(pad, device=device),
        attn_mask=_t(float_mask, device),
        need_weights=False,
    )
    assert none is None
    _close(_np(fused), ro, "MHA fused output")
    r = _backward(out)
    grads = _all_grads(mha)

    def loss(pp):
        return float((ref(pp)[0] * r).sum())

    fd = _fd_params(loss, p, list(p))
    for name in p:
        _close(grads[name], fd[name], f"grad {name}", rtol=1e-3, atol=1e-4)
    _close(
        _np(kt.grad),
        _fd_grad(lambda a: float((ref(p, ka=a)[0] * r).sum()), k),
        "grad key",
        rtol=1e-3,
        atol=1e-4,
    )


def test_multihead_attention_bool_and_3d_masks_batch_first(device):
    e, heads, n, l = 8, 4, 2, 6
    mha = nn.MultiheadAttention(e, heads, batch_first=True, device=device, dtype=F32)
    p = _random_params(mha, 14)
    x = _rng(15).standard_normal((n, l, e))
    xt = _t(x, device)
    causal = np.triu(np.ones((l, l), bool), 1)  # True: not attended
    out, w = mha(xt, xt, xt, attn_mask=vkgrad.tensor(causal, device=device), is_causal=True)
    ro, ra = _mha_ref(x, x, x, p, heads, np.where(causal, -np.inf, 0.0))
    _close(_np(out), ro, "MHA causal output")
    _close(_np(w), ra.mean(1), "MHA head-averaged weights")
    # A (N * H, L, S) bool mask: a different mask per head.
    m3 = _rng(16).random((n * heads, l, l)) < 0.3
    m3[..., 0] = False  # every query keeps one key
    out, _ = mha(xt, xt, xt, attn_mask=vkgrad.tensor(m3, device=device), need_weights=False)
    ro, _ = _mha_ref(x, x, x, p, heads, np.where(m3, -np.inf, 0.0).reshape(n, heads, l, l))
    _close(_np(out), ro, "MHA 3-D bool mask")
    # Unbatched (L, E) input.
    out, w = mha(xt[0], xt[0], xt[0])
    ro, ra = _mha_ref(x[:1], x[:1], x[:1], p, heads)
    assert out.shape == (l, e) and w.shape == (l, l)
    _close(_np(out), ro[0], "MHA unbatched")
    with pytest.raises(RuntimeError, match="need attn_mask"):
        mha(xt, xt, xt, is_causal=True)
    with pytest.raises(RuntimeError, match="attn_mask shape"):
        mha(xt, xt, xt, attn_mask=_t(np.zeros((l, l + 1)), device))


def test_multihead_attention_kdim_vdim(device):
    mha = nn.MultiheadAttention(8, 2, kdim=5, vdim=3, batch_first=True, device=device)
    assert list(mha.state_dict()) == [
        "q_proj_weight",
        "k_proj_weight",
        "v_proj_weight",
        "in_proj_bias",
        "out_proj.weight",
        "out_proj.bias",
    ]
    assert mha.in_proj_weight is None
    p = _random_params(mha, 17)
    rng = _rng(18)
    q, k, v = (
        rng.standard_normal((2, 4, 8)),
        rng.standard_normal((2, 3, 5)),
        rng.standard_normal((2, 3, 3)),
    )
    out, _ = mha(_t(q, device), _t(k, device), _t(v, device))
    b = p["in_proj_bias"]
    # The same math with the three projections folded into inputs already projected.
    qp, kp, vp = q @ p["q_proj_weight"].T, k @ p["k_proj_weight"].T, v @ p["v_proj_weight"].T
    eye = {"in_proj_weight": np.vstack([np.eye(8)] * 3), "in_proj_bias": b}
    ro, _ = _mha_ref(qp, kp, vp, {**p, **eye}, 2)
    _close(_np(out), ro, "MHA kdim/vdim")
    with pytest.raises(ValueError, match="feature sizes"):
        mha(_t(q, device), _t(q, device), _t(v, device))


def test_multihead_attention_init_and_dropout():
    vkgrad.manual_seed(0)
    mha = nn.MultiheadAttention(64, 8, dropout=0.5)
    w = _np(mha.in_proj_weight)
    bound = math.sqrt(6 / (64 + 3 * 64))  # xavier_uniform_ on (3E, E)
    assert np.abs(w).max() <= bound and abs(w.std() - bound / math.sqrt(3)) < 0.02 * bound
    assert np.all(_np(mha.in_proj_bias) == 0) and np.all(_np(mha.out_proj.bias) == 0)
    wo = _np(mha.out_proj.weight)  # Linear's init: U(-1/sqrt(64), 1/sqrt(64))
    assert np.abs(wo).max() <= 1 / 8 and abs(wo.std() - 1 / 8 / math.sqrt(3)) < 0.1 / 8
    x = vkgrad.randn(5, 2, 64)
    mha.eval()
    a = _np(mha(x, x, x)[0])
    assert np.array_equal(a, _np(mha(x, x, x)[0])), "eval must be deterministic"
    we = _np(mha(x, x, x, average_attn_weights=False)[1])
    mha.train()
    wt = _np(mha(x, x, x, average_attn_weights=False)[1])
    kept = wt != 0
    # Train: dropout on the attention weights, kept ones scaled by 1 / (1 - p).
    assert 0.3 < kept.mean() < 0.7
    _close(wt[kept], 2 * we[kept], "dropped attention weights")
    with pytest.raises(ValueError, match="divisible by num_heads"):
        nn.MultiheadAttention(10, 3)


def _encoder_ref(x, p, heads, norm_first, act, mask=None, eps=1e-5, prefix=""):
    def ln(t, name):
        return _ln_ref(t, 1, p[prefix + name + ".weight"], p[prefix + name + ".bias"], eps)

    def sa(t):
        return _mha_ref(t, t, t, p, heads, mask, prefix + "self_attn.")[0]

    def ff(t):
        h = t @ p[prefix + "linear1.weight"].T + p[prefix + "linear1.bias"]
        h = np.maximum(h, 0) if act == "relu" else h * 0.5 * (1 + _erf(h / math.sqrt(2)))
        return h @ p[prefix + "linear2.weight"].T + p[prefix + "linear2.bias"]

    if norm_first:
        x = x + sa(ln(x, "norm1"))
        return x + ff(ln(x, "norm2"))
    x = ln(x + sa(x), "norm1")
    return ln(x + ff(x), "norm2")


ENCODER_KEYS = [
    "self_attn.in_proj_weight",
    "self_attn.in_proj_bias",
    "self_attn.out_proj.weight",
    "self_attn.out_proj.bias",
    "linear1.weight",
    "linear1.bias",
    "linear2.weight",
    "linear2.bias",
    "norm1.weight",
    "norm1.bias",
    "norm2.weight",
    "norm2.bias",
]


_ENCODER_FD: dict = {}


@pytest.mark.parametrize("norm_first, act", [(False, "relu"), (True, "gelu")])
def test_transformer_encoder_layer_forward_backward(device, norm_first, act):
    layer = nn.TransformerEncoderLayer(
        16,
        4,
        32,
        dropout=0.1,
        activation=act,
        batch_first=True,
        norm_first=norm_first,
        device=device,
        dtype=F32,
    )
    assert list(layer.state_dict()) == ENCODER_KEYS
    p = _random_params(layer, 19)
    layer.eval()  # dropout off: the layer is then the deterministic math of the reference
    x = _rng(20).standard_normal((2, 7, 16))
    pad = np.zeros((2, 7), bool)
    pad[1, 5:] = True
    mask = np.where(pad, -np.inf, 0.0)[:, None, None, :]
    xt = _t(x, device, grad=True)
    y = layer(xt, src_key_padding_mask=vkgrad.tensor(pad, device=device))
    assert y.shape == (2, 7, 16)
    _close(
        _np(y),
        _encoder_ref(x, p, 4, norm_first, act, mask),
        "encoder layer forward",
        rtol=1e-4,
        atol=1e-4,
    )
    r = _backward(y)
    grads = _all_grads(layer)

    def loss(pp):
        return float((_encoder_ref(x, pp, 4, norm_first, act, mask) * r).sum())

    key = (norm_first, act)
    if key not in _ENCODER_FD:  # the same on every device: computed once
        gx = _fd_grad(lambda a: float((_encoder_ref(a, p, 4, norm_first, act, mask) * r).sum()), x)
        _ENCODER_FD[key] = (_fd_params(loss, p, list(p)), gx)
    fd, gx = _ENCODER_FD[key]
    for name in p:
        _close(grads[name], fd[name], f"grad {name}", rtol=1e-3, atol=1e-4)
    _close(_np(xt.grad), gx, "grad input", rtol=1e-3, atol=1e-4)


def test_transformer_encoder_stack(device):
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, device=device, dtype=F32)
    p = _random_params(layer, 21)
    enc = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(8, device=device))
    keys = list(enc.state_dict())
    assert keys == [f"layers.{i}.{k}" for i in range(2) for k in ENCODER_KEYS] + [
        "norm.weight",
        "norm.bias",
    ]
    # Each layer starts as a copy of the given one, with parameters of its own.
    assert enc.layers[0].linear1.weight is not enc.layers[1].linear1.weight
    _close(_np(enc.layers[1].linear1.weight), p["linear1.weight"], "cloned values", rtol=1e-6)
    vals = _random_params(enc, 22)
    x = _rng(23).standard_normal((7, 2, 8))  # (S, N, E): batch_first=False
    causal = np.triu(np.full((7, 7), -np.inf), 1)
    y = enc(_t(x, device), mask=_t(causal, device), is_causal=True)
    ref = x.transpose(1, 0, 2)
    for i in range(2):
        ref = _encoder_ref(ref, vals, 2, False, "relu", causal, prefix=f"layers.{i}.")
    ref = _ln_ref(ref, 1, vals["norm.weight"], vals["norm.bias"])
    _close(_np(y), ref.transpose(1, 0, 2), "encoder stack", atol=1e-4)
    r = _backward(y)
    assert len(_all_grads(enc)) == 2 * len(ENCODER_KEYS) + 2
    assert r is not None
    with pytest.raises(RuntimeError, match="activation should be relu/gelu"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")


def _decoder_ref(
    x, mem, p, heads, norm_first, act, tgt_mask=None, mem_mask=None, eps=1e-5, prefix=""
):
    """Batch-first TransformerDecoderLayer in float64; masks additive, broadcastable to
    (N, H, T, T) and (N, H, T, S)."""

    def ln(t, name):
        return _ln_ref(t, 1, p[prefix + name + ".weight"], p[prefix + name + ".bias"], eps)

    def sa(t):
        return _mha_ref(t, t, t, p, heads, tgt_mask, prefix + "self_attn.")[0]

    def ca(t):
        return _mha_ref(t, mem, mem, p, heads, mem_mask, prefix + "multihead_attn.")[0]

    def ff(t):
        h = t @ p[prefix + "linear1.weight"].T + p[prefix + "linear1.bias"]
        h = np.maximum(h, 0) if act == "relu" else h * 0.5 * (1 + _erf(h / math.sqrt(2)))
        return h @ p[prefix + "linear2.weight"].T + p[prefix + "linear2.bias"]

    if norm_first:
        x = x + sa(ln(x, "norm1"))
        x = x + ca(ln(x, "norm2"))
        return x + ff(ln(x, "norm3"))
    x = ln(x + sa(x), "norm1")
    x = ln(x + ca(x), "norm2")
    return ln(x + ff(x), "norm3")


DECODER_KEYS = (
    ENCODER_KEYS[:4]
    + [k.replace("self_attn.", "multihead_attn.") for k in ENCODER_KEYS[:4]]
    + ENCODER_KEYS[4:8]
    + [f"norm{i}.{k}" for i in (1, 2, 3) for k in ("weight", "bias")]
)

_DECODER_FD: dict = {}


@pytest.mark.parametrize("norm_first, act", [(False, "relu"), (True, "gelu")])
def test_transformer_decoder_layer_forward_backward(device, norm_first, act):
    layer = nn.TransformerDecoderLayer(
        8, 2, 16, dropout=0.1, activation=act, batch_first=True, norm_first=norm_first,
        device=device, dtype=F32,
    )  # fmt: skip
    assert list(layer.state_dict()) == DECODER_KEYS
    p = _random_params(layer, 60)
    layer.eval()  # dropout off
    rng = _rng(61)
    x, mem = rng.standard_normal((2, 5, 8)), rng.standard_normal((2, 6, 8))
    causal = np.triu(np.ones((5, 5), bool), 1)  # bool: True is masked out
    pad = np.zeros((2, 6), bool)
    pad[1, 4:] = True
    tmask = np.where(causal, -np.inf, 0.0)
    mmask = np.where(pad, -np.inf, 0.0)[:, None, None, :]
    xt, mt = _t(x, device, grad=True), _t(mem, device, grad=True)
    y = layer(
        xt,
        mt,
        tgt_mask=vkgrad.tensor(causal, device=device),
        memory_key_padding_mask=vkgrad.tensor(pad, device=device),
        tgt_is_causal=True,
    )
    assert y.shape == (2, 5, 8)

    def ref(pp, xa=x, ma=mem):
        return _decoder_ref(xa, ma, pp, 2, norm_first, act, tmask, mmask)

    _close(_np(y), ref(p), "decoder layer forward", atol=1e-4)
    r = _backward(y)
    grads = _all_grads(layer)
    key = (norm_first, act)
    if key not in _DECODER_FD:  # the same on every device: computed once
        fd = _fd_params(lambda pp: float((ref(pp) * r).sum()), p, list(p))
        gx = _fd_grad(lambda a: float((ref(p, xa=a) * r).sum()), x)
        gm = _fd_grad(lambda a: float((ref(p, ma=a) * r).sum()), mem)
        _DECODER_FD[key] = (fd, gx, gm)
    fd, gx, gm = _DECODER_FD[key]
    for name in p:
        _close(grads[name], fd[name], f"grad {name}", rtol=1e-3, atol=1e-4)
    _close(_np(xt.grad), gx, "grad tgt", rtol=1e-3, atol=1e-4)
    _close(_np(mt.grad), gm, "grad memory", rtol=1e-3, atol=1e-4)
    with pytest.raises(RuntimeError, match="need attn_mask"):
        layer(xt, mt, tgt_is_causal=True)


def test_transformer_decoder_stack(device):
    layer = nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, device=device, dtype=F32)
    dec = nn.TransformerDecoder(layer, 2, norm=nn.LayerNorm(8, device=device))
    assert list(dec.state_dict()) == [f"layers.{i}.{k}" for i in range(2) for k in DECODER_KEYS] + [
        "norm.weight",
        "norm.bias",
    ]
    assert dec.layers[0].linear1.weight is not dec.layers[1].linear1.weight
    vals = _random_params(dec, 62)
    rng = _rng(63)
    x, mem = rng.standard_normal((5, 2, 8)), rng.standard_normal((7, 2, 8))  # (T, N, E)
    causal = _np(nn.Transformer.generate_square_subsequent_mask(5))
    assert np.array_equal(causal, np.triu(np.full((5, 5), -np.inf), 1))
    mem_mask = rng.standard_normal((5, 7))  # an additive float memory_mask (T, S)
    tpad = np.zeros((2, 5), bool)
    tpad[0, 3:] = True
    xt = _t(x, device, grad=True)
    y = dec(
        xt,
        _t(mem, device),
        tgt_mask=_t(causal, device),
        memory_mask=_t(mem_mask, device),
        tgt_key_padding_mask=vkgrad.tensor(tpad, device=device),
    )
    tmask = causal + np.where(tpad, -np.inf, 0.0)[:, None, None, :]
    ref = x.transpose(1, 0, 2)
    for i in range(2):
        ref = _decoder_ref(
            ref,
            mem.transpose(1, 0, 2),
            vals,
            2,
            False,
            "relu",
            tmask,
            mem_mask,
            prefix=f"layers.{i}.",
        )
    ref = _ln_ref(ref, 1, vals["norm.weight"], vals["norm.bias"])
    _close(_np(y), ref.transpose(1, 0, 2), "decoder stack", atol=1e-4)
    _backward(y)
    assert len(_all_grads(dec)) == 2 * len(DECODER_KEYS) + 2
    assert np.all(np.isfinite(_np(xt.grad)))
    # Unbatched (T, E) / (S, E) input: the batch of one without its batch dim.
    one = dec(_t(x[:, 1], device), _t(mem[:, 1], device), memory_mask=_t(mem_mask, device))
    ref1 = _decoder_ref(x[None, :, 1], mem[None, :, 1], vals, 2, False, "relu", None, mem_mask,
                        prefix="layers.0.")  # fmt: skip
    ref1 = _decoder_ref(ref1, mem[None, :, 1], vals, 2, False, "relu", None, mem_mask,
                        prefix="layers.1.")  # fmt: skip
    ref1 = _ln_ref(ref1, 1, vals["norm.weight"], vals["norm.bias"])[0]
    _close(_np(one), ref1, "decoder stack unbatched", atol=1e-4)


def test_transformer(device):
    vkgrad.manual_seed(0)
    model = nn.Transformer(8, 2, 2, 1, 16, dropout=0.0, batch_first=True, device=device)
    keys = list(model.state_dict())
    enc = [f"encoder.layers.{i}.{k}" for i in range(2) for k in ENCODER_KEYS]
    dec = [f"decoder.layers.0.{k}" for k in DECODER_KEYS]
    norms = ["encoder.norm.weight", "encoder.norm.bias", "decoder.norm.weight", "decoder.norm.bias"]
    assert keys == enc + norms[:2] + dec + norms[2:]
    # Every parameter of 2 or more dims: xavier_uniform_, as PyTorch's _reset_parameters.
    w = _np(model.decoder.layers[0].linear1.weight)
    assert np.abs(w).max() <= math.sqrt(6 / (8 + 16))
    assert np.all(_np(model.encoder.norm.weight) == 1)
    vals = _random_params(model, 64)
    rng = _rng(65)
    src, tgt = rng.standard_normal((2, 6, 8)), rng.standard_normal((2, 4, 8))
    spad = np.zeros((2, 6), bool)
    spad[1, 5:] = True
    causal = np.triu(np.full((4, 4), -np.inf), 1)
    st = _t(src, device, grad=True)
    y = model(
        st,
        _t(tgt, device),
        tgt_mask=nn.Transformer.generate_square_subsequent_mask(4, device=device),
        src_key_padding_mask=vkgrad.tensor(spad, device=device),
        memory_key_padding_mask=vkgrad.tensor(spad, device=device),
    )
    assert y.shape == (2, 4, 8)
    pmask = np.where(spad, -np.inf, 0.0)[:, None, None, :]

    def ref(sa):
        m = sa
        for i in range(2):
            m = _encoder_ref(m, vals, 2, False, "relu", pmask, prefix=f"encoder.layers.{i}.")
        m = _ln_ref(m, 1, vals["encoder.norm.weight"], vals["encoder.norm.bias"])
        out = _decoder_ref(
            tgt, m, vals, 2, False, "relu", causal, pmask, prefix="decoder.layers.0."
        )
        return _ln_ref(out, 1, vals["decoder.norm.weight"], vals["decoder.norm.bias"])

    _close(_np(y), ref(src), "transformer forward", atol=1e-4)
    r = _backward(y)
    assert len(_all_grads(model)) == len(keys)
    gs = _fd_grad(lambda a: float((ref(a) * r).sum()), src)
    _close(_np(st.grad), gs, "transformer grad src", rtol=1e-3, atol=1e-4)
    with pytest.raises(ValueError, match=r"Transformer: the batch size of src and tgt must be "
                       r"equal \(dim 0\), got shapes \(2, 6, 8\) and \(3, 4, 8\)"):  # fmt: skip
        model(_t(src, device), _t(np.zeros((3, 4, 8)), device))
    with pytest.raises(ValueError, match=r"Transformer: the feature size of src and tgt must equal "
                       r"d_model \(8\)"):  # fmt: skip
        model(_t(src, device), _t(np.zeros((2, 4, 6)), device))


# ---------------------------------------------------------------- convolution / pooling

_NP_PAD = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _conv2d_ref(x, w, b, stride, pads, dilation, groups, mode="zeros"):
    """(N, C, H, W) cross-correlation in float64; pads ((top, bottom), (left, right))."""
    xp = np.pad(x, ((0, 0), (0, 0)) + tuple(pads), mode=_NP_PAD[mode])
    n, c, h, wd = xp.shape
    cout, cg, kh, kw = w.shape
    (sh, sw), (dh, dw) = stride, dilation
    ho, wo = (h - dh * (kh - 1) - 1) // sh + 1, (wd - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((n, cout, ho, wo))
    og = cout // groups
    for g in range(groups):
        xs, ws = xp[:, g * cg : (g + 1) * cg], w[g * og : (g + 1) * og]
        for i in range(kh):
            for j in range(kw):
                patch = xs[
                    :,
                    :,
                    i * dh : i * dh + sh * (ho - 1) + 1 : sh,
                    j * dw : j * dw + sw * (wo - 1) + 1 : sw,
                ]
                y[:, g * og : (g + 1) * og] += np.einsum("nchw,oc->nohw", patch, ws[:, :, i, j])
    return y if b is None else y + b[None, :, None, None]


def _conv_transpose2d_ref(x, w, b, stride, padding, output_padding, groups, dilation=(1, 1)):
    n, cin, h, wd = x.shape
    _, og, kh, kw = w.shape
    (sh, sw), (ph, pw), (oh, ow), (dh, dw) = stride, padding, output_padding, dilation
    full = np.zeros(
        (
            n,
            og * groups,
            (h - 1) * sh + dh * (kh - 1) + 1 + oh,
            (wd - 1) * sw + dw * (kw - 1) + 1 + ow,
        )
    )
    cg = cin // groups
    for g in range(groups):
        xs, ws = x[:, g * cg : (g + 1) * cg], w[g * cg : (g + 1) * cg]
        for i in range(kh):
            for j in range(kw):
                full[
                    :,
                    g * og : (g + 1) * og,
                    i * dh : i * dh + sh * (h - 1) + 1 : sh,
                    j * dw : j * dw + sw * (wd - 1) + 1 : sw,
                ] += np.einsum("nchw,co->nohw", xs, ws[:, :, i, j])
    ho = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oh + 1
    wo = (wd - 1) * sw - 2 * pw + dw * (kw - 1) + ow + 1
    y = full[:, :, ph : ph + ho, pw : pw + wo]
    return y + b[None, :, None, None]


def _check_module_grads(module, xt, x, y, ref, p, what, rtol=1e-3, atol=1e-4):
    """Gradients of <y, r> for the input and every parameter vs finite differences of ref."""
    r = _backward(y)
    grads = _all_grads(module)
    for name in p:
        fd = _fd_grad(lambda a, name=name: float((ref(x, {**p, name: a}) * r).sum()), p[name])
        _close(grads[name], fd, f"{what}: grad {name}", rtol, atol)
    fd = _fd_grad(lambda a: float((ref(a, p) * r).sum()), x)
    _close(_np(xt.grad), fd, f"{what}: grad input", rtol, atol)


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
def test_conv2d(device, mode):
    conv = nn.Conv2d(
        4,
        6,
        (3, 2),
        stride=(2, 1),
        padding=(1, 2),
        dilation=(1, 2),
        groups=2,
        padding_mode=mode,
        device=device,
        dtype=F32,
    )
    assert list(conv.state_dict()) == ["weight", "bias"] and conv.weight.shape == (6, 2, 3, 2)
    extra = "" if mode == "zeros" else f", padding_mode={mode}"
    assert repr(conv) == (
        "Conv2d(4, 6, kernel_size=(3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2), "
        f"groups=2{extra})"
    )
    p = _random_params(conv, 30)
    x = _rng(31).standard_normal((2, 4, 7, 6))
    xt = _t(x, device, grad=True)
    y = conv(xt)

    def ref(xa, pp):
        return _conv2d_ref(xa, pp["weight"], pp["bias"], (2, 1), ((1, 1), (2, 2)), (1, 2), 2, mode)

    _close(_np(y), ref(x, p), f"conv2d {mode}")
    _check_module_grads(conv, xt, x, y, ref, p, f"conv2d {mode}")


def test_conv1d_and_same_padding(device):
    conv = nn.Conv1d(
        3, 4, 4, padding="same", padding_mode="circular", bias=False, device=device, dtype=F32
    )
    assert repr(conv) == (
        "Conv1d(3, 4, kernel_size=(4,), stride=(1,), padding=same, bias=False, "
        "padding_mode=circular)"
    )
    assert list(conv.state_dict()) == ["weight"]
    p = _random_params(conv, 32)
    x = _rng(33).standard_normal((2, 3, 9))
    xt = _t(x, device, grad=True)
    y = conv(xt)
    assert y.shape == (2, 4, 9)

    def ref(xa, pp):  # total padding 3: 1 before, 2 after, as PyTorch
        y2 = _conv2d_ref(
            xa[:, :, None],
            pp["weight"][:, :, None],
            None,
            (1, 1),
            ((0, 0), (1, 2)),
            (1, 1),
            1,
            "circular",
        )
        return y2[:, :, 0]

    _close(_np(y), ref(x, p), "conv1d same circular")
    _check_module_grads(conv, xt, x, y, ref, p, "conv1d")
    zeros = nn.Conv1d(3, 4, 3, stride=2, padding=1, device=device, dtype=F32)
    pz = _random_params(zeros, 34)
    ref = _conv2d_ref(
        x[:, :, None], pz["weight"][:, :, None], pz["bias"], (1, 2), ((0, 0), (1, 1)), (1, 1), 1
    )[:, :, 0]
    _close(_np(zeros(_t(x, device))), ref, "conv1d strided")
    with pytest.raises(ValueError, match="padding='same' is not supported for strided"):
        nn.Conv1d(3, 4, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv2d(3, 4, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="in_channels \\(3\\) must be divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)


def test_conv_transpose2d(device):
    conv = nn.ConvTranspose2d(
        4, 6, 3, stride=2, padding=1, output_padding=1, groups=2, device=device, dtype=F32
    )
    assert conv.weight.shape == (4, 3, 3, 3)
    assert repr(conv) == (
        "ConvTranspose2d(4, 6, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), "
        "output_padding=(1, 1), groups=2)"
    )
    p = _random_params(conv, 35)
    x = _rng(36).standard_normal((2, 4, 3, 4))
    xt = _t(x, device, grad=True)
    y = conv(xt)
    assert y.shape == (2, 6, 6, 8)

    def ref(xa, pp):
        return _conv_transpose2d_ref(xa, pp["weight"], pp["bias"], (2, 2), (1, 1), (1, 1), 2)

    _close(_np(y), ref(x, p), "conv_transpose2d")
    _check_module_grads(conv, xt, x, y, ref, p, "conv_transpose2d")
    # output_size picks output_padding: 5 x 7 is the other size stride 2 allows.
    plain = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, groups=2, device=device, dtype=F32)
    plain.load_state_dict(conv.state_dict())
    y2 = plain(_t(x, device), output_size=(5, 8))
    _close(
        _np(y2),
        _conv_transpose2d_ref(x, p["weight"], p["bias"], (2, 2), (1, 1), (0, 1), 2),
        "conv_transpose2d output_size",
    )
    with pytest.raises(ValueError, match="valid sizes range from 5 to 6"):
        plain(_t(x, device), output_size=(7, 8))
    with pytest.raises(ValueError, match='Only "zeros" padding mode'):
        nn.ConvTranspose2d(4, 6, 3, padding_mode="reflect")


def test_conv_transpose1d(device):
    conv = nn.ConvTranspose1d(
        4, 6, 3, stride=2, padding=1, output_padding=1, groups=2, device=device, dtype=F32
    )
    assert conv.weight.shape == (4, 3, 3)
    assert repr(conv) == (
        "ConvTranspose1d(4, 6, kernel_size=(3,), stride=(2,), padding=(1,), "
        "output_padding=(1,), groups=2)"
    )
    p = _random_params(conv, 37)
    x = _rng(38).standard_normal((2, 4, 5))
    xt = _t(x, device, grad=True)
    y = conv(xt)
    assert y.shape == (2, 6, 10)

    def ref(xa, pp, out_pad=1):  # the 2-d reference on images of height 1
        y4 = _conv_transpose2d_ref(
            xa[:, :, None], pp["weight"][:, :, None], pp["bias"], (1, 2), (0, 1), (0, out_pad), 2
        )
        return y4[:, :, 0]

    _close(_np(y), ref(x, p), "conv_transpose1d")
    _check_module_grads(conv, xt, x, y, ref, p, "conv_transpose1d")
    # Unbatched input, and output_size choosing output_padding 0 (length 9).
    _close(_np(conv(_t(x[1], device))), ref(x[1:], p)[0], "conv_transpose1d unbatched")
    _close(
        _np(conv(_t(x, device), output_size=(2, 6, 9))),
        ref(x, p, out_pad=0),
        "conv_transpose1d output_size",
    )
    with pytest.raises(ValueError, match="valid sizes range from 9 to 10"):
        conv(_t(x, device), output_size=[11])
    with pytest.raises(ValueError, match=r"conv_transpose1d: input \(2, 3, 5\) has 3 channels "
                       r"but weight \(4, 3, 3\) expects 4"):  # fmt: skip
        conv(_t(np.zeros((2, 3, 5)), device))
    with pytest.raises(ValueError, match='Only "zeros" padding mode'):
        nn.ConvTranspose1d(4, 6, 3, padding_mode="circular")


def test_conv_init_statistics():
    vkgrad.manual_seed(0)
    for conv, fan_in in [
        (nn.Conv2d(16, 64, 3), 144),
        (nn.ConvTranspose2d(16, 32, 3, groups=2), 144),
        (nn.ConvTranspose1d(32, 16, 5), 80),
        (nn.Conv1d(8, 256, 5, groups=4), 10),
    ]:
        bound = 1 / math.sqrt(fan_in)  # kaiming_uniform_(a=sqrt(5)) and the bias rule
        w, b = _np(conv.weight), _np(conv.bias)
        assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
        # U(-bound, bound) has std bound / sqrt(3); >= 2560 draws: within 5%.
        assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound / math.sqrt(3), type(conv)
        assert np.abs(w).max() > 0.9 * bound and b.std() > 0


def _pool_ref(x, k, s, p, kind, count_include_pad=True):
    """(N, C, H, W) max or average pooling in float64 (floor mode)."""
    fill = -np.inf if kind == "max" else 0.0
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])), constant_values=fill)
    ones = np.pad(np.ones(x.shape[2:]), ((p[0], p[0]), (p[1], p[1])))
    ho = (xp.shape[2] - k[0]) // s[0] + 1
    wo = (xp.shape[3] - k[1]) // s[1] + 1
    win = [
        (
            xp[:, :, i : i + s[0] * (ho - 1) + 1 : s[0], j : j + s[1] * (wo - 1) + 1 : s[1]],
            ones[i : i + s[0] * (ho - 1) + 1 : s[0], j : j + s[1] * (wo - 1) + 1 : s[1]],
        )
        for i in range(k[0])
        for j in range(k[1])
    ]
    if kind == "max":
        return np.max([a for a, _ in win], 0)
    total = np.sum([a for a, _ in win], 0)
    count = k[0] * k[1] if count_include_pad else np.sum([c for _, c in win], 0)
    return total / count


def test_pooling_2d(device):
    x = _rng(37).standard_normal((2, 3, 7, 9))
    xt = _t(x, device, grad=True)
    mp = nn.MaxPool2d(3, stride=2, padding=1)
    assert repr(mp) == "MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=False)"
    y = mp(xt)
    ref = _pool_ref(x, (3, 3), (2, 2), (1, 1), "max")
    _close(_np(y), ref, "max_pool2d")
    r = _backward(y)
    # The gradient goes to each window's maximum (distinct random values: one per window).
    g = np.zeros_like(x)
    flat = x.reshape(2, 3, -1)
    for idx, val in np.ndenumerate(ref):
        pos = np.flatnonzero(flat[idx[0], idx[1]] == val)[0]
        g[idx[0], idx[1]].reshape(-1)[pos] += r[idx]
    _close(_np(xt.grad), g, "max_pool2d grad")
    y, ind = nn.MaxPool2d(2, return_indices=True)(_t(x, device))
    assert ind.dtype == vkgrad.int32 and ind.shape == (2, 3, 3, 4)
    _close(
        np.take_along_axis(
            flat.astype(np.float32), _np(ind).astype(int).reshape(2, 3, -1), 2
        ).reshape(y.shape),
        _np(y),
        "max_pool2d indices",
        rtol=0,
        atol=0,
    )

    for cip in (True, False):
        ap = nn.AvgPool2d((3, 2), stride=(2, 3), padding=1, count_include_pad=cip)
        assert repr(ap) == "AvgPool2d(kernel_size=(3, 2), stride=(2, 3), padding=1)"
        ref = _pool_ref(x, (3, 2), (2, 3), (1, 1), "avg", cip)
        _close(_np(ap(_t(x, device))), ref, f"avg_pool2d count_include_pad={cip}")

    gap = nn.AdaptiveAvgPool2d(1)
    assert repr(gap) == "AdaptiveAvgPool2d(output_size=1)"
    xt.grad = None
    y = gap(xt)
    _close(_np(y), x.mean((2, 3), keepdims=True), "global average pooling")
    r = _backward(y)
    _close(_np(xt.grad), np.broadcast_to(r / 63, x.shape), "global average pooling grad")
    ad = nn.AdaptiveAvgPool2d((3, None))(_t(x, device))
    # Windows [floor(i H / 3), ceil((i + 1) H / 3)) over H = 7: [0, 3), [2, 5), [4, 7).
    ref = np.stack([x[:, :, a:b].mean(2) for a, b in ((0, 3), (2, 5), (4, 7))], 2)
    _close(_np(ad), ref, "adaptive_avg_pool2d (3, None)")


def test_pooling_1d(device):
    x = _rng(38).standard_normal((2, 3, 10))
    xt = _t(x, device, grad=True)
    mp = nn.MaxPool1d(3, stride=2)
    y = mp(xt)
    _close(_np(y), _pool_ref(x[:, :, None], (1, 3), (1, 2), (0, 0), "max")[:, :, 0], "max_pool1d")
    ap = nn.AvgPool1d(4, padding=2)
    assert repr(ap) == "AvgPool1d(kernel_size=(4,), stride=(4,), padding=(2,))"
    ref = _pool_ref(x[:, :, None], (1, 4), (1, 4), (0, 2), "avg")[:, :, 0]
    _close(_np(ap(_t(x, device))), ref, "avg_pool1d")
    ad = nn.AdaptiveAvgPool1d(4)(_t(x, device))
    ref = np.stack([x[:, :, a:b].mean(2) for a, b in ((0, 3), (2, 5), (5, 8), (7, 10))], 2)
    _close(_np(ad), ref, "adaptive_avg_pool1d")
    assert all(list(m.state_dict()) == [] for m in (mp, ap))


# ---------------------------------------------------------------- against PyTorch, if present


def _torch_pairs():
    return [
        ("BatchNorm1d", (5,), {}),
        ("BatchNorm2d", (3,), {"affine": False}),
        ("BatchNorm1d", (4,), {"track_running_stats": False, "bias": False}),
        ("LayerNorm", ((3, 4),), {"bias": False}),
        ("GroupNorm", (2, 6), {}),
        ("RMSNorm", (8,), {"eps": 1e-6}),
        ("Embedding", (10, 3), {"padding_idx": 2}),
        ("Dropout", (0.3,), {}),
        ("Dropout2d", (), {}),
        ("Conv1d", (3, 4, 3), {"stride": 2, "bias": False}),
        ("Conv2d", (4, 6, 3), {"padding": "same", "padding_mode": "replicate", "groups": 2}),
        ("ConvTranspose2d", (4, 2, 3), {"stride": 2, "output_padding": 1, "dilation": 2}),
        ("MaxPool1d", (3,), {"stride": 1, "padding": 1}),
        ("MaxPool2d", ((2, 3),), {"ceil_mode": True}),
        ("AvgPool1d", (3,), {"count_include_pad": False}),
        ("AvgPool2d", (2,), {"stride": 1}),
        ("AdaptiveAvgPool1d", (4,), {}),
        ("AdaptiveAvgPool2d", ((3, None),), {}),
        ("LeakyReLU", (0.3, True), {}),
        ("PReLU", (3,), {}),
        ("Softplus", (), {"beta": 3}),
        ("MultiheadAttention", (16, 4), {"kdim": 8, "vdim": 6}),
        ("TransformerEncoderLayer", (16, 4, 32), {"norm_first": True, "activation": "gelu"}),
        ("TransformerDecoderLayer", (16, 4, 32), {"batch_first": True, "bias": False}),
        ("Transformer", (16, 4, 2, 3, 32), {}),
        ("ConvTranspose1d", (4, 6, 3), {"stride": 2, "output_padding": 1, "groups": 2}),
        ("InstanceNorm1d", (4,), {}),
        ("InstanceNorm2d", (3,), {"affine": True, "track_running_stats": True}),
        ("InstanceNorm2d", (3,), {"momentum": None, "bias": False, "affine": True}),
        ("Upsample", (), {"size": (3, 4), "mode": "bilinear", "align_corners": True}),
        ("PixelShuffle", (3,), {}),
        ("PixelUnshuffle", (2,), {}),
        ("ReflectionPad2d", ((1, 0, 2, 1),), {}),
        ("CrossEntropyLoss", (), {"label_smoothing": 0.1}),
    ]


def test_names_and_reprs_match_torch():
    torch = pytest.importorskip("torch")
    for name, args, kwargs in _torch_pairs():
        ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
        assert list(ours.state_dict()) == list(theirs.state_dict()), name
        for k, v in theirs.state_dict().items():
            assert ours.state_dict()[k].shape == tuple(v.shape), (name, k)
        if "Transformer" not in name and name != "MultiheadAttention":
            # (PyTorch's out_proj is a Linear subclass with a longer name.)
            assert repr(ours) == repr(theirs), name


def _from_torch(ours, theirs, device):
    state = {
        k: vkgrad.tensor(v.detach().numpy(), device=device, dtype=ours.state_dict()[k].dtype)
        for k, v in theirs.state_dict().items()
    }
    ours.load_state_dict(state)


def test_transformer_matches_torch(device):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    theirs = torch.nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True).double()
    for p in theirs.parameters():  # non-trivial biases and norms
        torch.nn.init.normal_(p, 0.0, 0.3)
    ours = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True, device=device)
    _from_torch(ours, theirs, device)
    x = _rng(40).standard_normal((2, 7, 16))
    pad = np.zeros((2, 7), bool)
    pad[0, 4:] = True
    xt = torch.tensor(x, requires_grad=True)
    yt = theirs(xt, src_key_padding_mask=torch.tensor(pad))
    ours_x = _t(x, device, grad=True)
    y = ours(ours_x, src_key_padding_mask=vkgrad.tensor(pad, device=device))
    _close(_np(y), yt.detach().numpy(), "encoder layer vs torch", atol=1e-4)
    r = _rng(41).standard_normal(x.shape)
    (yt * torch.tensor(r)).sum().backward()
    (y * _t(r, device)).sum().backward()
    _close(_np(ours_x.grad), xt.grad.numpy(), "input grad vs torch", rtol=1e-3, atol=1e-4)
    tg = dict(theirs.named_parameters())
    for k, p in ours.named_parameters():
        _close(_np(p.grad), tg[k].grad.numpy(), f"{k} grad vs torch", rtol=1e-3, atol=1e-4)


def _vs_torch(ours, theirs, our_args, their_args, device, what):
    """Forward and backward of <out, r>: the output, the grads of every float input that
    requires them and of every parameter, ours vs torch's (float64 torch, f32 ours)."""
    torch = pytest.importorskip("torch")
    y, yt = ours(*our_args[0], **our_args[1]), theirs(*their_args[0], **their_args[1])
    _close(_np(y), yt.detach().numpy(), f"{what} forward", atol=1e-4)
    r = _rng(70).standard_normal(tuple(yt.shape))
    (yt * torch.tensor(r)).sum().backward()
    (y * _t(r, device)).sum().backward()
    for a, b in zip(our_args[0], their_args[0]):
        if getattr(b, "requires_grad", False):
            _close(_np(a.grad), b.grad.numpy(), f"{what} input grad", rtol=1e-3, atol=1e-4)
    tg = dict(theirs.named_parameters())
    for k, p in ours.named_parameters():
        _close(_np(p.grad), tg[k].grad.numpy(), f"{what}: {k} grad", rtol=1e-3, atol=1e-4)


# PyTorch warns when a bool key padding mask meets a float attention mask; both are tested.
@pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask")
def test_transformer_decoder_matches_torch(device):
    torch = pytest.importorskip("torch")
    torch.manual_seed(1)
    layer = torch.nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, norm_first=True)
    theirs = torch.nn.TransformerDecoder(layer, 2, norm=torch.nn.LayerNorm(8)).double()
    for p in theirs.parameters():  # non-trivial biases and norms
        torch.nn.init.normal_(p, 0.0, 0.3)
    ours = nn.TransformerDecoder(
        nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, norm_first=True, device=device),
        2,
        norm=nn.LayerNorm(8, device=device),
    )
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _from_torch(ours, theirs, device)
    rng = _rng(71)
    x, mem = rng.standard_normal((5, 2, 8)), rng.standard_normal((6, 2, 8))  # (T, N, E)
    causal = np.triu(np.ones((5, 5), bool), 1)
    mpad = np.zeros((2, 6), bool)
    mpad[0, 4:] = True
    mmask = rng.standard_normal((5, 6))
    xt, mt = torch.tensor(x, requires_grad=True), torch.tensor(mem, requires_grad=True)
    ox, om = _t(x, device, grad=True), _t(mem, device, grad=True)
    kw = dict(tgt_is_causal=True)
    _vs_torch(
        ours,
        theirs,
        ((ox, om), dict(
            tgt_mask=vkgrad.tensor(causal, device=device),
            memory_mask=_t(mmask, device),
            memory_key_padding_mask=vkgrad.tensor(mpad, device=device),
            **kw,
        )),
        ((xt, mt), dict(
            tgt_mask=torch.tensor(causal),
            memory_mask=torch.tensor(mmask),
            memory_key_padding_mask=torch.tensor(mpad),
            **kw,
        )),
        device,
        "TransformerDecoder",
    )  # fmt: skip


@pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask")
def test_transformer_matches_torch_full(device):
    torch = pytest.importorskip("torch")
    torch.manual_seed(2)
    kw = dict(dropout=0.0, batch_first=True, activation="gelu")
    theirs = torch.nn.Transformer(8, 2, 2, 2, 16, **kw).double()
    for p in theirs.parameters():
        torch.nn.init.normal_(p, 0.0, 0.3)
    ours = nn.Transformer(8, 2, 2, 2, 16, device=device, **kw)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _from_torch(ours, theirs, device)
    rng = _rng(72)
    src, tgt = rng.standard_normal((2, 7, 8)), rng.standard_normal((2, 4, 8))
    spad = np.zeros((2, 7), bool)
    spad[1, 5:] = True
    tpad = np.zeros((2, 4), bool)
    tpad[0, 3] = True
    mask = torch.nn.Transformer.generate_square_subsequent_mask(4, dtype=torch.float64)
    our_mask = nn.Transformer.generate_square_subsequent_mask(4, device=device)
    np.testing.assert_array_equal(_np(our_mask), mask.numpy())
    st, tt = torch.tensor(src, requires_grad=True), torch.tensor(tgt, requires_grad=True)
    os_, ot = _t(src, device, grad=True), _t(tgt, device, grad=True)
    _vs_torch(
        ours,
        theirs,
        ((os_, ot), dict(
            tgt_mask=our_mask,
            src_key_padding_mask=vkgrad.tensor(spad, device=device),
            tgt_key_padding_mask=vkgrad.tensor(tpad, device=device),
            memory_key_padding_mask=vkgrad.tensor(spad, device=device),
        )),
        ((st, tt), dict(
            tgt_mask=mask,
            src_key_padding_mask=torch.tensor(spad),
            tgt_key_padding_mask=torch.tensor(tpad),
            memory_key_padding_mask=torch.tensor(spad),
        )),
        device,
        "Transformer",
    )  # fmt: skip
