"""Recurrent layers (nn.RNN, LSTM, GRU and their cells) and nn.utils.rnn against PyTorch with
the same weights: outputs, final states and every gradient, on cpu and Vulkan, f32 and f16;
state_dict names and shapes, init, inter-layer dropout, packed sequences, capture and the
shape errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import assert_close

import vkgrad
from vkgrad import nn

T, N, I, H = 5, 3, 4, 6  # steps, batch, input features, hidden size

# PyTorch in float64 is the reference. f32: a few roundings per step over 5 steps and 2
# layers stay well inside these bounds (atol is relative to max(1, |values|)).
TOL = {"f32": dict(fwd=(1e-4, 1e-5), bwd=(1e-3, 1e-4))}
# f16 (11-bit significand, unit roundoff 4.9e-4): every op rounds its output, and a step
# chains about ten ops, fed back through the recurrence; the reference sees the same
# f16-rounded inputs and weights, so what is left is the rounding of the intermediate values.
TOL["f16"] = dict(fwd=(2e-2, 1e-2), bwd=(5e-2, 3e-2))

MODES = {
    "RNN": ("RNN", {}),
    "RNN_relu": ("RNN", {"nonlinearity": "relu"}),
    "LSTM": ("LSTM", {}),
    "GRU": ("GRU", {}),
}

# (num_layers, bidirectional, batch_first, with initial states, bias, batched)
CONFIGS = {
    "1layer": (1, False, False, False, True, True),
    "2layer_batch_first_h0": (2, False, True, True, True, True),
    "2layer_bidirectional_h0": (2, True, False, True, True, True),
    "bidirectional_batch_first_nobias": (1, True, True, False, False, True),
    "unbatched_2layer_bidirectional_h0": (2, True, False, True, True, False),
    "unbatched": (1, False, True, False, True, False),
}


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


_NP = {"f32": np.float32, "f16": np.float16}


def _round(a, dt: str) -> np.ndarray:
    """The values dt can hold, as float64 (the reference sees what vkgrad sees)."""
    return np.asarray(a).astype(_NP[dt]).astype(np.float64)


def _np(t) -> np.ndarray:
    return np.asarray(t.numpy(), np.float64)


def _vk(a, device, dt="f32", grad=False):
    return vkgrad.tensor(np.asarray(a), dtype=dt, device=device, requires_grad=grad)


def _pair(torch, cls: str, kwargs: dict, device, dt="f32", seed=0):
    """A float64 torch module and a vkgrad one with the same weights (rounded to dt);
    non-trivial biases (PyTorch's init already is)."""
    torch.manual_seed(seed)
    theirs = getattr(torch.nn, cls)(**kwargs).double()
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(torch.tensor(_round(p.numpy(), dt)))
    ours = getattr(nn, cls)(**kwargs, device=device, dtype=dt)
    ours.load_state_dict({k: v.numpy().astype(_NP[dt]) for k, v in theirs.state_dict().items()})
    return theirs, ours


def _check(got, ref, what, dt, kind):
    rtol, atol = TOL[dt][kind]
    assert_close(got, ref, rtol, atol, what)


def _flat_outputs(out) -> list:
    """output, h_n (and c_n) as a flat list of tensors."""
    y, hx = out
    return [y] + (list(hx) if isinstance(hx, tuple) else [hx])


def _compare(torch, theirs, ours, inputs_np: list, device, dt, what):
    """Run both on the same inputs (the first is the sequence, the rest initial states),
    compare every output, then backpropagate a fixed random weighting of every output and
    compare the gradients of the inputs and of every parameter."""
    t_in = [torch.tensor(a, requires_grad=True) for a in inputs_np]
    v_in = [_vk(a, device, dt, grad=True) for a in inputs_np]

    def call(mod, xs):
        if len(xs) == 1:
            return mod(xs[0])
        return mod(xs[0], tuple(xs[1:]) if len(xs) == 3 else xs[1])

    t_out = _flat_outputs(call(theirs, t_in))
    v_out = _flat_outputs(call(ours, v_in))
    names = ["output", "h_n", "c_n"]
    assert len(t_out) == len(v_out)
    rng = _rng(7)
    t_loss, v_loss = 0.0, 0.0
    for k, (a, b) in enumerate(zip(t_out, v_out)):
        assert tuple(b.shape) == tuple(a.shape), f"{what} {names[k]} shape"
        _check(_np(b), a.detach().numpy(), f"{what} {names[k]}", dt, "fwd")
        r = _round(rng.standard_normal(tuple(a.shape)), dt)
        t_loss = t_loss + (a * torch.tensor(r)).sum()
        v_loss = v_loss + (b * _vk(r, device, dt)).sum()
    t_loss.backward()
    v_loss.backward()
    for k, (a, b) in enumerate(zip(t_in, v_in)):
        assert b.grad is not None, f"{what}: input {k} got no gradient"
        _check(_np(b.grad), a.grad.numpy(), f"{what} grad of input {k}", dt, "bwd")
    t_params = dict(theirs.named_parameters())
    v_params = dict(ours.named_parameters())
    assert list(v_params) == list(t_params)
    for name, p in v_params.items():
        assert p.grad is not None, f"{what}: {name} got no gradient"
        _check(_np(p.grad), t_params[name].grad.numpy(), f"{what} grad of {name}", dt, "bwd")


def _inputs(cls, layers, bidirectional, batch_first, with_h0, batched, dt, hidden=H, proj=0):
    rng = _rng(1)
    shape = ((N, T, I) if batch_first else (T, N, I)) if batched else (T, I)
    xs = [_round(rng.standard_normal(shape), dt)]
    if with_h0:
        lead = layers * (2 if bidirectional else 1)
        batch = (N,) if batched else ()
        xs.append(_round(rng.standard_normal((lead, *batch, proj or hidden)) * 0.5, dt))
        if cls == "LSTM":
            xs.append(_round(rng.standard_normal((lead, *batch, hidden)) * 0.5, dt))
    return xs


# ---------------------------------------------------------------- the layers against torch


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("mode", list(MODES))
def test_layer_matches_torch(torch, device, mode, config):
    cls, extra = MODES[mode]
    layers, bi, bf, with_h0, bias, batched = CONFIGS[config]
    kw = dict(
        input_size=I,
        hidden_size=H,
        num_layers=layers,
        bias=bias,
        batch_first=bf,
        bidirectional=bi,
        **extra,
    )
    theirs, ours = _pair(torch, cls, kw, device)
    xs = _inputs(cls, layers, bi, bf, with_h0, batched, "f32")
    _compare(torch, theirs, ours, xs, device, "f32", f"{mode} {config}")


@pytest.mark.parametrize("mode", list(MODES))
def test_layer_f16_matches_torch(torch, device, mode):
    cls, extra = MODES[mode]
    kw = dict(input_size=I, hidden_size=H, num_layers=2, bidirectional=True, **extra)
    theirs, ours = _pair(torch, cls, kw, device, dt="f16")
    xs = _inputs(cls, 2, True, False, True, True, "f16")
    _compare(torch, theirs, ours, xs, device, "f16", f"{mode} f16")


@pytest.mark.parametrize("batched", [True, False])
def test_lstm_proj_size_matches_torch(torch, device, batched):
    kw = dict(input_size=I, hidden_size=H, num_layers=2, bidirectional=True, proj_size=3)
    theirs, ours = _pair(torch, "LSTM", kw, device)
    xs = _inputs("LSTM", 2, True, False, True, batched, "f32", proj=3)
    _compare(torch, theirs, ours, xs, device, "f32", "LSTM proj_size")


@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("with_hx", [True, False])
@pytest.mark.parametrize("mode", ["RNNCell", "RNNCell_relu", "LSTMCell", "GRUCell"])
def test_cell_matches_torch(torch, device, mode, with_hx, batched):
    cls, extra = ("RNNCell", {"nonlinearity": "relu"}) if mode == "RNNCell_relu" else (mode, {})
    theirs, ours = _pair(torch, cls, dict(input_size=I, hidden_size=H, **extra), device)
    rng = _rng(2)
    lead = (N,) if batched else ()
    xs = [rng.standard_normal((*lead, I))]
    if with_hx:
        xs += [rng.standard_normal((*lead, H)) for _ in range(2 if cls == "LSTMCell" else 1)]
    t_in = [torch.tensor(a, requires_grad=True) for a in xs]
    v_in = [_vk(a, device, grad=True) for a in xs]
    if cls == "LSTMCell":
        t_out = theirs(t_in[0], tuple(t_in[1:]) if with_hx else None)
        v_out = ours(v_in[0], tuple(v_in[1:]) if with_hx else None)
    else:
        t_out = (theirs(*t_in),)
        v_out = (ours(*v_in),)
    rng = _rng(3)
    t_loss = v_loss = 0.0
    for k, (a, b) in enumerate(zip(t_out, v_out)):
        _check(_np(b), a.detach().numpy(), f"{mode} output {k}", "f32", "fwd")
        r = rng.standard_normal(tuple(a.shape))
        t_loss = t_loss + (a * torch.tensor(r)).sum()
        v_loss = v_loss + (b * _vk(r, device)).sum()
    t_loss.backward()
    v_loss.backward()
    for k, (a, b) in enumerate(zip(t_in, v_in)):
        _check(_np(b.grad), a.grad.numpy(), f"{mode} grad of input {k}", "f32", "bwd")
    t_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        _check(_np(p.grad), t_params[name].grad.numpy(), f"{mode} grad of {name}", "f32", "bwd")


@pytest.mark.parametrize("mode", list(MODES))
def test_double_backward_matches_torch(torch, device, mode):
    # A gradient penalty: d/dparams of |d(sum(out * r))/dx|^2 through a 2-layer
    # bidirectional layer, with initial states.
    cls, extra = MODES[mode]
    kw = dict(input_size=I, hidden_size=H, num_layers=2, bidirectional=True, **extra)
    theirs, ours = _pair(torch, cls, kw, device)
    xs = _inputs(cls, 2, True, False, True, True, "f32")
    r = _rng(13).standard_normal((T, N, 2 * H))
    results = []
    for lib, mod, tensor in (
        ("torch", theirs, lambda a: torch.tensor(a, requires_grad=True)),
        ("vkgrad", ours, lambda a: _vk(a, device, grad=True)),
    ):
        ins = [tensor(a) for a in xs]
        hx = tuple(ins[1:]) if cls == "LSTM" else ins[1]
        out = mod(ins[0], hx)[0]
        rt = torch.tensor(r) if lib == "torch" else _vk(r, device)
        auto = torch.autograd if lib == "torch" else vkgrad.autograd
        (gx,) = auto.grad((out * rt).sum(), ins[0], create_graph=True)
        (gx * gx).sum().backward()
        grads = [a.grad for a in ins] + [p.grad for _, p in mod.named_parameters()]
        results.append(
            [None if g is None else np.asarray(g.detach().numpy(), float) for g in grads]
        )
    names = ["x", "h0", "c0"][: len(xs)] + [k for k, _ in ours.named_parameters()]
    for name, a, b in zip(names, *results):
        if b is None:
            # relu's derivative is piecewise constant: vkgrad's relu_backward records no edge
            # to its input (PyTorch's gives a zero gradient), so only relu can leave a
            # parameter without one, and then PyTorch's must be zero.
            assert mode == "RNN_relu" and not np.any(a), f"{mode}: no gradient for {name}"
            continue
        _check(b, a, f"{mode} double backward, grad of {name}", "f32", "bwd")


def test_cell_sequence_equals_layer(device):
    # An LSTMCell stepped by hand over a sequence with an LSTM's weights gives the layer's
    # output: the layer's fused bias and per-sequence projection change nothing.
    lstm = nn.LSTM(I, H, device=device)
    cell = nn.LSTMCell(I, H, device=device)
    cell.load_state_dict({k[:-3]: v for k, v in lstm.state_dict().items()})
    x = _vk(_rng(4).standard_normal((T, N, I)), device)
    out, (h_n, c_n) = lstm(x)
    h = c = None
    for t in range(T):
        h, c = cell(x[t], None if h is None else (h, c))
        assert_close(_np(out[t]), _np(h), 1e-5, 1e-6, f"step {t}")
    assert_close(_np(h_n[0]), _np(h), 1e-5, 1e-6, "h_n")
    assert_close(_np(c_n[0]), _np(c), 1e-5, 1e-6, "c_n")


# ---------------------------------------------------------------- parameters


@pytest.mark.parametrize(
    "cls,kw",
    [
        ("RNN", dict(num_layers=2, bidirectional=True, nonlinearity="relu")),
        ("RNN", dict(bias=False)),
        ("LSTM", dict(num_layers=3, bidirectional=True)),
        ("LSTM", dict(num_layers=2, proj_size=2, bidirectional=True)),
        ("LSTM", dict(num_layers=2, bias=False, proj_size=3)),
        ("GRU", dict(num_layers=2, bidirectional=True, batch_first=True, dropout=0.3)),
        ("RNNCell", dict(bias=False, nonlinearity="relu")),
        ("LSTMCell", {}),
        ("GRUCell", {}),
    ],
)
def test_state_dict_and_repr_match_torch(torch, cls, kw):
    ours = getattr(nn, cls)(I, H, **kw)
    theirs = getattr(torch.nn, cls)(I, H, **kw)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in theirs.state_dict().items()
    ]
    assert [k for k, _ in ours.named_parameters()] == [k for k, _ in theirs.named_parameters()]
    assert repr(ours) == repr(theirs)
    if not cls.endswith("Cell"):
        assert [[tuple(p.shape) for p in ps] for ps in ours.all_weights] == [
            [tuple(p.shape) for p in ps] for ps in theirs.all_weights
        ]


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_state_dict_loads_into_torch(torch, cls):
    # vkgrad -> torch (the other direction is what every comparison above does).
    ours = getattr(nn, cls)(I, H, num_layers=2, bidirectional=True)
    theirs = getattr(torch.nn, cls)(I, H, num_layers=2, bidirectional=True).double()
    theirs.load_state_dict(
        {k: torch.tensor(v.numpy().astype(np.float64)) for k, v in ours.state_dict().items()}
    )
    x = _rng(5).standard_normal((T, N, I))
    assert_close(
        _np(ours(_vk(x, "cpu"))[0]),
        theirs(torch.tensor(x))[0].detach().numpy(),
        1e-4,
        1e-5,
        f"{cls} loaded into torch",
    )


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU", "LSTMCell"])
def test_init_is_uniform_in_inverse_sqrt_hidden(cls):
    hidden = 64
    vkgrad.manual_seed(0)
    m = getattr(nn, cls)(32, hidden)
    bound = 1 / math.sqrt(hidden)
    values = np.concatenate([_np(p).reshape(-1) for p in m.parameters()])
    assert np.all(np.abs(values) <= bound)
    # U(-b, b): the extremes come within 1% of the bounds (tens of thousands of draws), the
    # standard deviation is b / sqrt(3) and the mean 0, to a few percent.
    assert values.max() > 0.99 * bound and values.min() < -0.99 * bound
    assert abs(values.std() / (bound / math.sqrt(3)) - 1) < 0.03
    assert abs(values.mean()) < 0.02 * bound
    # every parameter is drawn, not just the first
    for name, p in m.named_parameters():
        assert np.abs(_np(p)).max() > 0.5 * bound, name


