"""Recurrent layers: RNN, LSTM, GRU and their cells (``torch.nn``'s names, parameters, gate
order, initialisation, inputs and outputs).

Built from existing ops: each layer and direction projects the whole input sequence with
one matmul (the input-to-hidden weights and biases), then loops over time for the
hidden-to-hidden matmul and the gates. Over a padded sequence the loop is one autograd node
(:class:`_Recurrence`) whose forward and backward are written with ops; packed sequences
and LSTM projections (``proj_size``) run it op by op (:func:`_scan`). Either way only
existing kernels run, so f16, both backends, double backward and ``vkgrad.capture`` work as
for any model.

Equations (PyTorch's; ``W_i*``/``b_i*`` are rows of ``weight_ih``/``bias_ih``, ``W_h*``/
``b_h*`` of ``weight_hh``/``bias_hh``, gate blocks in this order):

- RNN: ``h' = tanh(W_ih x + b_ih + W_hh h + b_hh)`` (or relu);
- LSTM (i, f, g, o): ``c' = f * c + i * g``, ``h' = o * tanh(c')`` with i, f, o sigmoids
  and g a tanh, and ``h' = W_hr h'`` when ``proj_size > 0``;
- GRU (r, z, n): ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``,
  ``h' = (1 - z) * n + z * h``.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

from .. import functional as _F
from ..autograd import Function, apply, is_grad_enabled
from ..autograd import grad as _grad
from ..library.shape import view
from ..tensor import Tensor, zeros
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter
from .utils.rnn import PackedSequence, _packed, host_layout

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _shape(t: Tensor) -> tuple:
    return tuple(t.shape)


# ---------------------------------------------------------------- one step of each cell
#
# ``xp`` is the step's input projection, with the biases that can be folded into it
# (``b_ih + b_hh`` for RNN and LSTM, ``b_ih`` for GRU, whose ``b_hn`` sits inside the reset
# gate's product). A zero initial state is a tensor of zeros, not a skipped matmul, so that
# ``weight_hh`` gets a (zero) gradient from that step as in PyTorch.


def _rnn_step(xp: Tensor, h: Tensor, w_hh: Tensor, relu: bool) -> Tensor:
    pre = xp + F.linear(h, w_hh)
    return _F.relu(pre) if relu else _F.tanh(pre)


def _lstm_step(xp, h, c, w_hh, w_hr) -> tuple:
    gates = xp + F.linear(h, w_hh)
    i, f, g, o = _F.chunk(gates, 4, -1)
    i, f, g, o = _F.sigmoid(i), _F.sigmoid(f), _F.tanh(g), _F.sigmoid(o)
    c = f * c + i * g
    h = o * _F.tanh(c)
    if w_hr is not None:
        h = F.linear(h, w_hr)
    return h, c


def _gru_step(xp, h, w_hh, b_hh) -> Tensor:
    hp = F.linear(h, w_hh, b_hh)
    xr, xz, xn = _F.chunk(xp, 3, -1)
    hr, hz, hn = _F.chunk(hp, 3, -1)
    r = _F.sigmoid(xr + hr)
    z = _F.sigmoid(xz + hz)
    n = _F.tanh(xn + r * hn)
    return n + z * (h - n)


def _step(mode: str, xp, state: tuple, w_hh, b_hh, w_hr) -> tuple:
    """One time step of any mode: (output, new state); ``state`` is (h,) or (h, c)."""
    if mode == "LSTM":
        h, c = _lstm_step(xp, state[0], state[1], w_hh, w_hr)
        return h, (h, c)
    if mode == "GRU":
        h = _gru_step(xp, state[0], w_hh, b_hh)
    else:
        h = _rnn_step(xp, state[0], w_hh, mode == "RNN_RELU")
    return h, (h,)


def _split_biases(mode: str, b_ih: Tensor | None, b_hh: Tensor | None) -> tuple:
    """(bias of the input projection, bias left to the hidden step). RNN and LSTM add both
    biases to the pre-activation, so both fold into the projection; GRU's ``b_hn`` sits
    inside the reset gate's product and stays with the hidden step."""
    if mode == "GRU" or b_ih is None:
        return b_ih, b_hh
    return b_ih + b_hh, None


