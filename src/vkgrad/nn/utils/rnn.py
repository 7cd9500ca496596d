"""``nn.utils.rnn``: batches of sequences of different lengths for the recurrent layers
(``torch.nn.utils.rnn``'s names and layouts).

A :class:`PackedSequence` holds the steps of a sorted batch packed in time order:
``data[offsets[t]:offsets[t] + batch_sizes[t]]`` are the rows of step ``t`` of the
``batch_sizes[t]`` sequences that are at least ``t + 1`` long, longest first. The recurrent
layers take one and run each step on those rows only, so padding never reaches a hidden
state, the final states are each sequence's own last step, and the reverse direction of a
bidirectional layer starts at each sequence's last element.

Packing and unpacking are one gather each (``index_select``, differentiable), with the
indices computed on the host from the lengths, which are host data (a list, a NumPy array
or a tensor read back once), as in PyTorch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from ... import dtypes
from ... import functional as F
from ...tensor import Tensor, full, tensor

__all__ = [
    "PackedSequence",
    "pack_padded_sequence",
    "pad_packed_sequence",
    "pad_sequence",
    "pack_sequence",
    "unpad_sequence",
    "unpack_sequence",
]


class _PackedFields(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None
    unsorted_indices: Tensor | None


class PackedSequence(_PackedFields):
    """``(data, batch_sizes, sorted_indices, unsorted_indices)`` as in PyTorch: ``data`` is
    (sum(lengths), *) on the batch's device, ``batch_sizes`` an int32 cpu tensor (one entry
    per step), and the index tensors None when the batch came sorted
    (``enforce_sorted=True``). Build one with :func:`pack_padded_sequence` or
    :func:`pack_sequence`; a recurrent layer given one returns its output as one.
    """

    # Host copies of batch_sizes and sorted_indices, kept by the functions that build a
    # PackedSequence so that unpacking on Vulkan does not read the index back from the device.
    _host: tuple | None = None

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = _invert(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args: Any, **kwargs: Any) -> PackedSequence:
        """``data.to(...)``; the indices follow ``data`` to its device."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        idx = [i if i is None else i.to(data.device) for i in self[2:]]
        return _packed(data, self.batch_sizes, idx[0], idx[1], self._host)

    def float(self) -> PackedSequence:
        return self.to(dtype=dtypes.float32)

    def half(self) -> PackedSequence:
        return self.to(dtype=dtypes.float16)

    def double(self) -> PackedSequence:
        return self.to(dtype=dtypes.float64)

    def cpu(self) -> PackedSequence:
        return self.to("cpu")

    @property
    def is_cuda(self) -> bool:
        return False


def _packed(data, batch_sizes, sorted_indices, unsorted_indices, host) -> PackedSequence:
    p = PackedSequence(data, batch_sizes, sorted_indices, unsorted_indices)
    p._host = host
    return p


def _invert(perm: Tensor) -> Tensor:
    order = np.asarray(perm.numpy(), np.int64)
    inv = np.empty_like(order)
    inv[order] = np.arange(len(order))
    return tensor(inv.astype(np.int32), device=perm.device)


def host_layout(seq: PackedSequence) -> tuple:
    """(batch sizes, sorted order) of a PackedSequence as host int64 arrays; the order is
    None for a batch that came sorted."""
    if seq._host is not None:
        return seq._host
    sizes = np.asarray(seq.batch_sizes.numpy(), np.int64).reshape(-1)
    order = None
    if seq.sorted_indices is not None:
        order = np.asarray(seq.sorted_indices.numpy(), np.int64).reshape(-1)
    return sizes, order


def _lengths_arg(op: str, lengths) -> np.ndarray:
    if isinstance(lengths, Tensor):
        lengths = lengths.numpy()
    a = np.asarray(lengths)
    if a.ndim != 1 or not (a.size == 0 or np.issubdtype(a.dtype, np.integer)):
        raise ValueError(
            f"{op}: lengths must be a 1-D sequence of ints (host data), got "
            f"{a.dtype} of shape {a.shape}"
        )
    return a.astype(np.int64)


