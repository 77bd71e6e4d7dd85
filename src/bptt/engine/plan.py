"""Recomputation plans for memory-budgeted (checkpointed) BPTT: which carries to keep, which
steps to replay.

A plan is a tuple of two kinds of action over steps 0..T-1, where position p is
the carry that enters step p (position 0 is ``carry0``):

    Advance(start, stop)          from the carry stored at ``start``, run steps [start, stop)
                                  without caches and store the carry at ``stop`` (a checkpoint)
    Reverse(origin, start, stop)  from the carry stored at ``origin``, run steps [origin, start)
                                  without caches, then [start, stop) keeping their caches, and
                                  backpropagate through [start, stop)

The plan starts with one forward sweep over all T steps (the original forward pass: Advances,
then the first Reverse, which ends at T); the Reverses then cover [0, T) from right to left, so
the gradient flows from one to the next. Everything here is a pure function of (T, budget).

Policies:

- ``sqrt_policy``: a checkpoint every k = ceil(sqrt(T)) steps, then every segment is replayed
  once (Chen, Xu, Zhang & Guestrin 2016, "Training Deep Nets with Sublinear Memory Cost",
  arXiv:1604.06174): about 2 sqrt(T) slots for T - k extra step evaluations.
- ``hsm_plan``: the cheapest plan within a budget of m slots, by dynamic programming
  (Gruslys, Munos, Danihelka, Lanctot & Graves 2016, "Memory-Efficient Backpropagation
  Through Time", NeurIPS, arXiv:1606.03401, BPTT-HSM), derived below for this engine.

Memory model. A slot holds either one stored carry at a position p >= 1 or the cache of one
step (what ``step_backward`` reads). ``carry0`` and the working carry being advanced are not
counted; the working carry is lost when a Reverse backpropagates, so every sweep starts from a
stored carry. A stored carry may be dropped at the start of its last use, so the caches of that
sweep can take its slot. The cost is the number of ``step_forward`` calls, the original forward
pass included, so no plan costs less than T.

Recursion. F(t, m) is the cost of backpropagating t steps from a free start (``carry0``) with
m slots; S(t, m) the same when the start is a stored carry occupying one of the m slots. The
first sweep either stores no carry and keeps the last k caches (k = m, or m - 1 while the start
is still needed), or stores the carry at some y (the first checkpoint): the right part [y, t)
is then an S problem, and the left part [0, y) is solved afterwards, with the same slots::

    F(t, m) = t                                                    t <= m
    F(t, m) = min( t + F(t - m, m),  min_{0<y<t} y + S(t - y, m) + F(y, m) )
    S(t, m) = t                                                    t <= m
    S(t, 1) = inf                                                  t > 1
    S(t, m) = min( t + S(t - m + 1, m),  min_{0<y<t} y + S(t - y, m - 1) + S(y, m) )

So F(t, 1) = t(t + 1) / 2 and F(t, m) = t for m >= t. The split y + C(t - y, m - 1) + C(y, m)
is BPTT-HSM's as usually quoted (C(t, 1) = t(t + 1)/2, C(t, m) = t for t <= m; this project
has not checked the recursion against the paper's text). The no-store move and the reuse of a
dropped start's slot are what this engine can also do; an exhaustive search over every plan
of the model above agrees with F for T <= 11, m <= 5 (the tests rerun T <= 7, m <= 4), and
the split alone costs more (T = 7, m = 2: 17 step evaluations instead of 15; T = 100, m = 5:
381 instead of 352).

Complexity: tables of (T + 1) x (m + 1) costs, each entry a minimum over y < t, computed one t
at a time with the minimum vectorised over y and m: O(T^2 m) integer operations and O(T m)
memory. Measured on a 2-core machine: T = 1000, m = 50 in 0.03 s; T = 10,000 in 1 s for
m = 50 and 6 to 10 s for m = 300 (plans are cached). F and S are not convex in t, their
minimising y is not monotone in t, and the split alone's costs are not convex either, so
Knuth's, SMAWK's and slope-merging shortcuts do not apply.

Example::

    plan = hsm_plan(1000, 50)    # every Advance stop is a stored carry
    plan_cost(plan)              # step evaluations, forward pass included: <= 2000
    peak_slots(plan)             # <= 50
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

from bptt.errors import BpttError, BpttTypeError

POLICY_HELP = (
    "Use policy='sqrt', a number of slots (an int >= 1, the cheapest plan within that budget) "
    "or a list of checkpoint positions in [1, T - 1]."
)


class Advance(NamedTuple):
    """Run steps [start, stop) from the carry stored at ``start``; store the carry at ``stop``."""

    start: int
    stop: int


class Reverse(NamedTuple):
    """Replay from the carry stored at ``origin`` and backpropagate through [start, stop).

    Steps [origin, start) run without caches, steps [start, stop) keep theirs.
    """

    origin: int
    start: int
    stop: int


Action = Advance | Reverse
Plan = tuple[Action, ...]


def _check_length(T: int) -> int:
    if isinstance(T, bool) or not isinstance(T, int | np.integer) or T < 1:
        raise BpttError(f"`T` (sequence length) must be an integer >= 1, got {T!r}.")
    return int(T)


def _check_slots(slots: int) -> int:
    if isinstance(slots, bool) or not isinstance(slots, int | np.integer):
        raise BpttTypeError(f"`slots` must be an integer number of stored states, got {slots!r}.")
    if slots < 1:
        raise BpttError(
            f"`slots` is {slots} but the minimum budget is 1 slot: backpropagating a step needs "
            "its cache. Give at least 1 slot (or use policy='sqrt')."
        )
    return int(slots)


def slots_for_bytes(budget_bytes: int, bytes_per_state: int) -> int:
    """The number of slots a memory budget in bytes holds: budget_bytes // bytes_per_state.

    Args:
        budget_bytes: memory allowed for stored carries and step caches.
        bytes_per_state: bytes of one slot, one step's share of full BPTT's memory (e.g.
            tracemalloc's peak for ``engine.full`` forward and backward, divided by T; about
            11 * B * H floats for an LSTM: gates, tanh(c), c, h and the input projection).

    Raises:
        ValueError: a non-positive size, or a budget below the minimum of one slot.
    """
    for name, value in (("budget_bytes", budget_bytes), ("bytes_per_state", bytes_per_state)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise BpttError(f"`{name}` must be a positive integer, got {value!r}.")
    slots = int(budget_bytes) // int(bytes_per_state)
    if slots < 1:
        raise BpttError(
            f"A budget of {budget_bytes} bytes holds no state of {bytes_per_state} bytes; the "
            f"minimum is 1 slot ({bytes_per_state} bytes). Raise `budget_bytes`."
        )
    return slots


def sqrt_policy(T: int) -> tuple[int, ...]:
    """Store the carry every k = ceil(sqrt(T)) steps (Chen et al. 2016, arXiv:1604.06174).

    Returns:
        The stored positions k, 2k, ... below T (none when T <= k).

    Examples:
        >>> sqrt_policy(10)
        (4, 8)
    """
    T = _check_length(T)
    k = math.isqrt(T - 1) + 1  # ceil(sqrt(T))
    return tuple(range(k, T, k))


def plan_from_positions(T: int, positions: Iterable[int]) -> Plan:
    """The plan that stores the carry at each of ``positions`` and replays each segment once.

    The forward sweep stores the carries and keeps the caches of the last segment; backward
    then replays the segments from right to left. With positions p_1 < ... < p_k the cost is
    T + p_k step evaluations.

    Args:
        T: sequence length.
        positions: strictly increasing positions in [1, T - 1].

    Raises:
        ValueError: positions out of range, repeated or unsorted.
    """
    T = _check_length(T)
    points = list(positions)
    for p in points:
        if isinstance(p, bool) or not isinstance(p, int | np.integer):
            raise BpttTypeError(f"Checkpoint positions must be integers, got {p!r} in {points}.")
        if not 1 <= p <= T - 1:
            raise BpttError(
                f"Checkpoint position {p} is outside [1, T - 1] = [1, {T - 1}]; position p "
                "stores the carry entering step p (0 is carry0)."
            )
    if any(b <= a for a, b in itertools.pairwise(points)):
        raise BpttError(f"Checkpoint positions must be strictly increasing, got {points}.")
    segments = list(itertools.pairwise([0, *(int(p) for p in points), T]))
    advances = [Advance(a, b) for a, b in segments[:-1]]
    reverses = [Reverse(a, a, b) for a, b in reversed(segments)]
    return (*advances, *reverses)


class _Tables(NamedTuple):
    """The dynamic program's costs for T steps and up to M slots (index [m, t])."""

    S: np.ndarray  # (M + 1, T + 1) S(t, m); row 0 unused
    split_S: np.ndarray  # (M + 1, T + 1) y + S(y, m), the left part of a split at y
    rev_S: np.ndarray  # (M + 1, T + 1) rev_S[m, T - t] = S(t, m), so S(t - y, m) is a slice
    F: np.ndarray  # (T + 1,) F(t, M)


