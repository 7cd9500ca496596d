"""Pooled kp buffers, bucketed by size, so a training step reuses last step's buffers.

kp allocates device memory per tensor (its own ``vkAllocateMemory``), so allocating per op
would cost an allocation and a fresh algorithm (buffers are bound at pipeline creation)
every step. A buffer returns to its bucket when the last array viewing its storage dies; the
recorder keeps storages of pending ops alive until their submit completes.

Two pools per device: device-only buffers (kp ``storage`` tensors: no host twin) for every
array, and host-visible ones (kp ``host`` tensors) that carry uploads and downloads, leased
for one transfer and back in the pool once the batch that used them has run.
"""

from __future__ import annotations

import heapq
import itertools

import numpy as np

_UIDS = itertools.count(1)
MIN_WORDS = 64


def bucket(words: int) -> int:
    """Round a word count up to 1/8 steps between powers of two (<= 12.5% waste)."""
    if words <= MIN_WORDS:
        return MIN_WORDS
    step = 1 << max(words.bit_length() - 4, 0)
    return -(-words // step) * step


class Buffer:
    """One kp tensor of ``words`` uint32 words. ``uid`` keys the algorithm cache: unlike
    ``id()`` it is never reused after the buffer is destroyed."""

    __slots__ = ("uid", "tensor", "words")

    def __init__(self, tensor, words: int) -> None:
        self.uid = next(_UIDS)
        self.tensor = tensor
        self.words = words


class OutOfMemoryError(RuntimeError):
    """A Vulkan allocation failed even after the pool gave back its free buffers."""


class BufferPool:
    def __init__(self, mgr, tensor_type, device: str = "vulkan") -> None:
        self.mgr = mgr
        self.tensor_type = tensor_type
        self.device = device
        # bucket -> heap of (uid, Buffer). Handing out the lowest free uid makes the choice
        # depend only on which buffers are free, not on the order they were released in, so
        # identical steps get identical buffers (and hit the algorithm cache).
        self.free: dict[int, list] = {}
        self.allocated = 0  # kp tensors created, ever
        self.hits = 0  # acquisitions served from the pool
        self.live = 0
        self.live_words = 0  # words in buffers handed out and not yet released
        self.peak_words = 0  # the most live_words seen since the last reset_peak()
        self.total_words = 0  # words in every buffer that exists, free or handed out
        self.peak_total_words = 0

    def acquire(self, words: int) -> Buffer:
        size = bucket(words)
        stack = self.free.get(size)
        if stack:
            self.hits += 1
            buf = heapq.heappop(stack)[1]
        else:
            buf = Buffer(self._allocate(size), size)
        # Counted once the buffer exists: a failed request leaves the counters as they were.
        self.live += 1
        self.live_words += size
        self.peak_words = max(self.peak_words, self.live_words)
        return buf

    def _allocate(self, words: int):
        try:
            t = self._create(words)
        except Exception as first:  # kp raises plain RuntimeErrors from C++
            # Free buffers of other sizes may be what stands in the way: give them back once.
            if not self.empty():
                self._fail(words, first)
            try:
                t = self._create(words)
            except Exception as again:
                self._fail(words, again)
        self.allocated += 1
        self.total_words += words
        self.peak_total_words = max(self.peak_total_words, self.total_words)
        return t

    def _create(self, words: int):
        # np.zeros is lazily zeroed host memory: kp does not read it for device-only buffers.
        return self.mgr.tensor_t(np.zeros(words, dtype=np.uint32), self.tensor_type)

    def _fail(self, words: int, err: Exception) -> None:
        raise OutOfMemoryError(
            f"{self.device}: out of memory allocating {4 * words} bytes "
            f"({self.live_words * 4} bytes live in {self.live} buffers): {err}"
        ) from err

    def release(self, buf: Buffer) -> None:
        self.live -= 1
        self.live_words -= buf.words
        heapq.heappush(self.free.setdefault(buf.words, []), (buf.uid, buf))

    def reset_peak(self) -> None:
        """Start a new peak measurement at the current live words."""
        self.peak_words = self.live_words

    def empty(self) -> int:
        """Destroy every free buffer; return how many."""
        n = 0
        for stack in self.free.values():
            for _, buf in stack:
                buf.tensor.destroy()
                self.total_words -= buf.words
                n += 1
        self.free.clear()
        return n