def pack_padded_sequence(
    input: Tensor, lengths, batch_first: bool = False, enforce_sorted: bool = True
) -> PackedSequence:
    """Pack a padded batch (T, B, *) (or (B, T, *) with ``batch_first``) of sequences of the
    given ``lengths`` for a recurrent layer.

    With ``enforce_sorted=True`` the lengths must be in decreasing order; with False the
    batch is sorted here and the layer's outputs come back in the original order.

    >>> x = vkgrad.randn(5, 3, 8)                        # 3 sequences, padded to 5 steps
    >>> packed = nn.utils.rnn.pack_padded_sequence(x, [5, 2, 3], enforce_sorted=False)
    >>> out, h = nn.GRU(8, 16)(packed)
    >>> padded, lengths = nn.utils.rnn.pad_packed_sequence(out)
    """
    op = "pack_padded_sequence"
    if input.ndim < 2:
        raise ValueError(
            f"{op}: input must be at least 2-D (T, B, *) or (B, T, *) with batch_first, got "
            f"shape {tuple(input.shape)}"
        )
    lens = _lengths_arg(op, lengths)
    t_dim, b_dim = (1, 0) if batch_first else (0, 1)
    steps, batch = input.shape[t_dim], input.shape[b_dim]
    if len(lens) != batch:
        raise ValueError(
            f"{op}: expected {batch} lengths (the batch size of the input of shape "
            f"{tuple(input.shape)}, batch_first={batch_first}), got {len(lens)}"
        )
    if batch == 0 or lens.min() <= 0:
        raise ValueError(
            f"{op}: Length of all samples has to be greater than 0, but found an element in "
            f"'lengths' that is <= 0 (lengths {lens.tolist()})"
        )
    if lens.max() > steps:
        raise ValueError(
            f"{op}: a length of {int(lens.max())} is longer than the {steps} steps of the "
            f"input of shape {tuple(input.shape)} (batch_first={batch_first})"
        )
    if enforce_sorted:
        if np.any(np.diff(lens) > 0):
            raise ValueError(
                f"{op}: `lengths` array must be sorted in decreasing order when "
                f"`enforce_sorted` is True (got {lens.tolist()}). You can pass "
                "`enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to "
                "sidestep this requirement"
            )
        order = None
        rows = np.arange(batch)
        sorted_idx = unsorted_idx = None
    else:
        # Stable, so that equal lengths keep their order (PyTorch's sort does not promise it).
        rows = np.argsort(-lens, kind="stable")
        order = rows
        inv = np.empty_like(rows)
        inv[rows] = np.arange(batch)
        sorted_idx = tensor(rows.astype(np.int32), device=input.device)
        unsorted_idx = tensor(inv.astype(np.int32), device=input.device)
    max_len = int(lens.max())
    sizes = (lens[None, :] > np.arange(max_len)[:, None]).sum(1)
    # Row of (t, j-th sorted sequence) in the input viewed as (T * B, *) or (B * T, *).
    idx = np.concatenate([rows[:n] * (steps if batch_first else 1) for n in sizes])
    ts = np.repeat(np.arange(max_len), sizes)
    idx = idx + (ts if batch_first else ts * batch)
    rest = tuple(input.shape[2:])
    flat = F.reshape(input, (steps * batch,) + rest)
    if len(idx) == steps * batch and np.array_equal(idx, np.arange(len(idx))):
        data = flat  # full-length, sorted and time-major: packing changes nothing
    else:
        data = F.index_select(flat, 0, tensor(idx.astype(np.int32), device=input.device))
    batch_sizes = tensor(sizes.astype(np.int32), device="cpu")
    return _packed(data, batch_sizes, sorted_idx, unsorted_idx, (sizes, order))


