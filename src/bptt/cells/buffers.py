"""Memory for the internal whole-sequence arrays of the fused loops, reused between calls.

A training step allocates the same large arrays at every call (the gates of every step, the
stacked inputs, blocks of gradients). Fresh memory is mapped page by page as the loop first
writes it, and glibc returns large blocks to the system when they are freed, so every call
pays those page faults again (about 2 us per 4 KiB page on this machine).

``empty(shape, dtype)`` is ``np.empty`` that hands out a buffer again once nothing refers
to it any more: no view, no tape a caller kept. That is checked with the reference count, so
a buffer is never reused while any array still sees it, and no value crosses calls, only
memory. It is meant for arrays the loops use internally or keep in a tape, not for results
handed to callers (they get plain ``np.empty``).

A request takes the smallest idle buffer of its size up to 1.25 times it; when none fits,
the idle buffers are freed before a new one is made. Idle buffers stay allocated between
calls, up to ``IDLE_LIMIT`` bytes in all, and count in the process's memory like any other
array; ``clear()`` frees them. At most ``MAX_BUFFERS`` buffers are tracked; beyond that (a
caller keeping many tapes) requests get plain ``np.empty``. Where the interpreter does not
count references as CPython 3.11 to 3.13 do (checked at import), or runs without the GIL,
``empty`` is plain ``np.empty``.
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

MAX_BUFFERS = 32
"""At most this many buffers, in use or idle, are tracked."""

SLACK = 1.25
"""A request may take an idle buffer up to this many times its size."""

_lock = threading.Lock()
_buffers: list[np.ndarray] = []  # least recently handed out first


def _reference_counts() -> tuple[int, int] | None:
    """What ``sys.getrefcount`` reports for a list entry nothing else refers to, and for one
    a view refers to; None where that does not tell an unused buffer from a used one."""
    if not getattr(sys, "_is_gil_enabled", lambda: True)():
        return None
    probe = [np.empty(1)]
    alone = sys.getrefcount(probe[0])
    view = probe[0][:]
    seen = sys.getrefcount(probe[0])
    del view
    return (alone, seen) if seen == alone + 1 else None


_COUNTS = _reference_counts()


def empty(shape: tuple[int, ...], dtype: Any) -> Array:
    """An uninitialised array, like ``np.empty(shape, dtype)``."""
    dt = np.dtype(dtype)
    nbytes = math.prod(shape) * dt.itemsize
    if _COUNTS is None or nbytes < MIN_BYTES or nbytes > IDLE_LIMIT:
        return np.empty(shape, dt)
    with _lock:
        fits = [
            k
            for k in range(len(_buffers))
            if nbytes <= _buffers[k].nbytes <= SLACK * nbytes and _idle(k)
        ]
        if fits:
            buffer = _buffers.pop(min(fits, key=lambda k: _buffers[k].nbytes))
        else:
            _drop_idle(0)
            if len(_buffers) >= MAX_BUFFERS:
                return np.empty(shape, dt)
            buffer = np.empty(nbytes, np.uint8)
        _buffers.append(buffer)
        _drop_idle(IDLE_LIMIT)
        return buffer[:nbytes].view(dt).reshape(shape)


def clear() -> None:
    """Forget every idle buffer; buffers still in use are freed when their users let go."""
    with _lock:
        _drop_idle(0)


def _idle(k: int) -> bool:
    # The list (and getrefcount's argument) are the only references: no array views it.
    return sys.getrefcount(_buffers[k]) == _COUNTS[0]


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