def _scan(mode, xp, time_dim, h, c, w_hh, b_hh, w_hr, reverse) -> tuple:
    """One layer and direction over the input projection ``xp`` of a padded sequence, one
    autograd op at a time: (output, h_n, c_n)."""
    xs = _F.unbind(xp, time_dim)
    state = (h, c) if mode == "LSTM" else (h,)
    ys = [None] * len(xs)
    for t in reversed(range(len(xs))) if reverse else range(len(xs)):
        ys[t], state = _step(mode, xs[t], state, w_hh, b_hh, w_hr)
    return _F.stack(ys, time_dim), state[0], (state[1] if len(state) > 1 else None)


# ---------------------------------------------------------------- the recurrence as one node


def _mm(a: Tensor, w: Tensor, tb: int, ta: int = 0) -> Tensor:
    """``a @ w.T`` (tb=1), ``a @ w`` (tb=0) or ``a.T @ w`` (ta=1) of 2-D tensors, as one
    matmul kernel with the transposes folded in."""
    rows = a.shape[1] if ta else a.shape[0]
    cols = w.shape[0] if tb else w.shape[1]
    out = apply("matmul", view(a, (1, *a.shape)), view(w, (1, *w.shape)), ta=ta, tb=tb)
    return view(out, (rows, cols))


def _cols(x: Tensor, start: int, n: int) -> Tensor:
    """Columns ``start:start + n`` of a 2-D tensor (one slice kernel)."""
    return apply("slice", x, starts=(0, start), steps=(1, 1), out_shape=(x.shape[0], n))


class _Recurrence(Function):
    """One layer and direction of an RNN, LSTM or GRU over a padded sequence, as one graph
    node: ``(xp, h0, c0, w_hh, b_hh) -> (output, h_n[, c_n])`` where ``xp`` is the input
    projection of every step, (T, B, G) or (B, T, G) along ``time_dim``.

    The same arithmetic as the per-step ops of :func:`_scan`, written out: forward runs the
    kernels without recording a graph and keeps each step's gates, and backward walks the
    steps back with the gates' derivatives, collecting the gradient of every step's hidden
    projection so that ``weight_hh``'s gradient is one matmul over all steps instead of one
    small matmul and one accumulation per step. About half the kernels and none of the
    per-op graph bookkeeping of the op-by-op loop.

    Double backward (``create_graph=True``) recomputes the step with :func:`_scan`'s
    differentiable ops and differentiates that.
    """

    @staticmethod
    def forward(ctx, xp, h, c, w_hh, b_hh, mode, time_dim, reverse):
        h0, c0 = h, c
        xs = _F.unbind(xp, time_dim)
        steps = len(xs)
        hid = w_hh.shape[1]
        ys = [None] * steps
        saved = []  # per step, in processing order
        for t in reversed(range(steps)) if reverse else range(steps):
            x = xs[t]
            if mode == "LSTM":
                gates = apply("add", _mm(h, w_hh, 1), x)
                # One sigmoid over all four blocks (g's is unused) costs fewer kernels than
                # slicing first; the tanh needs only g's block.
                sg = apply("sigmoid", gates)
                i, f, o = _cols(sg, 0, hid), _cols(sg, hid, hid), _cols(sg, 3 * hid, hid)
                g = apply("tanh", _cols(gates, 2 * hid, hid))
                c_prev = c
                c = apply("add", apply("mul", f, c), apply("mul", i, g))
                tc = apply("tanh", c)
                saved += [h, c_prev, i, f, g, o, tc]
                h = apply("mul", o, tc)
            elif mode == "GRU":
                hp = _mm(h, w_hh, 1)
                if b_hh is not None:
                    hp = apply("add", hp, b_hh)
                rz = apply("sigmoid", apply("add", _cols(x, 0, 2 * hid), _cols(hp, 0, 2 * hid)))
                r, z = _cols(rz, 0, hid), _cols(rz, hid, hid)
                hn = _cols(hp, 2 * hid, hid)
                n = apply("tanh", apply("add", _cols(x, 2 * hid, hid), apply("mul", r, hn)))
                saved += [h, r, z, n, hn]
                h = apply("add", n, apply("mul", z, apply("sub", h, n)))
            else:
                pre = apply("add", _mm(h, w_hh, 1), x)
                saved.append(h)
                h = apply("relu" if mode == "RNN_RELU" else "tanh", pre)
                saved.append(h)
            ys[t] = h
        ctx.save_for_backward(xp, h0, c0, w_hh, b_hh, *saved)
        ctx.inputs = (mode, time_dim, reverse)
        y = _F.stack(ys, time_dim)
        return (y, h, c) if mode == "LSTM" else (y, h)

    @staticmethod
    def backward(ctx, gy, gh, gc=None):
        mode, time_dim, reverse = ctx.inputs
        xp, h0, c0, w_hh, b_hh, *saved = ctx.saved_tensors
        if is_grad_enabled():
            return _Recurrence._double(ctx, xp, h0, c0, w_hh, b_hh, gy, gh, gc)
        need_x, need_h, need_c, need_w, need_b = ctx.needs_input_grad[:5]
        gys = _F.unbind(gy, time_dim)
        steps = len(gys)
        hid = w_hh.shape[1]
        order = list(reversed(range(steps))) if reverse else list(range(steps))
        per = {"LSTM": 7, "GRU": 5}.get(mode, 2)
        dxs = [None] * steps  # gradient of each step's input projection, in time order
        dhs = [None] * steps  # gradient of each step's hidden projection (GRU: differs)
        hs = [None] * steps  # each step's previous hidden state
        dh, dc = gh, gc
        for k in reversed(range(steps)):
            t = order[k]
            s = saved[k * per : (k + 1) * per]
            dh = apply("add", dh, gys[t])
            hs[t] = s[0]
            if mode == "LSTM":
                _, c_prev, i, f, g, o, tc = s
                d_o = apply("mul", dh, tc)
                dc = apply("add", apply("tanh_backward", tc, apply("mul", dh, o)), dc)
                di, dg = apply("mul", dc, g), apply("mul", dc, i)
                df = apply("mul", dc, c_prev)
                dc = apply("mul", dc, f)
                dgates = apply(
                    "cat",
                    apply("sigmoid_backward", i, di),
                    apply("sigmoid_backward", f, df),
                    apply("tanh_backward", g, dg),
                    apply("sigmoid_backward", o, d_o),
                    dim=1,
                )
                dxs[t] = dhs[t] = dgates
                dh = _mm(dgates, w_hh, 0)
            elif mode == "GRU":
                h_prev, r, z, n, hn = s
                dhz = apply("mul", dh, z)
                dn = apply("tanh_backward", n, apply("sub", dh, dhz))
                dz = apply("sigmoid_backward", z, apply("mul", dh, apply("sub", h_prev, n)))
                dr = apply("sigmoid_backward", r, apply("mul", dn, hn))
                dxs[t] = apply("cat", dr, dz, dn, dim=1)
                dhs[t] = apply("cat", dr, dz, apply("mul", dn, r), dim=1)
                dh = apply("add", _mm(dhs[t], w_hh, 0), dhz)
            else:
                h_prev, h_new = s
                kernel = "relu_backward" if mode == "RNN_RELU" else "tanh_backward"
                dxs[t] = dhs[t] = apply(kernel, h_new, dh)
                dh = _mm(dxs[t], w_hh, 0)
        g_x = _F.stack(dxs, time_dim) if need_x else None
        g_w = g_b = None
        if need_w or need_b:
            d_all = _F.stack(dhs, time_dim) if mode == "GRU" or not need_x else g_x
            rows = d_all.numel() // d_all.shape[-1]
            d_all = view(d_all, (rows, d_all.shape[-1]))
            if need_w:
                h_all = _F.stack(hs, time_dim)
                g_w = _mm(d_all, view(h_all, (rows, hid)), 0, ta=1)
            if need_b:
                g_b = _F.sum(d_all, 0)
        # (nothing for the non-tensor arguments mode, time_dim and reverse)
        return g_x, dh if need_h else None, dc if need_c else None, g_w, g_b, None, None, None

    @staticmethod
    def _double(ctx, xp, h0, c0, w_hh, b_hh, gy, gh, gc) -> tuple:
        """Gradients that are themselves differentiable: rerun the steps with recorded ops
        from the saved inputs and differentiate that (backward is running with
        ``create_graph``, so grad mode is on here)."""
        mode, time_dim, reverse = ctx.inputs
        y, h, c = _scan(mode, xp, time_dim, h0, c0, w_hh, b_hh, None, reverse)
        outs, gouts = [y, h], [gy, gh]
        if mode == "LSTM":
            outs.append(c)
            gouts.append(gc)
        inputs = (xp, h0, c0, w_hh, b_hh)
        wanted = [k for k, need in enumerate(ctx.needs_input_grad[:5]) if need]
        # The inner pass also walks the graph above the inputs (it cannot stop at them) and
        # throws those gradients away; it releases nothing (create_graph retains the graph).
        found = _grad(
            outs,
            [inputs[k] for k in wanted],
            gouts,
            create_graph=True,
            allow_unused=True,
        )
        res = [None] * 8
        for k, g in zip(wanted, found):
            res[k] = g
        return tuple(res)


# ---------------------------------------------------------------- the multi-layer modules


class _Recurrent(Module):
    """What the layers and the cells share: their parameters, made under PyTorch's names in
    PyTorch's order, and PyTorch's init (every parameter ~ U(-1/sqrt(hidden_size),
    1/sqrt(hidden_size)))."""

    def _add_weights(
        self, sfx: str, gate: int, fan_in: int, h_in: int, bias: bool, proj_size: int, kw: dict
    ) -> tuple:
        """Registers ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh`` and ``weight_hr``
        (each followed by ``sfx``; the biases only with ``bias``, ``weight_hr`` only with a
        projection) as zeros for :meth:`reset_parameters` to fill; returns the five names,
        None for those left out. ``gate`` is the gate count times hidden_size and ``h_in``
        the size of the hidden state fed back."""
        shapes = {
            "weight_ih": (gate, fan_in),
            "weight_hh": (gate, h_in),
            "bias_ih": (gate,) if bias else None,
            "bias_hh": (gate,) if bias else None,
            "weight_hr": (proj_size, self.hidden_size) if proj_size else None,
        }
        names = []
        for base, shape in shapes.items():
            if shape is None:
                names.append(None)
                continue
            self.register_parameter(base + sfx, Parameter(zeros(*shape, **kw)))
            names.append(base + sfx)
        return tuple(names)

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0.0
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)


class RNNBase(_Recurrent):
    """The common part of RNN, LSTM and GRU: parameters, checks and the loop over layers,
    directions and time. ``mode`` is "RNN_TANH", "RNN_RELU", "LSTM" or "GRU"."""

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = "RNN" if mode.startswith("RNN") else mode
        if mode not in _GATES:
            raise ValueError(f"Unrecognized RNN mode: {mode}")
        if (
            not isinstance(dropout, numbers.Number)
            or isinstance(dropout, bool)
            or not 0 <= dropout <= 1
        ):
            raise ValueError(
                f"{name}: dropout should be a number in range [0, 1] representing the "
                f"probability of an element being zeroed, got {dropout!r}"
            )
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero "
                f"dropout expects num_layers greater than 1, but got dropout={dropout} and "
                f"num_layers={num_layers}",
                stacklevel=3,
            )
        for what, v in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(v, int) or isinstance(v, bool):
                raise TypeError(f"{name}: {what} should be of type int, got {type(v).__name__}")
        if hidden_size <= 0:
            raise ValueError(f"{name}: hidden_size must be greater than zero, got {hidden_size}")
        if not isinstance(num_layers, int) or isinstance(num_layers, bool) or num_layers <= 0:
            raise ValueError(f"{name}: num_layers must be greater than zero, got {num_layers}")
        if proj_size < 0:
            raise ValueError(
                f"{name}: proj_size should be a positive integer or zero to disable "
                f"projections, got {proj_size}"
            )
        if proj_size >= hidden_size:
            raise ValueError(
                f"{name}: proj_size ({proj_size}) has to be smaller than hidden_size "
                f"({hidden_size})"
            )
        if proj_size and mode != "LSTM":
            raise ValueError(f"{name}: proj_size argument is only supported for LSTM, not {name}")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        directions = 2 if bidirectional else 1
        gate = _GATES[mode] * hidden_size
        out = proj_size or hidden_size
        kw = dict(device=device, dtype=dtype)
        # Registration order is PyTorch's (_flat_weights_names), so state_dict keys line up.
        self._flat_weights_names: list = []
        self._cell_names: list = []  # per (layer, direction): names of w_ih, w_hh, b_ih, b_hh, w_hr
        for layer in range(num_layers):
            for d in range(directions):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                fan_in = input_size if layer == 0 else out * directions
                names = self._add_weights(sfx, gate, fan_in, out, bias, proj_size, kw)
                self._flat_weights_names += [n for n in names if n is not None]
                self._cell_names.append(names)
        self.reset_parameters()

    def flatten_parameters(self) -> None:
        """Accepted for PyTorch compatibility (cuDNN's weight buffer); nothing to do here."""

    @property
    def _flat_weights(self) -> list:
        return [getattr(self, n) for n in self._flat_weights_names]

    @property
    def all_weights(self) -> list:
        """The parameters of each layer and direction, as lists in PyTorch's order."""
        return [[getattr(self, n) for n in names if n is not None] for names in self._cell_names]

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    # ------------------------------------------------------------ forward

    def _name(self) -> str:
        return type(self).__name__

    def forward(self, input, hx=None) -> tuple:
        name = self._name()
        lstm = self.mode == "LSTM"
        directions = 2 if self.bidirectional else 1
        h_out = self.proj_size or self.hidden_size
        packed = isinstance(input, PackedSequence)
        if packed:
            x = input.data
            sizes, order = host_layout(input)
            sizes = [int(s) for s in sizes]
            batch = sizes[0]
            if x.ndim != 2 or x.shape[-1] != self.input_size:
                raise ValueError(
                    f"{name}: expected packed data of shape (*, {self.input_size}) "
                    f"(input_size={self.input_size}), got {_shape(x)}"
                )
            batched = True
        else:
            if not isinstance(input, Tensor):
                raise TypeError(
                    f"{name}: input must be a Tensor or a PackedSequence, got "
                    f"{type(input).__name__}"
                )
            x = input
            if x.ndim not in (2, 3):
                raise ValueError(
                    f"{name}: expected input to be 2-D (seq_len, {self.input_size}) unbatched or "
                    f"3-D {self._layout(self.input_size)}, got {x.ndim}-D input of shape "
                    f"{_shape(x)}"
                )
            if x.shape[-1] != self.input_size:
                raise ValueError(
                    f"{name}: input.size(-1) must be equal to input_size. Expected "
                    f"{self.input_size}, got {x.shape[-1]} (input shape {_shape(x)})"
                )
            batched = x.ndim == 3
            if not batched:
                x = _F.unsqueeze(x, 1)  # (T, 1, I): time-major
            time_dim = 1 if batched and self.batch_first else 0
            steps, batch = x.shape[time_dim], x.shape[1 - time_dim]
            if steps == 0:
                raise ValueError(
                    f"{name}: expected a sequence of at least one step, got input of shape "
                    f"{_shape(input)}"
                )
            sizes, order = None, None
        h0, c0 = self._initial_states(hx, lstm, batched, batch, directions, h_out)
        if order is not None:
            # Packed batches run longest first; the states follow the sorted order.
            h0 = h0 if h0 is None else _F.index_select(h0, 1, input.sorted_indices)
            c0 = c0 if c0 is None else _F.index_select(c0, 1, input.sorted_indices)

        h_n, c_n = [], []
        layer_in = x
        for layer in range(self.num_layers):
            outs = []
            for d in range(directions):
                k = layer * directions + d
                if h0 is None:
                    hk = zeros(batch, h_out, dtype=x.dtype, device=x.device)
                    ck = (
                        zeros(batch, self.hidden_size, dtype=x.dtype, device=x.device)
                        if lstm
                        else None
                    )
                else:
                    hk = _F.select(h0, 0, k)
                    ck = None if c0 is None else _F.select(c0, 0, k)
                if packed:
                    y, h, c = self._run_packed(k, layer_in, sizes, hk, ck, bool(d))
                else:
                    y, h, c = self._run_padded(k, layer_in, time_dim, hk, ck, bool(d))
                outs.append(y)
                h_n.append(h)
                c_n.append(c)
            layer_in = outs[0] if directions == 1 else _F.cat(outs, -1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_in = F.dropout(layer_in, self.dropout, True)
        h_n = _F.stack(h_n, 0)
        c_n = _F.stack(c_n, 0) if lstm else None
        if order is not None:
            h_n = _F.index_select(h_n, 1, input.unsorted_indices)
            c_n = c_n if c_n is None else _F.index_select(c_n, 1, input.unsorted_indices)
        if packed:
            output = _packed(
                layer_in,
                input.batch_sizes,
                input.sorted_indices,
                input.unsorted_indices,
                input._host,
            )
        elif batched:
            output = layer_in
        else:
            output = _F.squeeze(layer_in, 1)
            h_n = _F.squeeze(h_n, 1)
            c_n = c_n if c_n is None else _F.squeeze(c_n, 1)
        return output, ((h_n, c_n) if lstm else h_n)

    def _layout(self, size: int) -> str:
        if self.batch_first:
            return f"(batch, seq_len, {size}) (batch_first=True)"
        return f"(seq_len, batch, {size})"

    def _initial_states(self, hx, lstm, batched, batch, directions, h_out) -> tuple:
        """h0 and c0 as (layers * directions, batch, size) tensors (None: zeros)."""
        name = self._name()
        if hx is None:
            return None, None
        if lstm:
            if not (isinstance(hx, (tuple, list)) and len(hx) == 2):
                raise TypeError(f"{name}: hx must be a tuple (h0, c0), got {type(hx).__name__}")
            states = [("h0", hx[0], h_out), ("c0", hx[1], self.hidden_size)]
        else:
            if not isinstance(hx, Tensor):
                raise TypeError(f"{name}: hx must be a Tensor, got {type(hx).__name__}")
            states = [("h0", hx, h_out)]
        lead = self.num_layers * directions
        out = []
        for what, t, size in states:
            want = (lead, batch, size) if batched else (lead, size)
            if not isinstance(t, Tensor) or _shape(t) != want:
                got = _shape(t) if isinstance(t, Tensor) else type(t).__name__
                how = "batched" if batched else "unbatched 2-D"
                dims = "num_layers * num_directions, " + ("batch, " if batched else "")
                dims += "proj_size" if size != self.hidden_size else "hidden_size"
                raise ValueError(
                    f"{name}: expected {what} of shape {want} ({dims}) for {how} input, got {got}"
                )
            out.append(t if batched else _F.unsqueeze(t, 1))
        return out[0], (out[1] if lstm else None)

    def _weights(self, k: int) -> tuple:
        """(w_ih, bias of the input projection, w_hh, bias of the hidden one, w_hr)."""
        w_ih, w_hh, b_ih, b_hh, w_hr = (
            None if n is None else getattr(self, n) for n in self._cell_names[k]
        )
        b_x, b_h = _split_biases(self.mode, b_ih, b_hh)
        return w_ih, b_x, w_hh, b_h, w_hr

    def _step(self, xp, state, w_hh, b_hh, w_hr) -> tuple:
        return _step(self.mode, xp, state, w_hh, b_hh, w_hr)

    def _run_padded(self, k, x, time_dim, h, c, reverse) -> tuple:
        """One layer and direction over a padded (T, B, F) or (B, T, F) sequence."""
        w_ih, b_x, w_hh, b_hh, w_hr = self._weights(k)
        xp = F.linear(x, w_ih, b_x)
        if w_hr is None:
            out = _Recurrence.apply(xp, h, c, w_hh, b_hh, self.mode, time_dim, reverse)
            return out if len(out) == 3 else (*out, None)
        return _scan(self.mode, xp, time_dim, h, c, w_hh, b_hh, w_hr, reverse)

    def _run_packed(self, k, data, sizes, h, c, reverse) -> tuple:
        """One layer and direction over packed steps: step t runs on the first sizes[t]
        rows (the sequences that are that long), as PyTorch's packed kernels do."""
        w_ih, b_x, w_hh, b_hh, w_hr = self._weights(k)
        xs = _F.split(F.linear(data, w_ih, b_x), sizes, 0)
        init = (h, c) if self.mode == "LSTM" else (h,)
        ys = [None] * len(xs)
        if not reverse:
            state, done = init, []  # done: the final states of rows that ended, latest first
            for t, n in enumerate(sizes):
                rows = state[0].shape[0]
                if n < rows:
                    parts = [_F.split(s, [n, rows - n], 0) for s in state]
                    done.insert(0, tuple(p[1] for p in parts))
                    state = tuple(p[0] for p in parts)
                ys[t], state = self._step(xs[t], state, w_hh, b_hh, w_hr)
            final = [
                _F.cat([s] + [d[i] for d in done], 0) if done else s for i, s in enumerate(state)
            ]
        else:
            state = tuple(_F.narrow(s, 0, 0, sizes[-1]) for s in init)
            rows = sizes[-1]
            for t in reversed(range(len(sizes))):
                n = sizes[t]
                if n > rows:
                    # Sequences whose last element is step t join with their initial state.
                    state = tuple(
                        _F.cat([s, _F.narrow(i0, 0, rows, n - rows)], 0)
                        for s, i0 in zip(state, init)
                    )
                    rows = n
                ys[t], state = self._step(xs[t], state, w_hh, b_hh, w_hr)
            final = list(state)
        return _F.cat(ys, 0), final[0], (final[1] if len(final) > 1 else None)


class RNN(RNNBase):
    """Elman RNN: ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` (or relu with
    ``nonlinearity="relu"``), stacked ``num_layers`` deep.

    Input (L, N, input_size) (``batch_first``: (N, L, input_size); unbatched:
    (L, input_size)) or a :class:`~vkgrad.nn.utils.rnn.PackedSequence`; ``h0``
    (num_layers * D, N, hidden_size), zeros when omitted. Returns ``(output, h_n)`` with
    output (L, N, D * hidden_size), D = 2 when bidirectional. Parameters
    ``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}`` (``_reverse``
    for the backward direction), each ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).

    >>> rnn = nn.RNN(10, 20, num_layers=2)
    >>> out, h_n = rnn(vkgrad.randn(5, 3, 10))
    >>> out.shape, h_n.shape
    ((5, 3, 20), (2, 3, 20))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"RNN: unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'."
            )
        super().__init__(
            "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            device=device,
            dtype=dtype,
        )
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """Long short-term memory, PyTorch's gates (i, f, g, o):
    ``c_t = f * c_{t-1} + i * g``, ``h_t = o * tanh(c_t)``; with ``proj_size > 0``,
    ``h_t = W_hr (o * tanh(c_t))`` (``weight_hr_l{k}``).

    ``forward(input, (h0, c0))``; returns ``(output, (h_n, c_n))``, shaped as for
    :class:`RNN` (c with ``hidden_size`` features, h and output with ``proj_size`` when
    set).

    >>> lstm = nn.LSTM(10, 20, batch_first=True)
    >>> out, (h_n, c_n) = lstm(vkgrad.randn(3, 5, 10))
    >>> out.shape, c_n.shape
    ((3, 5, 20), (1, 3, 20))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            "LSTM",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            proj_size,
            device,
            dtype,
        )