@functools.lru_cache(maxsize=1)
def _hsm_tables(T: int, M: int) -> _Tables:
    """Fill S for m = 1..M and F for m = M only, for every t <= T, one t at a time.

    Row t needs only rows < t, so each row is a few array operations over (y, m); the slices
    are laid out so that every operand is contiguous.
    """
    # Costs stay below T(T + 1)/2; int32 halves the memory traffic while 3 * inf still fits.
    dtype, inf = (np.int32, 1 << 29) if T < 30_000 else (np.int64, 1 << 60)
    S = np.full((M + 1, T + 1), inf, dtype=dtype)
    S[1:, 0] = 0
    steps = np.arange(T + 1, dtype=dtype)
    split_S = S + steps
    rev_S = S[:, ::-1].copy()
    F = np.zeros(T + 1, dtype=dtype)
    buf = np.empty((M, T), dtype=dtype)
    for t in range(1, T + 1):
        S[t:, t] = t  # the whole stretch fits (m >= t); empty once t > M
        hi = min(M, t - 1)  # columns 2..hi need the recursion; S(t, 1) stays inf
        if hi >= 2:
            m = np.arange(2, hi + 1)
            no_store = t + S[m, t - m + 1]  # (hi - 1,)
            split = buf[: hi - 1, : t - 1]  # [m - 2, y - 1] = y + S(y, m) + S(t - y, m - 1)
            np.add(split_S[2 : hi + 1, 1:t], rev_S[1:hi, T - t + 1 : T], out=split)
            S[2 : hi + 1, t] = np.minimum(split.min(axis=1), no_store)
        split_S[:, t] = S[:, t] + t
        rev_S[:, T - t] = S[:, t]
        if t <= M:
            F[t] = t
        else:
            split = steps[1:t] + F[1:t] + rev_S[M, T - t + 1 : T]  # (t - 1,)
            F[t] = min(int(split.min()), t + int(F[t - M]))
    return _Tables(S, split_S, rev_S, F)