# ---------------------------------------------------------------- dropout between layers


def test_dropout_eval_equals_torch_and_train_drops(torch, device):
    kw = dict(input_size=I, hidden_size=H, num_layers=3, dropout=0.5)
    theirs, ours = _pair(torch, "LSTM", kw, device)
    theirs.eval()
    ours.eval()
    x = _rng(6).standard_normal((T, N, I))
    ref = theirs(torch.tensor(x))[0].detach().numpy()
    y_eval = _np(ours(_vk(x, device))[0])
    assert_close(y_eval, ref, 1e-4, 1e-5, "eval output")
    ours.train()
    xt = _vk(x, device, grad=True)
    y_train = ours(xt)[0]
    assert not np.allclose(_np(y_train), y_eval, atol=1e-3), "train output equals eval"
    y_train.sum().backward()
    assert np.all(np.isfinite(_np(xt.grad)))
    # dropout after the last layer would zero outputs; PyTorch applies it between layers only
    assert np.count_nonzero(_np(y_train) == 0) == 0


@pytest.mark.parametrize("p", [0.25, 0.6])
def test_dropout_drops_a_fraction_p_of_the_inter_layer_units(device, p):
    # Layer 2 passes its input through (W_ih = I, W_hh = 0, no bias, relu) and layer 1's
    # outputs are positive, so layer 2's output shows the dropout mask directly: a fraction
    # p of zeros and the rest scaled by 1 / (1 - p).
    hidden = 64
    rnn = nn.RNN(4, hidden, num_layers=2, nonlinearity="relu", bias=False, dropout=p, device=device)
    rng = _rng(8)
    rnn.load_state_dict(
        {
            "weight_ih_l0": rng.uniform(0.1, 1.0, (hidden, 4)).astype(np.float32),
            "weight_hh_l0": np.zeros((hidden, hidden), np.float32),
            "weight_ih_l1": np.eye(hidden, dtype=np.float32),
            "weight_hh_l1": np.zeros((hidden, hidden), np.float32),
        }
    )
    x = _vk(rng.uniform(0.5, 1.0, (10, 8, 4)), device)
    rnn.eval()
    kept = _np(rnn(x)[0])
    assert np.all(kept > 0)
    rnn.train()
    vkgrad.manual_seed(1)
    y = _np(rnn(x)[0])
    dropped = y == 0
    frac = dropped.mean()
    # 5120 units: the binomial standard deviation of the fraction is under 0.007.
    assert abs(frac - p) < 0.03, frac
    assert_close(y[~dropped], kept[~dropped] / (1 - p), 1e-5, 1e-6, "kept units scaled")
    vkgrad.manual_seed(1)
    assert np.array_equal(_np(rnn(x)[0]), y), "same seed, same mask"


