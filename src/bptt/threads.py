"""How many BLAS threads a run uses: one for small products, the idle cores for large ones.

A recurrent step is one matrix product per step, (B, H + D + 1) x (H + D + 1, G*H), too small
to split well across threads; with another process on a core, NumPy's default of one
OpenBLAS thread per core makes both threads wait on each other at every step. Measured on
this 2-core machine with other jobs running (load average 3.6), one LSTM training step at
B=32, T=50 took with 1 and 2 threads: H=128 11 / 30 ms, H=256 39 / 80 ms, H=512 124 / 431
ms; at B=64, H=1024, 1.12 / 2.40 s. So the rule takes one thread for products below
``MULTI_THREAD_FLOP`` per step, and for larger ones only the cores the load average leaves
idle when the run starts. ``--threads N`` overrides it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

from bptt.errors import BpttError

MULTI_THREAD_FLOP = 5e7
"""Per-step product (2 B G H (H + D + 1) FLOP) from which more than one thread may pay off."""


class ThreadChoice(NamedTuple):
    """The BLAS threads of a run and why."""

    threads: int
    reason: str


def cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def idle_cores() -> int:
    """Cores the 1-minute load average leaves idle now (at least one)."""
    try:
        load = os.getloadavg()[0]
    except OSError:
        return cores()
    return max(1, min(cores(), round(cores() - load)))


def step_flops(batch_size: int, hidden_size: int, input_size: int, num_gates: int) -> float:
    """FLOP of one step's product: (B, H + D + 1) x (H + D + 1, G*H)."""
    return 2.0 * batch_size * num_gates * hidden_size * (hidden_size + input_size + 1)


def choose_threads(flops: float, *, requested: int = 0) -> ThreadChoice:
    """The threads for a run whose largest per-step product costs ``flops``.

    Args:
        flops: ``step_flops`` of the widest layer.
        requested: a user's --threads (0: decide).
    """
    if requested < 0 or isinstance(requested, bool):
        raise BpttError(f"`threads` must be 0 (decide) or >= 1, got {requested!r}.")
    if requested:
        return ThreadChoice(requested, "--threads")
    if flops < MULTI_THREAD_FLOP:
        return ThreadChoice(1, f"a {flops / 1e6:.3g} MFLOP product per step is too small to share")
    free = idle_cores()
    return ThreadChoice(free, f"a {flops / 1e6:.3g} MFLOP product per step, {free} idle cores")


@contextmanager
def blas_threads(threads: int) -> Iterator[None]:
    """NumPy's BLAS limited to ``threads`` within the block (threadpoolctl)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads, user_api="blas"):
        yield
