"""The models the kit trains, written once for ``vkgrad.nn`` and ``torch.nn`` (same API).

Each builder takes the ``nn`` module and a size preset and returns the module; ``batch``
makes the inputs (NumPy) and ``SIZES`` holds the presets: ``gpu`` for a real GPU, ``local``
small enough for lavapipe on two cores.
"""

from __future__ import annotations

import numpy as np

CLASSES = 10


def mlp(nn, widths: tuple, **_):
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
        if i:
            layers.append(nn.ReLU())
        layers.append(nn.Linear(fan_in, fan_out))
    return nn.Sequential(*layers)


def cnn(nn, channels: tuple, hw: int, **_):
    """Two conv + BatchNorm + ReLU + max-pool stages and a linear head."""
    c0, c1, c2 = channels
    return nn.Sequential(
        nn.Conv2d(c0, c1, 3, padding=1),
        nn.BatchNorm2d(c1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 3, padding=1),
        nn.BatchNorm2d(c2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(c2 * (hw // 4) ** 2, CLASSES),
    )


def transformer(nn, d: int, heads: int, ff: int, **_):
    """One pre-norm Transformer encoder block (self-attention, GELU MLP), mean-pooled over
    the sequence, and a linear head."""

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.block = nn.TransformerEncoderLayer(
                d, heads, ff, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
            )
            self.head = nn.Linear(d, CLASSES)

        def forward(self, x):
            return self.head(self.block(x).mean(dim=1))

    return Block()


BUILDERS = {"mlp_digits": mlp, "mlp_wide": mlp, "cnn": cnn, "transformer": transformer}

# name -> preset; every preset has the batch size. Benchmarks use all four models, the race
# check the MLP, the CNN and the Transformer block.
SIZES = {
    "gpu": {
        "mlp_digits": dict(widths=(64, 256, 256, 10), batch=128),
        "mlp_wide": dict(widths=(4096, 4096, 4096, 10), batch=512),
        "cnn": dict(channels=(3, 32, 64), hw=32, batch=128),
        "transformer": dict(d=256, heads=4, ff=1024, seq=128, batch=32),
    },
    "local": {
        "mlp_digits": dict(widths=(64, 256, 256, 10), batch=128),
        "mlp_wide": dict(widths=(512, 512, 512, 10), batch=64),
        "cnn": dict(channels=(3, 8, 16), hw=16, batch=16),
        "transformer": dict(d=64, heads=4, ff=128, seq=32, batch=8),
    },
}
RACE_SIZES = {
    "gpu": {
        "mlp": dict(widths=(256, 512, 512, 10), batch=256),
        "cnn": dict(channels=(3, 16, 32), hw=32, batch=64),
        "transformer": dict(d=128, heads=4, ff=256, seq=64, batch=16),
    },
    "local": {
        "mlp": dict(widths=(32, 64, 64, 10), batch=32),
        "cnn": dict(channels=(3, 4, 8), hw=8, batch=8),
        "transformer": dict(d=16, heads=2, ff=32, seq=8, batch=4),
    },
}
RACE_BUILDERS = {"mlp": mlp, "cnn": cnn, "transformer": transformer}


def batch(kind: str, preset: dict, seed: int = 0) -> tuple:
    """(inputs as f32, int class labels) for model ``kind`` (a BUILDERS or RACE_BUILDERS key)."""
    rng = np.random.default_rng(seed)
    n = preset["batch"]
    if kind.startswith("mlp"):
        shape = (n, preset["widths"][0])
    elif kind == "cnn":
        shape = (n, preset["channels"][0], preset["hw"], preset["hw"])
    else:
        shape = (n, preset["seq"], preset["d"])
    x = rng.standard_normal(shape).astype(np.float32)
    y = rng.integers(0, CLASSES, n)
    return x, y