def test_dropout_warning_and_argument_checks():
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        nn.GRU(I, H, dropout=0.5)
    for bad in (-0.1, 1.5, True):
        with pytest.raises(ValueError, match="dropout should be a number in range"):
            nn.LSTM(I, H, num_layers=2, dropout=bad)
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(I, H, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="proj_size argument is only supported for LSTM"):
        nn.RNNBase("GRU", I, H, proj_size=2)
    with pytest.raises(ValueError, match="proj_size .* smaller than hidden_size"):
        nn.LSTM(I, H, proj_size=H)
    with pytest.raises(ValueError, match="hidden_size must be greater than zero"):
        nn.LSTM(I, 0)


# ---------------------------------------------------------------- packed sequences


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("enforce_sorted", [True, False])
@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_packed_sequence_matches_torch(torch, device, cls, enforce_sorted, batch_first):
    from torch.nn.utils.rnn import pack_padded_sequence as tpack
    from torch.nn.utils.rnn import pad_packed_sequence as tpad

    U = nn.utils.rnn
    lengths = [5, 3, 3, 1] if enforce_sorted else [2, 5, 1, 4]
    kw = dict(input_size=I, hidden_size=H, num_layers=2, bidirectional=True)
    kw["batch_first"] = batch_first
    theirs, ours = _pair(torch, cls, kw, device)
    rng = _rng(9)
    b = len(lengths)
    x = _round(rng.standard_normal((b, T, I) if batch_first else (T, b, I)), "f32")
    h0 = _round(rng.standard_normal((4, b, H)) * 0.5, "f32")
    c0 = _round(rng.standard_normal((4, b, H)) * 0.5, "f32")
    xt, h0t, c0t = (torch.tensor(a, requires_grad=True) for a in (x, h0, c0))
    xv, h0v, c0v = (_vk(a, device, grad=True) for a in (x, h0, c0))
    hx_t = (h0t, c0t) if cls == "LSTM" else h0t
    hx_v = (h0v, c0v) if cls == "LSTM" else h0v
    pt = tpack(xt, torch.tensor(lengths), batch_first, enforce_sorted)
    pv = U.pack_padded_sequence(xv, lengths, batch_first, enforce_sorted)
    assert pv.batch_sizes.tolist() == pt.batch_sizes.tolist()
    assert_close(_np(pv.data), pt.data.detach().numpy(), 0, 0, "packed data")
    out_t, st_t = theirs(pt, hx_t)
    out_v, st_v = ours(pv, hx_v)
    assert isinstance(out_v, U.PackedSequence)
    yt, lt = tpad(out_t, batch_first, total_length=T)
    yv, lv = U.pad_packed_sequence(out_v, batch_first, total_length=T)
    assert lv.tolist() == lt.tolist() == lengths
    outs_t = [yt] + (list(st_t) if cls == "LSTM" else [st_t])
    outs_v = [yv] + (list(st_v) if cls == "LSTM" else [st_v])
    rng = _rng(10)
    lt_sum = lv_sum = 0.0
    for k, (a, bv) in enumerate(zip(outs_t, outs_v)):
        _check(_np(bv), a.detach().numpy(), f"packed {cls} output {k}", "f32", "fwd")
        r = rng.standard_normal(tuple(a.shape))
        lt_sum = lt_sum + (a * torch.tensor(r)).sum()
        lv_sum = lv_sum + (bv * _vk(r, device)).sum()
    lt_sum.backward()
    lv_sum.backward()
    ins = [(xt, xv), (h0t, h0v)] + ([(c0t, c0v)] if cls == "LSTM" else [])
    for k, (a, bv) in enumerate(ins):
        _check(_np(bv.grad), a.grad.numpy(), f"packed {cls} grad of input {k}", "f32", "bwd")
    t_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        _check(_np(p.grad), t_params[name].grad.numpy(), f"packed grad of {name}", "f32", "bwd")


