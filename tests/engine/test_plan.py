"""Recomputation plans (bptt.engine.plan), tested on their own.

The dynamic program is checked against an exhaustive search over every plan of the memory
model in the module docstring, and every plan is replayed symbolically: each sweep must start
from a carry that is stored at that moment, and no moment may hold more than the budget.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import math
import time

import pytest

from bptt.engine import plan as plans
from bptt.engine.plan import (
    Advance,
    Reverse,
    evaluated_steps,
    hsm_cost,
    hsm_plan,
    make_plan,
    peak_slots,
    plan_cost,
    plan_from_positions,
    slots_for_bytes,
    sqrt_policy,
)


def brute_force_cost(T: int, m: int) -> int:
    """The fewest step evaluations over every plan of the model (Dijkstra on states).

    A state is (working carry position or None, stored positions >= 1, cached steps, gradient
    frontier g: steps >= g are done). Moves: load a stored carry (or carry0) into the working
    carry; evaluate the next step, optionally caching it (cost 1); store the working carry;
    drop a stored carry; backpropagate step g - 1 from its cache, which loses the working carry.
    """
    start = (0, frozenset(), frozenset(), T)
    best = {start: 0}
    queue = [(0, 0, start)]
    tie = itertools.count(1)
    while queue:
        cost, _, state = heapq.heappop(queue)
        if best[state] < cost:
            continue
        w, stored, cached, g = state
        if g == 0:
            return cost
        used = len(stored) + len(cached)
        moves = [(0, (p, stored, cached, g)) for p in {0, *stored} if p < g and p != w]
        if w is not None and w < g:
            moves.append((1, (w + 1, stored, cached, g)))
            if used < m:
                moves.append((1, (w + 1, stored, cached | {w}, g)))
                if w > 0 and w not in stored:
                    moves.append((0, (w, stored | {w}, cached, g)))
        moves += [(0, (w, stored - {p}, cached, g)) for p in stored]
        if g - 1 in cached:
            moves.append((0, (None, stored, cached - {g - 1}, g - 1)))
        for step_cost, new in moves:
            if cost + step_cost < best.get(new, math.inf):
                best[new] = cost + step_cost
                heapq.heappush(queue, (cost + step_cost, next(tie), new))
    raise AssertionError("the search always reaches g == 0")


def split_only_cost(T: int, m: int) -> int:
    """BPTT-HSM's split alone: C(t, m) = min_y y + C(t - y, m - 1) + C(y, m)."""

    @functools.cache
    def C(t: int, k: int) -> int:
        if t <= k:
            return t
        if k == 1:
            return t * (t + 1) // 2
        return min(y + C(t - y, k - 1) + C(y, k) for y in range(1, t))

    return C(T, m)


def replay(plan, T: int) -> int:
    """Check a plan against the model and return its peak slots (recomputed independently)."""
    stored = {0}
    frontier = T  # the gradient has reached every position >= frontier
    uses: dict[int, int] = {}
    for i, action in enumerate(plan):
        uses[action.start if isinstance(action, Advance) else action.origin] = i
    peak = 0
    for i, action in enumerate(plan):
        origin = action.start if isinstance(action, Advance) else action.origin
        assert origin in stored, f"action {i} {action} starts from a carry that is not stored"
        if uses[origin] == i:
            stored.discard(origin)
        held = len(stored - {0})
        if isinstance(action, Advance):
            assert origin < action.stop < frontier
            stored.add(action.stop)
            peak = max(peak, held + 1)
        else:
            assert origin <= action.start < action.stop == frontier
            frontier = action.start
            peak = max(peak, held + action.stop - action.start)
    assert frontier == 0, "the reverses must cover every step"
    return peak


def test_sqrt_policy_stores_every_ceil_sqrt_T_steps():
    assert sqrt_policy(1) == ()
    assert sqrt_policy(4) == (2,)
    assert sqrt_policy(10) == (4, 8)
    assert sqrt_policy(16) == (4, 8, 12)
    assert sqrt_policy(17) == (5, 10, 15)
    for T in range(1, 300):
        k = math.ceil(math.sqrt(T))
        assert sqrt_policy(T) == tuple(range(k, T, k))


def test_plan_from_positions_replays_each_segment_once():
    plan = plan_from_positions(10, (4, 8))
    assert plan == (
        Advance(0, 4),
        Advance(4, 8),
        Reverse(8, 8, 10),
        Reverse(4, 4, 8),
        Reverse(0, 0, 4),
    )
    assert evaluated_steps(plan) == [*range(10), *range(4, 8), *range(4)]
    assert plan_cost(plan) == 10 + 8  # T + the last stored position
    assert plan_from_positions(5, []) == (Reverse(0, 0, 5),)  # full BPTT


def test_sqrt_plan_costs_under_2T_with_about_2_sqrt_T_slots():
    for T in (1, 2, 7, 100, 1000, 1001):
        plan = make_plan(T, "sqrt")
        positions = sqrt_policy(T)
        assert plan_cost(plan) == T + (positions[-1] if positions else 0) < 2 * T
        assert replay(plan, T) == peak_slots(plan) <= 2 * math.isqrt(T) + 2