def hsm_cost(T: int, slots: int) -> int:
    """The fewest step evaluations that backpropagate T steps within ``slots`` slots.

    F(T, slots) of the module docstring: the original forward pass plus every replayed step.

    Raises:
        ValueError: T < 1 or fewer than 1 slot.
    """
    T, slots = _check_length(T), _check_slots(slots)
    if slots >= T:
        return T
    return int(_hsm_tables(T, slots).F[T])


def _first_checkpoint(tables: _Tables, T: int, free_start: bool, t: int, m: int) -> int:
    """The y of a cheapest split of (t, m), or 0 when storing nothing is as cheap (t > m)."""
    right = tables.rev_S[m if free_start else m - 1, T - t + 1 : T]  # S(t - y, .), y = 1..t-1
    if free_start:
        split = np.arange(1, t) + tables.F[1:t] + right
        no_store = t + tables.F[t - m]
    else:
        split = tables.split_S[m, 1:t] + right
        no_store = t + tables.S[m, t - m + 1]
    y = int(split.argmin())
    return y + 1 if split[y] < no_store else 0


@functools.lru_cache(maxsize=32)
def hsm_plan(T: int, slots: int) -> Plan:
    """A cheapest plan for T steps within ``slots`` slots (the dynamic program above).

    Ties between first checkpoints go to the smallest y, and storing nothing wins ties with
    storing, so the plan is deterministic. ``plan_cost(hsm_plan(T, m)) == hsm_cost(T, m)`` and
    ``peak_slots(hsm_plan(T, m)) <= m``.

    Raises:
        ValueError: T < 1 or fewer than 1 slot.
    """
    T, slots = _check_length(T), _check_slots(slots)
    if slots >= T:
        return (Reverse(0, 0, T),)
    tables = _hsm_tables(T, slots)
    plan: list[Action] = []
    # Work items (free_start, origin, t, m); the right part of a split is solved before its left.
    todo = [(True, 0, T, slots)]
    while todo:
        free_start, origin, t, m = todo.pop()
        if t == 0:
            continue
        if t <= m:
            plan.append(Reverse(origin, origin, origin + t))
            continue
        y = _first_checkpoint(tables, T, free_start, t, m)
        if y == 0:
            k = m if free_start else m - 1
            plan.append(Reverse(origin, origin + t - k, origin + t))
            todo.append((free_start, origin, t - k, m))
        else:
            plan.append(Advance(origin, origin + y))
            todo.append((free_start, origin, y, m))
            todo.append((False, origin + y, t - y, m if free_start else m - 1))
    return tuple(plan)


def make_plan(T: int, policy: str | int | Iterable[int]) -> Plan:
    """The plan for a policy: "sqrt", a number of slots (``hsm_plan``) or explicit positions.

    Args:
        T: sequence length.
        policy: "sqrt" (``sqrt_policy``), an int m >= 1 (the cheapest plan within m slots) or
            an iterable of checkpoint positions in [1, T - 1] (``plan_from_positions``; empty
            means full BPTT).

    Raises:
        ValueError, TypeError: an unknown policy, a budget below 1 slot, or bad positions.
    """
    if isinstance(policy, str):
        if policy == "sqrt":
            return plan_from_positions(T, sqrt_policy(T))
        raise BpttError(f"Unknown policy {policy!r}. {POLICY_HELP}")
    if isinstance(policy, bool):
        raise BpttTypeError(f"`policy` is a bool. {POLICY_HELP}")
    if isinstance(policy, int | np.integer):
        return hsm_plan(T, policy)
    if isinstance(policy, Iterable):
        return plan_from_positions(T, policy)
    raise BpttTypeError(f"`policy` is {type(policy).__name__}. {POLICY_HELP}")


def evaluated_steps(plan: Plan) -> list[int]:
    """Every ``step_forward`` call of the plan, in order, as the step index it evaluates.

    The first T entries are the original forward pass 0..T-1; the rest are the replays.
    """
    steps: list[int] = []
    for action in plan:
        first = action.start if isinstance(action, Advance) else action.origin
        steps.extend(range(first, action.stop))
    return steps


def plan_cost(plan: Plan) -> int:
    """The number of step evaluations of a plan: ``len(evaluated_steps(plan))``."""
    return sum(a.stop - (a.start if isinstance(a, Advance) else a.origin) for a in plan)


def peak_slots(plan: Plan) -> int:
    """The most slots the plan holds at once, in the memory model of the module docstring.

    Stored carries at positions >= 1 count one slot each until the start of their last use;
    a Reverse adds one slot per step in [start, stop) while it runs.
    """
    last_use: dict[int, int] = {}
    for i, action in enumerate(plan):
        last_use[action.start if isinstance(action, Advance) else action.origin] = i
    stored: set[int] = set()
    peak = 0
    for i, action in enumerate(plan):
        origin = action.start if isinstance(action, Advance) else action.origin
        if last_use[origin] == i:
            stored.discard(origin)
        if isinstance(action, Advance):
            stored.add(action.stop)
            peak = max(peak, len(stored))
        else:
            peak = max(peak, len(stored) + action.stop - action.start)
    return peak
