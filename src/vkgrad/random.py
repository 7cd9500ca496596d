"""Random number generators: counter-based (Philox4x32-10), with their state on the device.

A ``Generator`` belongs to one device and holds a seed (the Philox key) and a 64-bit offset,
as four words in a small array on that device. A draw is a kernel that reads the state (the
``rng`` rows of ``library/random.py``), followed by the ``rng_advance`` kernel, which adds
the number of Philox blocks the draw used to the offset on the device. Nothing of the state
is read on the host, so a captured step that draws replays with fresh numbers every time,
and the same seed gives the same numbers on every backend (docs/random.md).

``vkgrad.manual_seed(s)`` seeds the default generator of every device (one per device, made
on first use); ``get_rng_state``/``set_rng_state`` read and write the cpu one by default, as
PyTorch's do, or the one of ``device``.
"""

from __future__ import annotations

import os

import numpy as np

# The engine builds tensors; capturing reports refusals. Both import this module back, so
# only the modules are bound here and their names are looked up when a function runs.
from . import autograd, dtypes
from . import capturing as capturing_module
from .device import Device

__all__ = [
    "Generator",
    "manual_seed",
    "seed",
    "initial_seed",
    "get_rng_state",
    "set_rng_state",
    "default_generator",
]

DEFAULT_SEED = 67280421310721  # a fresh generator's seed, as PyTorch's
_U64 = (1 << 64) - 1
_U32 = 0xFFFFFFFF

_initial_seed = DEFAULT_SEED
_defaults: dict = {}  # Device -> its default Generator
# The device a captured function is being recorded on, else None (set by vkgrad.capture).
recording: Device | None = None


def _check_seed(seed, where: str) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{where}: seed must be an int, got {type(seed).__name__}")
    s = int(seed)
    if not -(1 << 63) <= s <= _U64:
        raise ValueError(f"{where}: seed {s} is outside [-2**63, 2**64 - 1]")
    return s & _U64  # negative seeds wrap, as PyTorch's


def _words(seed: int, offset: int) -> np.ndarray:
    w = [seed & _U32, seed >> 32, offset & _U32, offset >> 32]
    return np.array(w, np.uint32).view(np.int32)


# While a non-strict capture's warm-up call runs (capture(strict=False)): the refusals a
# recording would raise, noted instead.
probing: list | None = None


def _refuse_in_capture(what: str) -> None:
    if probing is not None:
        probing.append(what)
    if recording is not None:
        raise capturing_module.CaptureError(
            f"capture: {what} inside a captured function; a replay could not repeat it. Do it "
            "outside the captured function"
        )


class Generator:
    """A Philox4x32-10 generator whose state lives on ``device`` (as ``torch.Generator``).

    >>> g = vkgrad.Generator().manual_seed(42)
    >>> a = vkgrad.rand(3, generator=g)
    >>> b = vkgrad.rand(3, generator=vkgrad.Generator().manual_seed(42))
    >>> bool((a == b).all())
    True
    """

    def __init__(self, device="cpu") -> None:
        self._device = Device.parse(device)
        self._seed = DEFAULT_SEED
        self._state = None
        self._live_state()  # made now: made inside a captured step, a replay would remake it

    @classmethod
    def _lazy(cls, device: Device) -> Generator:
        # A default generator: its state is made on first use (most devices never draw).
        g = cls.__new__(cls)
        g._device, g._seed, g._state = device, _initial_seed, None
        return g

    @property
    def device(self) -> Device:
        return self._device

    def __repr__(self) -> str:
        return f"vkgrad.Generator(device={str(self._device)!r})"

    # ------------------------------------------------------------ the state on the device

    def _live_state(self):
        """The state tensor the draw kernels read (made at offset 0 on first use)."""
        if self._state is None:
            be = self._device.backend
            data = be.from_numpy(_words(self._seed, 0), dtypes.int32)
            self._state = autograd.Tensor._make(data, (4,), dtypes.int32, self._device)
        return self._state

    def _write(self, seed: int, offset: int, what: str) -> None:
        if self._state is None:
            self._seed = seed
            if offset:
                self._live_state()
            else:
                return
        if recording is not None and recording != self._device:
            _refuse_in_capture(f"{what} sets a generator on {self._device}")
        self._seed = seed
        # In place: kernels recorded by a capture keep reading this same array. Inside a
        # capture on this device the write is recorded too, so each replay seeds again, as
        # each eager call would.
        src = autograd.Tensor._make(
            self._device.backend.from_numpy(_words(seed, offset), dtypes.int32),
            (4,),
            dtypes.int32,
            self._device,
        )
        autograd.apply_inplace("copy", self._state, src, include_target=False, dtype=dtypes.int32)

    # ------------------------------------------------------------ torch.Generator's API

    def manual_seed(self, seed) -> Generator:
        """Seed the generator (offset 0) and return it."""
        self._write(_check_seed(seed, "Generator.manual_seed"), 0, "Generator.manual_seed")
        return self

    def seed(self) -> int:
        """Seed with a non-deterministic seed (from the OS) and return it."""
        s = int.from_bytes(os.urandom(8), "little")
        self._write(s, 0, "Generator.seed")
        return s

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self):
        """The state as a cpu int32 tensor of 4 words: seed (low, high), offset (low, high)."""
        if recording is not None:
            _refuse_in_capture("Generator.get_state reads a generator's state on the host")
        if self._state is None:
            data = _words(self._seed, 0)
        else:
            data = self._state.numpy()
        return autograd.Tensor._make(
            Device.parse("cpu").backend.from_numpy(data, dtypes.int32),
            (4,),
            dtypes.int32,
            Device.parse("cpu"),
        )

    def set_state(self, new_state) -> Generator:
        """Restore a state from ``get_state`` (of any generator, on any device)."""
        if not isinstance(new_state, autograd.Tensor):
            raise TypeError(
                f"Generator.set_state: expected the int32 tensor get_state returns, got "
                f"{type(new_state).__name__}"
            )
        if new_state.dtype is not dtypes.int32 or new_state.numel() != 4:
            raise ValueError(
                f"Generator.set_state: expected 4 int32 words (seed, offset), got shape "
                f"{tuple(new_state.shape)} of {new_state.dtype.name}"
            )
        w = new_state.numpy().reshape(-1).view(np.uint32).astype(np.uint64)
        seed, offset = int(w[0]) | int(w[1]) << 32, int(w[2]) | int(w[3]) << 32
        self._write(seed, offset, "Generator.set_state")
        return self