@pytest.mark.parametrize("T", range(1, 8))
def test_dynamic_program_equals_exhaustive_search(T):
    for m in range(1, 5):
        assert hsm_cost(T, m) == brute_force_cost(T, m), (T, m)


def test_the_split_alone_is_not_optimal_in_this_model():
    # Two moves beyond the split: keep the last caches without storing a carry, and let the
    # last sweep from a stored carry reuse its slot.
    assert split_only_cost(7, 2) == 17
    assert hsm_cost(7, 2) == brute_force_cost(7, 2) == 15
    assert (split_only_cost(100, 5), hsm_cost(100, 5)) == (381, 352)
    for T in range(1, 30):
        for m in range(1, 6):
            assert hsm_cost(T, m) <= split_only_cost(T, m)


def test_cost_boundary_cases_and_monotonicity():
    for T in range(1, 40):
        assert hsm_cost(T, 1) == T * (T + 1) // 2
        for m in range(T, T + 3):
            assert hsm_cost(T, m) == T
        costs = [hsm_cost(T, m) for m in range(1, T + 1)]
        assert all(a >= b for a, b in itertools.pairwise(costs)), costs  # more slots help
        for m in range(1, T):
            # Each step is evaluated at least once and at most m steps only once.
            assert hsm_cost(T, m) >= 2 * T - m
            assert hsm_cost(T + 1, m) >= hsm_cost(T, m) + 1


def test_hsm_plans_achieve_the_cost_within_the_budget():
    for T in range(1, 41):
        for m in range(1, 12):
            plan = hsm_plan(T, m)
            steps = evaluated_steps(plan)
            assert steps[:T] == list(range(T)), "the plan starts with the forward pass"
            assert len(steps) == plan_cost(plan) == hsm_cost(T, m)
            assert replay(plan, T) == peak_slots(plan) <= m


def test_hsm_plan_replay_order():
    # T = 7 with 2 slots: store the carry at 4, cache step 6, then replay 4..5 from the
    # stored carry (whose slot the caches reuse), then 0..3 twice from carry0.
    plan = hsm_plan(7, 2)
    assert plan == (
        Advance(0, 4),
        Reverse(4, 6, 7),
        Reverse(4, 4, 6),
        Reverse(0, 2, 4),
        Reverse(0, 0, 2),
    )
    assert evaluated_steps(plan) == [*range(7), 4, 5, *range(4), 0, 1]
    # One slot: every step is recomputed from carry0 (Gruslys et al.'s C(t, 1)).
    assert evaluated_steps(hsm_plan(4, 1)) == [0, 1, 2, 3, 0, 1, 2, 0, 1, 0]
    assert hsm_plan(5, 5) == hsm_plan(5, 9) == (Reverse(0, 0, 5),)


def test_T_1000_with_50_slots_costs_at_most_2T_and_is_fast():
    hsm_plan.cache_clear()
    plans._hsm_tables.cache_clear()  # time the dynamic program, not a cached table
    start = time.perf_counter()
    plan = hsm_plan(1000, 50)
    elapsed = time.perf_counter() - start
    assert plan_cost(plan) == hsm_cost(1000, 50) <= 2000
    assert replay(plan, 1000) <= 50
    assert elapsed < 2.0


def test_make_plan_dispatches_on_the_policy():
    assert make_plan(10, "sqrt") == plan_from_positions(10, (4, 8))
    assert make_plan(10, 3) == hsm_plan(10, 3)
    assert make_plan(10, [2, 5]) == plan_from_positions(10, (2, 5))


def test_slots_for_bytes():
    assert slots_for_bytes(1000, 300) == 3
    assert slots_for_bytes(300, 300) == 1


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: slots_for_bytes(299, 300), ValueError, r"minimum is 1 slot \(300 bytes\)"),
        (lambda: slots_for_bytes(0, 300), ValueError, "`budget_bytes` must be a positive"),
        (lambda: slots_for_bytes(100, -1), ValueError, "`bytes_per_state` must be a positive"),
        (lambda: hsm_cost(10, 0), ValueError, "minimum budget is 1 slot"),
        (lambda: hsm_plan(10, -3), ValueError, "`slots` is -3 but the minimum budget is 1"),
        (lambda: hsm_plan(0, 3), ValueError, r"`T` \(sequence length\) must be an integer >= 1"),
        (lambda: make_plan(10, 0), ValueError, "minimum budget is 1 slot"),
        (lambda: make_plan(10, "fast"), ValueError, "Unknown policy 'fast'"),
        (lambda: make_plan(10, True), TypeError, "`policy` is a bool"),
        (lambda: make_plan(10, 2.5), TypeError, "`policy` is float"),
        (lambda: make_plan(10, [0, 4]), ValueError, r"position 0 is outside \[1, T - 1\]"),
        (lambda: make_plan(10, [4, 10]), ValueError, r"position 10 is outside \[1, T - 1\]"),
        (lambda: make_plan(10, [5, 3]), ValueError, "strictly increasing, got \\[5, 3\\]"),
        (lambda: make_plan(10, [2.5]), TypeError, "positions must be integers"),
    ],
)
def test_bad_budgets_and_policies(call, error, match):
    with pytest.raises(error, match=match):
        call()