def test_pad_and_pack_sequence_helpers_match_torch(torch, device):
    from torch.nn.utils import rnn as TU

    U = nn.utils.rnn
    rng = _rng(11)
    seqs = [rng.standard_normal((n, 2)) for n in (3, 5, 1)]
    ts = [torch.tensor(s) for s in seqs]
    vs = [_vk(s, device, grad=True) for s in seqs]
    for bf in (False, True):
        for side in ("right", "left"):
            ref = TU.pad_sequence(ts, batch_first=bf, padding_value=-1.0, padding_side=side)
            got = U.pad_sequence(vs, batch_first=bf, padding_value=-1.0, padding_side=side)
            assert_close(_np(got), ref.numpy(), 1e-6, 1e-7, f"pad_sequence bf={bf} {side}")
    packed_t = TU.pack_sequence(ts, enforce_sorted=False)
    packed_v = U.pack_sequence(vs, enforce_sorted=False)
    assert_close(_np(packed_v.data), packed_t.data.numpy(), 1e-6, 1e-7, "pack_sequence data")
    assert packed_v.sorted_indices.tolist() == packed_t.sorted_indices.tolist()
    assert packed_v.unsorted_indices.tolist() == packed_t.unsorted_indices.tolist()
    for a, b in zip(U.unpack_sequence(packed_v), seqs):
        assert_close(_np(a), b, 1e-6, 1e-7, "unpack_sequence")
    padded, lengths = U.pad_packed_sequence(packed_v, padding_value=7.0)
    assert lengths.tolist() == [3, 5, 1]
    assert np.all(_np(padded)[1:, 2] == 7.0)
    for a, b in zip(U.unpad_sequence(padded, lengths), seqs):
        assert_close(_np(a), b, 1e-6, 1e-7, "unpad_sequence")
    # gradients flow back through packing and padding to each sequence
    (packed_v.data * 2.0).sum().backward()
    for v in vs:
        assert_close(_np(v.grad), np.full(tuple(v.shape), 2.0), 0, 0, "grad through pack")


