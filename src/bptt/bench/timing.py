"""Alternating timing runs: clocks, calls per run, and the page faults of each run.

After a warm-up, each of ``repeats`` rounds times one run of every program (the order
alternates between rounds), and each run is itself the median of several calls, so a slow
phase of a shared machine hits every side of a ratio.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from typing import Any

CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
"""wall: elapsed time. cpu: this process's CPU time, which foreign load on a shared machine
inflates far less; it adds up every thread, so it compares frameworks fairly only at 1 thread."""

Run = tuple[float, float]
"""One timed run: (median seconds per call, minor page faults per call)."""


def minor_faults() -> int:
    """Minor page faults of this process so far (0 where ``resource`` is missing)."""
    try:
        import resource
    except ImportError:
        return 0
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def timed_run(fn: Callable[[], Any], calls: int, clock: Callable[[], float]) -> Run:
    """One run: the median time of ``calls`` calls (s) and the minor page faults per call.

    Page faults show fresh memory being mapped: a process whose allocator has not yet raised
    its thresholds (glibc does after freeing a large block) pays for every first touch.
    """
    times = []
    faults = minor_faults()
    for _ in range(calls):
        start = clock()
        fn()
        times.append(clock() - start)
    return statistics.median(times), (minor_faults() - faults) / calls


def calls_for(fn: Callable[[], Any], warmup: int, min_calls: int, run_seconds: float) -> int:
    """Warm ``fn`` up and choose the calls per run that fill about ``run_seconds``."""
    elapsed = 0.0
    for _ in range(max(warmup, 1)):
        start = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - start
    return max(min_calls, min(100, math.ceil(run_seconds / max(elapsed, 1e-6))))


def time_alternately(
    programs: dict[str, Callable[[], Any]],
    repeats: int,
    warmup: int,
    min_calls: int,
    run_seconds: float,
    clock: Callable[[], float],
) -> dict[str, list[Run]]:
    """Runs of every program, alternating between them: {name: [(seconds, faults), ...]}."""
    calls = {k: calls_for(fn, warmup, min_calls, run_seconds) for k, fn in programs.items()}
    runs: dict[str, list[Run]] = {k: [] for k in programs}
    names = list(programs)
    for r in range(repeats):
        for k in names if r % 2 == 0 else names[::-1]:
            runs[k].append(timed_run(programs[k], calls[k], clock))
    return runs
