"""Full versus checkpointed BPTT on one long sequence: time and peak memory of a step."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from bptt.bench import memory
from bptt.bench.environment import environment_row, load_average, thread_limits
from bptt.bench.programs import bptt_programs
from bptt.bench.results import Row
from bptt.bench.sizes import (
    CELLS,
    FULL,
    LONG_BUDGETS,
    LONG_CONFIG,
    LONG_READOUTS,
    BenchConfig,
    Budget,
    check_budget,
    policy_label,
)
from bptt.bench.timing import CLOCKS, time_alternately
from bptt.engine.plan import make_plan, peak_slots, plan_cost
from bptt.errors import BpttError


def run_long(
    T: int = LONG_CONFIG.T,
    B: int = LONG_CONFIG.B,
    D: int = LONG_CONFIG.D,
    H: int = LONG_CONFIG.H,
    cell: str = "lstm",
    budgets: Sequence[Budget] = LONG_BUDGETS,
    *,
    repeats: int = 3,
    threads: int | None = None,
    output_size: int | None = None,
    readout: str = "all",
    rss: bool = True,
    clock: str = "wall",
    progress: Callable[[str], None] | None = None,
) -> list[Row]:
    """Full versus checkpointed BPTT on one long sequence: time and peak memory of a step.

    The step is ``bptt_programs``' "train" (forward, linear readout of every step or of the
    last step, MSE, backward, SGD) in float32, with ``Model.forward(memory_policy=None)`` for
    full BPTT and with each budget for checkpointed BPTT. After one warm-up call each,
    ``repeats`` rounds time one call of every policy, the order alternating between rounds, so
    a slow phase of the machine hits full and checkpointed alike; the time is the median of the
    runs and the time ratio the median of the per-round ratios checkpointed / full. Peak memory
    is tracemalloc's peak of one step (NumPy's buffers, after a warm-up step) and the
    resident-set growth over one step in a fresh process; the memory ratios are full /
    checkpointed.

    Args:
        T, B, D, H: sequence length, batch, input features, hidden units (``LONG_CONFIG``
            by default: T = 10,000, B = 16, D = 64, H = 256).
        cell: "rnn", "lstm" or "gru".
        budgets: checkpointing budgets: "sqrt" (a carry every ceil(sqrt(T)) steps) or a
            number of slots m (the cheapest plan within m stored states, ``plan.hsm_plan``).
        repeats: timed rounds (>= 1).
        threads: BLAS threads; None keeps NumPy's setting.
        output_size: O of the readout; D when None.
        readout: "all" (a prediction and its MSE at every step, targets (T, B, O)) or "last"
            (``ModelConfig(readout="last")``: one prediction per sequence from the final
            carry, targets (B, O); checkpointed BPTT then keeps no (T, B, H) outputs).
        rss: also measure resident-set growth in fresh processes (Linux only; else None).
        clock: "wall" or "cpu" (see CLOCKS).
        progress: called with one line per finished measurement (e.g. ``print``).

    Returns:
        One {"kind": "environment"} row, then one {"kind": "long"} row per policy ("full"
        first): readout, stored_states (T for full BPTT, else the plan's peak slots),
        step_evaluations (``step_forward`` calls of forward and backward: T, else
        ``plan_cost``), time_s and time_runs_s, time_ratio (None for full), tracemalloc_mib,
        rss_mib, memory_ratio and rss_ratio (full / this; 1.0 for full, None where RSS was not
        measured).

    Raises:
        ValueError: an unknown cell, clock, readout or budget, a size < 1 or repeats < 1.

    Example::

        print(format_table(run_long(T=10_000, budgets=("sqrt", 50), readout="last")))
    """
    policies = _check_arguments(cell, readout, clock, budgets, T=T, B=B, D=D, H=H, repeats=repeats)
    config = BenchConfig(B=int(B), T=int(T), D=int(D), H=int(H))
    n_out = output_size or config.D
    say = progress or (lambda line: None)
    with thread_limits(threads, include_torch=False):
        env = environment_row(threads, None, clock)
        env["load_average_end"] = None
        programs = {
            policy_label(policy): bptt_programs(
                cell, config, n_out, memory_policy=policy, readout=readout
            )["train"]
            for policy in policies
        }
        runs = time_alternately(programs, repeats, 1, 1, 0.0, CLOCKS[clock])
        del programs
        times = {label: [seconds for seconds, _ in r] for label, r in runs.items()}
        rows = []
        for policy in policies:
            row = _long_row(cell, config, n_out, readout, policy, times)
            _measure_memory(row, policy, env["threads"], rss)
            rows.append(row)
            say(
                f"long {cell} T={config.T} readout={readout} {row['policy']}: "
                f"{row['time_s']:.3f} s, {row['tracemalloc_mib']:.1f} MiB (tracemalloc)"
            )
        full = rows[0]
        for row in rows:
            row["memory_ratio"] = ratio(full["tracemalloc_mib"], row["tracemalloc_mib"])
            row["rss_ratio"] = ratio(full["rss_mib"], row["rss_mib"])
        env["load_average_end"] = load_average()
    return [env, *rows]


def _check_arguments(
    cell: str, readout: str, clock: str, budgets: Sequence[Any], **counts: Any
) -> list[Budget | None]:
    """Raise for an unknown cell, readout, clock or budget, or a count (T, B, D, H, repeats)
    below 1; return the policies to measure: None (full BPTT) first, then each budget."""
    if cell not in CELLS:
        raise BpttError(f"Unknown cell {cell!r} for the benchmark; expected one of {CELLS}.")
    if readout not in LONG_READOUTS:
        raise BpttError(f"Unknown readout {readout!r}; expected one of {LONG_READOUTS}.")
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise BpttError(f"`{name}` must be an integer >= 1, got {value!r}.")
    if clock not in CLOCKS:
        raise BpttError(f"Unknown clock {clock!r}; expected one of {tuple(CLOCKS)}.")
    policies: list[Budget | None] = [None, *(check_budget(b) for b in budgets)]
    labels = [policy_label(p) for p in policies]
    if len(set(labels)) != len(labels):
        raise BpttError(f"`budgets` repeats a policy: {list(budgets)!r}.")
    return policies


def _long_row(
    cell: str,
    config: BenchConfig,
    n_out: int,
    readout: str,
    policy: Budget | None,
    times: dict[str, list[float]],
) -> Row:
    """The {"kind": "long"} row of one policy: its plan's size and cost, and its times."""
    label = policy_label(policy)
    row: Row = {"kind": "long", "cell": cell, **config._asdict(), "O": n_out}
    row["readout"] = readout
    row["policy"] = label
    if policy is None:
        row["stored_states"] = row["step_evaluations"] = config.T
    else:
        plan = make_plan(config.T, policy)
        row["stored_states"] = peak_slots(plan)
        row["step_evaluations"] = plan_cost(plan)
    row["time_s"] = statistics.median(times[label])
    row["time_runs_s"] = times[label]
    ratios = [c / f for c, f in zip(times[label], times[FULL], strict=True)]
    row["time_ratio"] = None if policy is None else statistics.median(ratios)
    row["time_ratio_runs"] = None if policy is None else ratios
    return row


def _measure_memory(row: Row, policy: Budget | None, threads: int, rss: bool) -> None:
    """Add the step's tracemalloc peak and (when ``rss``) resident-set growth, in MiB."""
    config = BenchConfig(row["B"], row["T"], row["D"], row["H"])
    cell, n_out, readout = row["cell"], row["O"], row["readout"]
    peak = memory.tracemalloc_peak(cell, config, n_out, policy, readout)
    row["tracemalloc_mib"] = peak / 2**20
    growth = (
        memory.rss_growth("bptt", cell, config, n_out, threads, policy, readout) if rss else None
    )
    row["rss_mib"] = None if growth is None else growth / 2**20


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator; None when either is missing or the denominator is not > 0."""
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator
