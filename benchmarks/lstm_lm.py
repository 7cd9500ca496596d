"""Time one training step of a word-level LSTM language model, vkgrad against PyTorch CPU.

    python benchmarks/lstm_lm.py [--steps 20] [--warmup 3] [--threads N] [--dropout P]
                                 [--vulkan] [--profile]

The model and step of PyTorch's word_language_model example: embedding (10,000 words, 256)
-> 2-layer LSTM (256 hidden) -> linear decoder to the vocabulary, cross entropy over
sequences of 35 steps in batches of 20, backpropagation through those 35 steps with the
hidden state carried (detached) from one batch to the next, ``clip_grad_norm_(0.25)`` and
SGD (lr 20). Without dropout by default, so that every row computes the same thing and the
losses can be compared (vkgrad's dropout masks are not PyTorch's); ``--dropout P`` adds the
example's dropout (after the embedding, between the LSTM layers, before the decoder). The
tokens are a fixed random stream (the timing does not depend on the text).

Rows: PyTorch CPU (``torch.set_num_threads`` equal to NumPy's BLAS thread count), vkgrad's
cpu backend eagerly and through ``vkgrad.capture``, and with ``--vulkan`` the Vulkan device
(f32, eager and captured). Every row starts from the same weights and sees the same batches,
so their losses agree. Times are medians of ``--steps`` steps after ``--warmup``, taken in
interleaved rounds (benchmarks/mlp_step.py). ``--profile`` prints a cProfile of the vkgrad
cpu steps instead.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mlp_step import Runner, _limit_blas_threads, _value, measure  # noqa: E402

VOCAB, EMB, HIDDEN, LAYERS = 10_000, 256, 256, 2
BPTT, BATCH = 35, 20
LR, CLIP = 20.0, 0.25


def batches(n: int, seed: int = 0) -> list:
    """``n`` (input, target) pairs of (BPTT, BATCH) int32 token ids, targets shifted by one
    step, cut from one random stream as the example's ``get_batch`` cuts its corpus."""
    rng = np.random.default_rng(seed)
    stream = rng.integers(0, VOCAB, (n * BPTT + 1, BATCH)).astype(np.int32)
    return [
        (stream[i * BPTT : (i + 1) * BPTT], stream[i * BPTT + 1 : (i + 1) * BPTT + 1])
        for i in range(n)
    ]


def init_weights(seed: int = 0) -> dict:
    """The example's init (embedding and decoder U(-0.1, 0.1), decoder bias 0) and
    PyTorch's LSTM init (U(-1/sqrt(hidden), 1/sqrt(hidden))), as a state_dict of f32
    arrays keyed as both frameworks name them."""
    rng = np.random.default_rng(seed)
    k = 1 / np.sqrt(HIDDEN)
    w = {"encoder.weight": rng.uniform(-0.1, 0.1, (VOCAB, EMB))}
    for layer in range(LAYERS):
        fan_in = EMB if layer == 0 else HIDDEN
        w[f"rnn.weight_ih_l{layer}"] = rng.uniform(-k, k, (4 * HIDDEN, fan_in))
        w[f"rnn.weight_hh_l{layer}"] = rng.uniform(-k, k, (4 * HIDDEN, HIDDEN))
        w[f"rnn.bias_ih_l{layer}"] = rng.uniform(-k, k, 4 * HIDDEN)
        w[f"rnn.bias_hh_l{layer}"] = rng.uniform(-k, k, 4 * HIDDEN)
    w["decoder.weight"] = rng.uniform(-0.1, 0.1, (VOCAB, HIDDEN))
    w["decoder.bias"] = np.zeros(VOCAB)
    return {name: a.astype(np.float32) for name, a in w.items()}


# ---------------------------------------------------------------- vkgrad


def vkgrad_model(device: str, dtype: str, weights: dict, dropout: float = 0.0):
    from vkgrad import nn

    class RNNModel(nn.Module):
        def __init__(self):
            super().__init__()
            kw = dict(device=device, dtype=dtype)
            self.drop = nn.Dropout(dropout)
            self.encoder = nn.Embedding(VOCAB, EMB, **kw)
            self.rnn = nn.LSTM(EMB, HIDDEN, LAYERS, dropout=dropout, **kw)
            self.decoder = nn.Linear(HIDDEN, VOCAB, **kw)

        def forward(self, x, hidden):
            out, hidden = self.rnn(self.drop(self.encoder(x)), hidden)
            return self.decoder(self.drop(out)).reshape(-1, VOCAB), hidden

    model = RNNModel()
    model.load_state_dict(weights)
    return model


def vkgrad_runner(
    device: str, dtype: str, data, weights, captured: bool = False, dropout: float = 0.0
) -> Runner:
    import vkgrad
    import vkgrad.nn.functional as F
    from vkgrad import nn, optim

    model = vkgrad_model(device, dtype, weights, dropout)
    opt = optim.SGD(model.parameters(), lr=LR)
    params = list(model.parameters())
    data = [
        (vkgrad.tensor(x, device=device), vkgrad.tensor(y.reshape(-1), device=device))
        for x, y in data
    ]

    def train_step(x, y, h, c):
        opt.zero_grad()
        logits, (h, c) = model(x, (h, c))
        loss = F.cross_entropy(logits, y)
        loss.backward()
        nn.utils.clip_grad_norm_(params, CLIP)
        opt.step()
        return loss, h, c

    if captured:
        train_step = vkgrad.capture(train_step)
    state = [vkgrad.zeros(LAYERS, BATCH, HIDDEN, device=device, dtype=dtype) for _ in range(2)]

    def step(i):
        loss, h, c = train_step(*data[i % len(data)], *state)
        # The example's repackage_hidden: the next batch starts from these states, without
        # backpropagating into this one.
        state[:] = [h.detach(), c.detach()]
        return loss

    dev = vkgrad.Device.parse(device)
    how = " captured" if captured else ""
    return Runner(f"vkgrad {dev} {dtype}{how}", step, vkgrad.synchronize)


# ---------------------------------------------------------------- PyTorch


def torch_runner(data, weights, threads: int, dropout: float = 0.0) -> Runner:
    import torch

    torch.set_num_threads(threads)

    class RNNModel(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.drop = torch.nn.Dropout(dropout)
            self.encoder = torch.nn.Embedding(VOCAB, EMB)
            self.rnn = torch.nn.LSTM(EMB, HIDDEN, LAYERS, dropout=dropout)
            self.decoder = torch.nn.Linear(HIDDEN, VOCAB)

        def forward(self, x, hidden):
            out, hidden = self.rnn(self.drop(self.encoder(x)), hidden)
            return self.decoder(self.drop(out)).reshape(-1, VOCAB), hidden

    model = RNNModel()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    data = [(torch.from_numpy(x).long(), torch.from_numpy(y).long().reshape(-1)) for x, y in data]
    state = [torch.zeros(LAYERS, BATCH, HIDDEN) for _ in range(2)]

    def step(i):
        x, y = data[i % len(data)]
        opt.zero_grad()
        logits, (h, c) = model(x, tuple(state))
        loss = torch.nn.functional.cross_entropy(logits, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        opt.step()
        state[:] = [h.detach(), c.detach()]
        return loss

    return Runner(f"pytorch {torch.__version__} cpu ({threads} threads)", step, lambda: None)


# ---------------------------------------------------------------- main


def profile(data, weights, steps: int, captured: bool, dropout: float) -> None:
    import cProfile
    import pstats

    r = vkgrad_runner("cpu", "f32", data, weights, captured, dropout)
    r.run(3, timed=False)
    prof = cProfile.Profile()
    prof.enable()
    r.run(steps, timed=False)
    prof.disable()
    print(f"\ncProfile of {steps} steps of {r.name}")
    stats = pstats.Stats(prof)
    stats.sort_stats("tottime").print_stats(25)


def _blas_kernels() -> str:
    """The CPU kernels NumPy's BLAS picked: OpenBLAS falls back to generic ones on a CPU it
    does not recognise (several times slower; ``OPENBLAS_CORETYPE`` overrides it)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "kernels unknown"
    info = [i for i in threadpool_info() if i["user_api"] == "blas"]
    if not info:
        return "kernels unknown"
    return f"{info[0].get('internal_api', '?')} {info[0].get('architecture', '?')} kernels"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=20, help="timed steps per implementation")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    ap.add_argument("--batches", type=int, default=8, help="distinct batches cycled through")
    ap.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads for NumPy's BLAS and for torch (default: NumPy's BLAS default)",
    )
    ap.add_argument("--dropout", type=float, default=0.0, help="the example's dropout")
    ap.add_argument("--vulkan", action="store_true", help="add the Vulkan device's rows")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--profile", action="store_true", help="cProfile the vkgrad cpu steps")
    args = ap.parse_args(argv)

    import vkgrad

    blas_threads = _limit_blas_threads(args.threads)
    args.threads = args.threads or blas_threads or os.cpu_count() or 1
    data = batches(args.batches)
    weights = init_weights()
    if args.profile:
        profile(data, weights, args.steps, captured=False, dropout=args.dropout)
        profile(data, weights, args.steps, captured=True, dropout=args.dropout)
        return 0
    print(
        f"LSTM LM: vocab {VOCAB}, embedding {EMB}, {LAYERS}-layer LSTM {HIDDEN}, seq {BPTT}, "
        f"batch {BATCH}, dropout {args.dropout}, SGD lr {LR} + clip {CLIP}; median of "
        f"{args.steps} steps after {args.warmup} warm-up, in {args.rounds} interleaved rounds"
    )
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPUs, "
        f"BLAS threads {blas_threads or '?'} ({_blas_kernels()}), torch threads {args.threads}"
    )
    runners = []
    torch_r = None
    if not args.no_torch:
        try:
            torch_r = torch_runner(data, weights, args.threads, args.dropout)
            runners.append(torch_r)
        except ImportError:
            print("torch not importable: PyTorch column skipped")
    for captured in (False, True):
        runners.append(vkgrad_runner("cpu", "f32", data, weights, captured, args.dropout))
    vk = [d for d in vkgrad.devices() if d["device"].startswith("vulkan")]
    if args.vulkan and vk:
        print(f"vulkan device: {vk[0]['device']} {vk[0]['name']} ({vk[0]['type']})")
        for captured in (False, True):
            runners.append(vkgrad_runner("vulkan", "f32", data, weights, captured, args.dropout))
    measure(runners, args.steps, args.warmup, args.rounds)

    torch_time = torch_r.median() if torch_r else None
    width = max(len(r.name) for r in runners)
    print()
    head = f"{'implementation':<{width}}  {'ms/step':>8}  {'vs torch':>8}  loss"
    print(head)
    print("-" * len(head))
    for r in runners:
        sec = r.median()
        vs_t = f"{sec / torch_time:8.2f}" if torch_time else f"{'-':>8}"
        print(
            f"{r.name:<{width}}  {sec * 1e3:8.1f}  {vs_t}  "
            f"{_value(r.first):.3f} -> {_value(r.last):.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