def test_packing_errors():
    U = nn.utils.rnn
    x = vkgrad.zeros(T, 3, I)
    with pytest.raises(ValueError, match="sorted in decreasing order"):
        U.pack_padded_sequence(x, [2, 5, 1])
    with pytest.raises(ValueError, match="greater than 0"):
        U.pack_padded_sequence(x, [5, 0, 1])
    with pytest.raises(ValueError, match="expected 3 lengths"):
        U.pack_padded_sequence(x, [5, 2])
    with pytest.raises(ValueError, match="longer than the 5 steps"):
        U.pack_padded_sequence(x, [6, 2, 1])
    packed = U.pack_padded_sequence(x, [5, 2, 1])
    with pytest.raises(ValueError, match="total_length=3"):
        U.pad_packed_sequence(packed, total_length=3)
    with pytest.raises(ValueError, match=r"LSTM: expected packed data of shape \(\*, 7\)"):
        nn.LSTM(7, H)(packed)


# ---------------------------------------------------------------- capture


def _lm_steps(device, captured: bool, dropout: float, steps: int = 5) -> tuple:
    """Losses, final hidden states and LSTM parameters of ``steps`` training steps of a
    small LSTM language model (SGD with clipping, states carried from batch to batch),
    eager or through vkgrad.capture, from the same seed."""
    vkgrad.manual_seed(3)
    emb = nn.Embedding(20, 8, device=device)
    lstm = nn.LSTM(8, H, num_layers=2, dropout=dropout, device=device)
    dec = nn.Linear(H, 20, device=device)
    params = list(emb.parameters()) + list(lstm.parameters()) + list(dec.parameters())
    opt = vkgrad.optim.SGD(params, lr=0.5)

    def step(x, y, h0, c0):
        opt.zero_grad()
        out, (h, c) = lstm(emb(x), (h0, c0))
        loss = nn.functional.cross_entropy(dec(out).reshape(-1, 20), y.reshape(-1))
        loss.backward()
        nn.utils.clip_grad_norm_(params, 0.25)
        opt.step()
        return loss, h, c

    fn = vkgrad.capture(step) if captured else step
    rng = _rng(12)
    h = vkgrad.zeros(2, N, H, device=device)
    c = vkgrad.zeros(2, N, H, device=device)
    losses, states = [], []
    for _ in range(steps):
        x = vkgrad.tensor(rng.integers(0, 20, (T, N)).astype(np.int32), device=device)
        y = vkgrad.tensor(rng.integers(0, 20, (T, N)).astype(np.int32), device=device)
        loss, h, c = fn(x, y, h, c)
        # truncated backpropagation through time: the next batch starts from the states
        # (cloned: a replay writes its outputs into the same tensors)
        h, c = h.detach().clone(), c.detach().clone()
        losses.append(loss.item())
        states.append(_np(h))
    return losses, states, {k: _np(p) for k, p in lstm.named_parameters()}, fn