def pad_packed_sequence(
    sequence: PackedSequence,
    batch_first: bool = False,
    padding_value: float = 0.0,
    total_length: int | None = None,
) -> tuple:
    """The inverse of :func:`pack_padded_sequence`: ``(padded, lengths)``, padded (T, B, *)
    (or (B, T, *)) in the batch's original order, filled with ``padding_value`` past each
    length; ``lengths`` an int32 cpu tensor. ``total_length`` pads to that many steps.

    >>> padded, lengths = nn.utils.rnn.pad_packed_sequence(out, batch_first=True)
    """
    op = "pad_packed_sequence"
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"{op}: expected a PackedSequence, got {type(sequence).__name__}")
    sizes, order = host_layout(sequence)
    data = sequence.data
    max_len, batch = len(sizes), int(sizes[0])
    steps = max_len
    if total_length is not None:
        if total_length < max_len:
            raise ValueError(
                f"{op}: Expected total_length to be at least the length of the longest "
                f"sequence in input, but got total_length={total_length} and max sequence "
                f"length being {max_len}"
            )
        steps = int(total_length)
    lens_sorted = (sizes[None, :] > np.arange(batch)[:, None]).sum(1)
    rows = np.arange(batch) if order is None else order
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    pad_row = data.shape[0]
    # For each output (t, b) (in the requested layout), the packed row or the padding row.
    idx = np.full((steps, batch), pad_row, np.int64)
    for t in range(max_len):
        n = int(sizes[t])
        idx[t, rows[:n]] = offsets[t] + np.arange(n)
    if batch_first:
        idx = idx.T
    rest = tuple(data.shape[1:])
    lengths = np.empty(batch, np.int64)
    lengths[rows] = lens_sorted
    lengths_t = tensor(lengths.astype(np.int32), device="cpu")
    if (
        not batch_first
        and steps == max_len
        and np.array_equal(idx.reshape(-1), np.arange(idx.size))
    ):
        return F.reshape(data, (steps, batch) + rest), lengths_t
    pad = full((1,) + rest, float(padding_value), dtype=data.dtype, device=data.device)
    src = F.cat([data, pad], 0)
    out = F.index_select(src, 0, tensor(idx.reshape(-1).astype(np.int32), device=data.device))
    return F.reshape(out, idx.shape + rest), lengths_t


def pad_sequence(
    sequences: Sequence[Tensor],
    batch_first: bool = False,
    padding_value: float = 0.0,
    padding_side: str = "right",
) -> Tensor:
    """Stack tensors (L_i, *) into one (T, B, *) (or (B, T, *)) padded with
    ``padding_value`` to the longest, on the ``padding_side`` ("right" or "left").

    >>> nn.utils.rnn.pad_sequence([vkgrad.ones(3, 2), vkgrad.ones(1, 2)]).shape
    (3, 2, 2)
    """
    op = "pad_sequence"
    seqs = list(sequences)
    if not seqs:
        raise ValueError(f"{op}: received an empty list of sequences")
    if padding_side not in ("left", "right"):
        raise ValueError(
            f"{op}: Expected padding_side to be one of left or right, but got {padding_side}."
        )
    rest = tuple(seqs[0].shape[1:])
    for i, s in enumerate(seqs):
        if s.ndim == 0 or tuple(s.shape[1:]) != rest:
            raise ValueError(
                f"{op}: every sequence must be (L, *) with the same trailing dims; sequence 0 "
                f"has shape {tuple(seqs[0].shape)}, sequence {i} {tuple(s.shape)}"
            )
    lens = np.array([s.shape[0] for s in seqs], np.int64)
    steps, batch = int(lens.max()), len(seqs)
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    pad_row = int(lens.sum())
    idx = np.full((batch, steps), pad_row, np.int64)
    for b in range(batch):
        n = int(lens[b])
        first = 0 if padding_side == "right" else steps - n
        idx[b, first : first + n] = starts[b] + np.arange(n)
    if not batch_first:
        idx = idx.T
    first = seqs[0]
    pad = full((1,) + rest, float(padding_value), dtype=first.dtype, device=first.device)
    src = F.cat(seqs + [pad], 0)
    out = F.index_select(src, 0, tensor(idx.reshape(-1).astype(np.int32), device=first.device))
    return F.reshape(out, idx.shape + rest)


def pack_sequence(sequences: Sequence[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of tensors (L_i, *): ``pack_padded_sequence(pad_sequence(sequences),
    lengths)``.

    >>> packed = nn.utils.rnn.pack_sequence([vkgrad.ones(3, 2), vkgrad.ones(1, 2)])
    """
    seqs = list(sequences)
    lengths = [s.shape[0] if s.ndim else 0 for s in seqs]
    return pack_padded_sequence(pad_sequence(seqs), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences: Tensor, lengths, batch_first: bool = False) -> list:
    """The list of sequences (L_i, *) of a padded batch: the inverse of
    :func:`pad_sequence`."""
    lens = _lengths_arg("unpad_sequence", lengths)
    seqs = F.unbind(padded_sequences, 0 if batch_first else 1)
    return [F.narrow(s, 0, 0, int(n)) for s, n in zip(seqs, lens)]


def unpack_sequence(packed_sequences: PackedSequence) -> list:
    """The list of sequences (L_i, *) of a PackedSequence, in the original order: the
    inverse of :func:`pack_sequence`."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