# ---------------------------------------------------------------- the default generators


def default_generator(device="cpu") -> Generator:
    """The default generator of ``device``: draws without ``generator=`` use it."""
    dev = Device.parse(device)
    g = _defaults.get(dev)
    if g is None:
        g = _defaults[dev] = Generator._lazy(dev)
    return g


def manual_seed(seed) -> Generator:
    """Seed the default generator of every device (offset 0), as ``torch.manual_seed``;
    returns the cpu one. Draws then repeat run to run, and match across devices."""
    global _initial_seed
    s = _check_seed(seed, "manual_seed")
    _refuse_in_capture("manual_seed sets the generators of every device")
    _initial_seed = s
    for g in _defaults.values():
        g._write(s, 0, "manual_seed")
    return default_generator("cpu")


def seed() -> int:
    """Seed every default generator with a non-deterministic seed; returns it."""
    s = int.from_bytes(os.urandom(8), "little")
    manual_seed(s)
    return s


def initial_seed() -> int:
    """The seed of the last ``manual_seed``/``seed`` (PyTorch's default before any)."""
    return _initial_seed


def get_rng_state(device="cpu"):
    """The state of ``device``'s default generator (cpu by default, as PyTorch)."""
    return default_generator(device).get_state()


def set_rng_state(new_state, device="cpu") -> None:
    """Restore ``device``'s default generator from ``get_rng_state``."""
    _refuse_in_capture("set_rng_state sets a generator")
    default_generator(device).set_state(new_state)


# ---------------------------------------------------------------- for the draw functions


def generator_for(generator, device: Device, op: str) -> Generator:
    """The generator a draw of ``op`` on ``device`` uses; an error naming the op when
    ``generator`` is not a Generator of that device."""
    if generator is None:
        return default_generator(device)
    if not isinstance(generator, Generator):
        raise TypeError(
            f"{op}: generator must be a vkgrad.Generator, got {type(generator).__name__}"
        )
    if generator.device != device:
        raise RuntimeError(
            f"{op}: the generator is on {generator.device} but the draw is on {device}; "
            f"use vkgrad.Generator({str(device)!r})"
        )
    return generator


def state(generator, device: Device, op: str):
    """The state tensor a draw of ``op`` reads (``advance`` it afterwards)."""
    return generator_for(generator, device, op)._live_state()


def advance(state_tensor, blocks: int) -> None:
    """Move the offset past the ``blocks`` Philox blocks a draw used: a kernel run after the
    draw (on Vulkan the recorder orders it after the draw's read of the state)."""
    if blocks > 0:
        autograd.apply_inplace("rng_advance", state_tensor, count=int(blocks))


def refuse_host_draw(op: str) -> None:
    """Draws made on the host (randperm, multinomial, shuffling) cannot be replayed."""
    _refuse_in_capture(f"{op} draws random numbers on the host")


def begin_recording(device: Device) -> None:
    """vkgrad.capture is about to record a function on ``device``: the default generator's
    state exists before, so that the recording reads and advances it rather than making it."""
    global recording
    default_generator(device)._live_state()
    recording = device


def end_recording() -> None:
    global recording
    recording = None