class GRU(RNNBase):
    """Gated recurrent unit, PyTorch's gates (r, z, n):
    ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, ``h_t = (1 - z) * n + z * h_{t-1}``.

    Inputs and outputs as :class:`RNN`.

    >>> gru = nn.GRU(10, 20, bidirectional=True)
    >>> out, h_n = gru(vkgrad.randn(5, 10))            # unbatched
    >>> out.shape, h_n.shape
    ((5, 40), (2, 20))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            "GRU",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            device=device,
            dtype=dtype,
        )


# ---------------------------------------------------------------- cells


class RNNCellBase(_Recurrent):
    """The common part of the cells: parameters ``weight_ih`` (G * hidden, input),
    ``weight_hh`` (G * hidden, hidden), ``bias_ih``, ``bias_hh``, PyTorch's init, the input
    checks and the step; each cell names its kind (``_mode``) and its states."""

    _mode = ""  # "RNN_TANH", "RNN_RELU", "LSTM" or "GRU": which step the cell runs

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool,
        num_chunks: int,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if hidden_size <= 0:
            raise ValueError(f"{name}: hidden_size must be greater than zero, got {hidden_size}")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        kw = dict(device=device, dtype=dtype)
        self._add_weights("", num_chunks * hidden_size, input_size, hidden_size, bias, 0, kw)
        if not bias:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        nl = getattr(self, "nonlinearity", "tanh")
        if nl != "tanh":
            s += f", nonlinearity={nl}"
        return s

    def _check(self, input: Tensor, states: list) -> bool:
        """Checks the input (N, input_size) or (input_size,) and each (what, state) (N, H)
        or (H,); returns whether the input is batched."""
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a Tensor, got {type(input).__name__}")
        if input.ndim not in (1, 2) or input.shape[-1] != self.input_size:
            raise ValueError(
                f"{name}: expected input of shape (batch, {self.input_size}) or "
                f"({self.input_size},) (input_size={self.input_size}), got {_shape(input)}"
            )
        batched = input.ndim == 2
        for what, s in states:
            if s is None:
                continue
            want = (input.shape[0], self.hidden_size) if batched else (self.hidden_size,)
            if not isinstance(s, Tensor) or _shape(s) != want:
                got = _shape(s) if isinstance(s, Tensor) else type(s).__name__
                raise ValueError(
                    f"{name}: expected {what} of shape {want} for input of shape "
                    f"{_shape(input)} (hidden_size={self.hidden_size}), got {got}"
                )
        return batched

    def _step_once(self, input: Tensor, states: list) -> tuple:
        """The new states after one step from ``input`` and ``states``, a list of (what,
        state or None: zeros), batched or not as the input is."""
        batched = self._check(input, states)
        hs = [s for _, s in states]
        if not batched:
            input = _F.unsqueeze(input, 0)
            hs = [s if s is None else _F.unsqueeze(s, 0) for s in hs]
        b_x, b_h = _split_biases(self._mode, self.bias_ih, self.bias_hh)
        xp = F.linear(input, self.weight_ih, b_x)
        if any(s is None for s in hs):
            zero = zeros(xp.shape[0], self.hidden_size, dtype=xp.dtype, device=xp.device)
            hs = [zero if s is None else s for s in hs]
        _, new = _step(self._mode, xp, tuple(hs), self.weight_hh, b_h, None)
        return new if batched else tuple(_F.squeeze(s, 0) for s in new)


class RNNCell(RNNCellBase):
    """One step of an Elman RNN: ``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)`` (or relu).

    >>> cell = nn.RNNCell(10, 20)
    >>> cell(vkgrad.randn(3, 10)).shape
    (3, 20)
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"RNNCell: unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'."
            )
        super().__init__(input_size, hidden_size, bias, _GATES["RNN_TANH"], device, dtype)
        self.nonlinearity = nonlinearity

    @property
    def _mode(self) -> str:  # type: ignore[override]
        return "RNN_RELU" if self.nonlinearity == "relu" else "RNN_TANH"

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._step_once(input, [("hx", hx)])[0]


class LSTMCell(RNNCellBase):
    """One LSTM step (gates i, f, g, o): returns ``(h', c')``; ``hx = (h, c)``, zeros when
    omitted.

    >>> cell = nn.LSTMCell(10, 20)
    >>> h, c = cell(vkgrad.randn(3, 10))
    >>> h.shape, c.shape
    ((3, 20), (3, 20))
    """

    _mode = "LSTM"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, _GATES[self._mode], device, dtype)

    def forward(self, input: Tensor, hx: tuple | None = None) -> tuple:
        if hx is not None and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise TypeError(f"LSTMCell: hx must be a tuple (h, c), got {type(hx).__name__}")
        h, c = (None, None) if hx is None else hx
        return self._step_once(input, [("h", h), ("c", c)])


class GRUCell(RNNCellBase):
    """One GRU step (gates r, z, n): ``h' = (1 - z) * n + z * h``.

    >>> cell = nn.GRUCell(10, 20)
    >>> cell(vkgrad.randn(3, 10), vkgrad.zeros(3, 20)).shape
    (3, 20)
    """

    _mode = "GRU"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, _GATES[self._mode], device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._step_once(input, [("hx", hx)])[0]
