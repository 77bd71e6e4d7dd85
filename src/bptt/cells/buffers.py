"""Memory for the whole-sequence arrays of the fused loops, reused from one call to the next.

A training step allocates the same large arrays at every call (the gates of every step, the
stacked inputs, blocks of gradients). Fresh memory is mapped page by page as the loop first
writes it, and glibc returns large blocks to the system when they are freed, so every call
pays those page faults again: about 2 us per 4 KiB page on this machine, 9 ms of a 20 ms
LSTM forward pass at B=8, T=1000, H=128.

``empty(shape, dtype)`` is ``np.empty`` that hands out a buffer again once nothing refers
to it any more: no view, no tape, no result a caller kept. That is checked with the reference
count, so a buffer is never reused while any array still sees it, and no value crosses calls,
only memory. A request takes the smallest idle buffer of at least its size (and at most twice
it); when none fits, every idle buffer is freed before a new one is made, so the pool never
holds more than the largest set of arrays in use at once and does not raise a peak (the
segments of checkpointed BPTT, of many lengths, share their buffers). Idle buffers are kept
between calls up to ``IDLE_LIMIT`` bytes in all; ``clear()`` frees them.
"""

from __future__ import annotations

import math
import sys
import threading
from typing import Any

import numpy as np

from bptt.types import Array

MIN_BYTES = 1 << 18
"""Smaller arrays come from malloc's heap, which reuses them without faults."""

IDLE_LIMIT = 1 << 28
"""At most this many bytes of buffers that nothing uses are kept (256 MiB)."""

_lock = threading.Lock()
_buffers: list[np.ndarray] = []  # least recently handed out first


def empty(shape: tuple[int, ...], dtype: Any) -> Array:
    """An uninitialised array, like ``np.empty(shape, dtype)``."""
    dt = np.dtype(dtype)
    nbytes = math.prod(shape) * dt.itemsize
    if nbytes < MIN_BYTES or nbytes > IDLE_LIMIT:
        return np.empty(shape, dt)
    with _lock:
        fits = [
            k
            for k in range(len(_buffers))
            if nbytes <= _buffers[k].nbytes <= 2 * nbytes and _idle(k)
        ]
        if fits:
            buffer = _buffers.pop(min(fits, key=lambda k: _buffers[k].nbytes))
        else:
            _drop_idle(0)
            buffer = np.empty(nbytes, np.uint8)
        _buffers.append(buffer)
        _drop_idle(IDLE_LIMIT)
        return buffer[:nbytes].view(dt).reshape(shape)


def clear() -> None:
    """Forget every idle buffer; buffers still in use are freed when their users let go."""
    with _lock:
        _drop_idle(0)


def _idle(k: int) -> bool:
    # The list and getrefcount's argument are the only references: no array views it.
    return sys.getrefcount(_buffers[k]) == 2


def _drop_idle(limit: int) -> None:
    """Drop idle buffers, least recently used first, until at most ``limit`` bytes are idle."""
    idle = [k for k in range(len(_buffers)) if _idle(k)]
    excess = sum(_buffers[k].nbytes for k in idle) - limit
    drop = []
    for k in idle:
        if excess <= 0:
            break
        drop.append(k)
        excess -= _buffers[k].nbytes
    for k in reversed(drop):
        del _buffers[k]