@pytest.mark.parametrize("dropout", [0.0, 0.4])
def test_captured_lstm_training_step_replays_like_eager(device, dropout):
    losses_e, states_e, params_e, _ = _lm_steps(device, False, dropout)
    losses_c, states_c, params_c, fn = _lm_steps(device, True, dropout)
    assert fn.replays == 3  # call 1 warms up, call 2 records, calls 3-5 replay
    for i in range(len(losses_e)):
        assert_close(losses_c[i], losses_e[i], 1e-5, 1e-6, f"loss, step {i}")
        assert_close(states_c[i], states_e[i], 1e-5, 1e-6, f"h, step {i}")
    for name, p in params_c.items():
        assert_close(p, params_e[name], 1e-5, 1e-6, name)
    if dropout:
        # the replays drew new masks: the same steps without dropout train differently
        losses_0, _, _, _ = _lm_steps(device, False, 0.0)
        assert not np.allclose(losses_0[2:], losses_c[2:], rtol=1e-4)


def test_captured_packed_step_replays_like_eager(device):
    # Packing inside the step, with the lengths as a (hashable) argument: one recording per
    # tuple of lengths.
    from vkgrad.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    steps = []
    for _ in range(2):
        vkgrad.manual_seed(5)
        gru = nn.GRU(I, H, bidirectional=True, device=device)
        opt = vkgrad.optim.SGD(gru.parameters(), lr=0.1)

        def step(x, lengths, gru=gru, opt=opt):
            opt.zero_grad()
            out, h = gru(pack_padded_sequence(x, lengths, enforce_sorted=False))
            y, _ = pad_packed_sequence(out)
            loss = (y * y).sum() + (h * h).sum()
            loss.backward()
            opt.step()
            return loss

        steps.append(step)
    eager, captured = steps[0], vkgrad.capture(steps[1])
    rng = _rng(14)
    for i in range(6):
        x = _vk(rng.standard_normal((T, 3, I)), device)
        lengths = (5, 2, 4) if i % 2 else (3, 5, 1)
        assert_close(captured(x, lengths).item(), eager(x, lengths).item(), 1e-5, 1e-6, f"step {i}")
    # call 0 warms up, calls 1 and 2 record one tuple of lengths each, calls 3-5 replay
    assert captured.replays == 3


# ---------------------------------------------------------------- errors


def test_layer_shape_errors_name_the_layer_and_shapes():
    lstm = nn.LSTM(I, H, num_layers=2)
    with pytest.raises(ValueError, match=r"LSTM: expected input to be 2-D .* got 4-D input of "):
        lstm(vkgrad.zeros(T, N, I, 1))
    with pytest.raises(
        ValueError,
        match=r"LSTM: input.size\(-1\) must be equal to input_size. "
        r"Expected 4, got 5 \(input shape \(5, 3, 5\)\)",
    ):
        lstm(vkgrad.zeros(T, N, 5))
    h0, c0 = vkgrad.zeros(2, N, H), vkgrad.zeros(2, N, H)
    with pytest.raises(
        ValueError,
        match=r"LSTM: expected h0 of shape \(2, 3, 6\) .* got "
        r"\(1, 3, 6\)",
    ):
        lstm(vkgrad.zeros(T, N, I), (vkgrad.zeros(1, N, H), c0))
    with pytest.raises(
        ValueError,
        match=r"LSTM: expected c0 of shape \(2, 3, 6\) .* got "
        r"\(2, 4, 6\)",
    ):
        lstm(vkgrad.zeros(T, N, I), (h0, vkgrad.zeros(2, 4, H)))
    with pytest.raises(ValueError, match=r"LSTM: expected h0 of shape \(2, 6\) .* unbatched"):
        lstm(vkgrad.zeros(T, I), (h0, c0))
    with pytest.raises(TypeError, match=r"LSTM: hx must be a tuple \(h0, c0\)"):
        lstm(vkgrad.zeros(T, N, I), h0)
    gru = nn.GRU(I, H, batch_first=True, bidirectional=True)
    with pytest.raises(ValueError, match=r"GRU: expected h0 of shape \(2, 3, 6\)"):
        gru(vkgrad.zeros(N, T, I), vkgrad.zeros(1, N, H))
    with pytest.raises(ValueError, match=r"GRU: .*\(batch, seq_len, 4\) \(batch_first=True\)"):
        gru(vkgrad.zeros(I))
    with pytest.raises(ValueError, match="RNN: expected a sequence of at least one step"):
        nn.RNN(I, H)(vkgrad.zeros(0, N, I))


def test_cell_shape_errors_name_the_cell_and_shapes():
    with pytest.raises(
        ValueError,
        match=r"LSTMCell: expected input of shape \(batch, 4\) or "
        r"\(4,\) .* got \(3, 5\)",
    ):
        nn.LSTMCell(I, H)(vkgrad.zeros(N, 5))
    with pytest.raises(ValueError, match=r"GRUCell: expected hx of shape \(3, 6\) .* got \(4, 6\)"):
        nn.GRUCell(I, H)(vkgrad.zeros(N, I), vkgrad.zeros(4, H))
    with pytest.raises(ValueError, match=r"RNNCell: expected hx of shape \(6,\) .* got \(1, 6\)"):
        nn.RNNCell(I, H)(vkgrad.zeros(I), vkgrad.zeros(1, H))
    with pytest.raises(ValueError, match=r"LSTMCell: expected c of shape \(3, 6\)"):
        nn.LSTMCell(I, H)(vkgrad.zeros(N, I), (vkgrad.zeros(N, H), vkgrad.zeros(N, 2)))
    with pytest.raises(ValueError, match=r"RNNCell: expected input .* got \(2, 3, 4\)"):
        nn.RNNCell(I, H)(vkgrad.zeros(2, N, I))
