"""Checkpointed BPTT: keep a few carries, recompute one segment's caches at a time.

Full BPTT keeps every step's cache (memory O(T)). Here a plan from ``bptt.engine.plan``
decides which carries to store; ``forward_checkpointed`` runs the plan's first sweep, keeping
those carries, the outputs hs (the readout needs them) and the caches of the last segment only.
``backward_checkpointed`` runs the rest of the plan: it replays each segment from a stored
carry with ``engine.full.forward`` (``engine.full.infer`` where no caches are kept),
backpropagates it with ``engine.full.backward`` (the gradient on its final carry is the one
that came out of the segment to its right) and sums the parameter gradients. The gradients
equal full BPTT's up to rounding; the price is the replayed steps, ``plan_cost(plan) - T`` of
them (Chen et al. 2016, arXiv:1604.06174; Gruslys et al. 2016, arXiv:1606.03401).

Example::

    hs, carry_T, tape = forward_checkpointed(cell, params, xs, policy=50)  # <= 50 slots
    grads, dxs, dcarry0 = backward_checkpointed(cell, params, tape, dhs)
    plan_cost(tape.plan)  # step evaluations of the two calls together

Like PyTorch's graph after ``backward()``, the tape's stored carries and caches are freed as
backward uses them, so one forward serves one backward.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

import numpy as np

from bptt.engine.full import Tape, backward, forward, infer
from bptt.engine.plan import Advance, Plan, Reverse, make_plan, peak_slots
from bptt.engine.validate import check_backward, check_carry, check_forward
from bptt.errors import BpttError, BpttTypeError
from bptt.kernels import Workspace
from bptt.types import Array, Cell, CellParams, Observer


class CheckpointTape(NamedTuple):
    """What ``forward_checkpointed`` keeps for ``backward_checkpointed``.

    Attributes:
        xs: (T, B, D) inputs, in the parameters' dtype (replays read them).
        mask: (T, B) bool or None.
        resets: (T, B) bool or None.
        plan: the whole schedule; forward ran its first sweep (``plan_cost(plan)`` counts
            the step evaluations of forward and backward together).
        carries: stored carries by position (0 is carry0); backward removes each at its
            last use.
        tail: a one-element list holding the Tape of the plan's first Reverse segment;
            backward empties it.
        slots: ``peak_slots(plan)``; advancing without caches runs in chunks that keep
            within it.
        workspace: the memory the segments' fused loops reuse.
    """

    xs: Array
    mask: np.ndarray | None
    resets: np.ndarray | None
    plan: Plan
    carries: dict[int, Any]
    tail: list[Tape]
    slots: int
    workspace: Workspace


def forward_checkpointed(
    cell: Cell,
    params: CellParams,
    xs: Array,
    carry0: Any = None,
    mask: Any = None,
    resets: Any = None,
    *,
    policy: str | int | Iterable[int] = "sqrt",
    outputs: bool = True,
    finite_check: bool = True,
    workspace: Workspace | None = None,
) -> tuple[Array | None, Any, CheckpointTape]:
    """Run ``cell`` over a sequence, keeping only the carries the policy stores.

    Args:
        cell, params, xs, carry0, mask, resets: as for ``engine.full.forward``; xs is
            (T, B, D), mask and resets (T, B) booleans, carry0 a carry of (B, H) fields.
        policy: "sqrt" (a carry every ceil(sqrt(T)) steps), an int m >= 1 (the cheapest plan
            within m slots, ``plan.hsm_plan``) or a list of positions in [1, T - 1] at
            which to store the carry.
        outputs: False when the caller reads only the final carry (a readout of the last
            step): hs, the one array of T steps besides xs, is then not kept.
        finite_check, workspace: as for ``engine.full.forward``; the segments it runs and
            replays are never scanned again.

    Returns:
        hs (T, B, H) outputs (None without ``outputs``), the final carry, and the tape for
        ``backward_checkpointed``; hs and the final carry equal ``engine.full.forward``'s.

    Raises:
        TypeError, ValueError: bad inputs (as ``engine.full.forward``) or a bad policy.
    """
    xs, carry0, mask, resets = check_forward(
        cell, params, xs, carry0, mask, resets, finite=finite_check
    )
    T, B, _ = xs.shape
    H = carry0.h.shape[1]
    plan = make_plan(T, policy)
    last = _last_uses(plan)
    first = _first_reverse(plan)
    workspace = workspace or Workspace()
    tape = CheckpointTape(xs, mask, resets, plan, {0: carry0}, [], peak_slots(plan), workspace)
    hs = np.empty((T, B, H), dtype=xs.dtype) if outputs else None
    for i in range(first):  # the Advances of the first sweep
        advance = plan[i]
        carry = _advance(cell, params, tape, _load(tape, advance, last, i), *advance, hs)
        _store(tape, advance.stop, carry)
    reverse = plan[first]
    carry = _load(tape, reverse, last, first)
    carry = _advance(cell, params, tape, carry, reverse.origin, reverse.start, hs)
    a, b = reverse.start, reverse.stop  # b == T
    hs_tail, carry_T, tail = _segment(cell, params, tape, carry, a, b)
    if hs is not None:
        hs[a:b] = hs_tail
    tape.tail.append(tail)
    return hs, carry_T, tape


def backward_checkpointed(
    cell: Cell,
    params: CellParams,
    tape: CheckpointTape,
    dhs: Array | None = None,
    dcarry_T: Any = None,
    *,
    observer: Observer | None = None,
    input_grad: bool = True,
) -> tuple[CellParams, Array | None, Any]:
    """Backpropagate through the whole sequence, replaying one segment at a time.

    Args:
        cell, params: as given to ``forward_checkpointed``.
        tape: the tape ``forward_checkpointed`` returned (usable once).
        dhs: (T, B, H) gradient of the loss with respect to hs, or None for zero.
        dcarry_T: gradient with respect to the final carry, or None.
        observer: optional ``observer(t, dcarry_t)`` with the global step t, called as by
            ``engine.full.backward``: t = T-1 down to 0.
        input_grad: False for no dxs (None), as in ``engine.full.backward``.

    Returns:
        (parameter gradients shaped like ``params``, dxs (T, B, D) or None, dcarry0), equal
        to ``engine.full.backward``'s up to rounding.

    Raises:
        TypeError, ValueError: a tape that is not a CheckpointTape or was used already, or
            parameters and gradients that do not fit it.
    """
    if not isinstance(tape, CheckpointTape):
        raise BpttTypeError(
            f"`tape` is {type(tape).__name__}; pass the CheckpointTape that "
            "forward_checkpointed returned (a Tape from engine.full.forward goes to backward)."
        )
    if not tape.tail:
        raise BpttError(
            "This CheckpointTape was used by backward_checkpointed already, which frees its "
            "carries and caches. Run forward_checkpointed again for another backward pass."
        )
    xs, plan = tape.xs, tape.plan
    T, B, _ = xs.shape
    H_tape = tape.tail[0].hs_ext.shape[-1]
    D, H, dtype, dhs = check_backward(cell, params, xs, H_tape, dhs)
    dcarry = None if dcarry_T is None else check_carry(cell, dcarry_T, B, H, dtype, name="dcarry_T")

    last = _last_uses(plan)
    first = _first_reverse(plan)
    grads = None
    dxs = np.empty((T, B, D), dtype=dtype) if input_grad else None
    for i in range(first, len(plan)):
        action = plan[i]
        if i == first:
            segment = tape.tail.pop()
        else:
            carry = _load(tape, action, last, i)
            if isinstance(action, Advance):
                _store(tape, action.stop, _advance(cell, params, tape, carry, *action))
                continue
            carry = _advance(cell, params, tape, carry, action.origin, action.start)
            segment = _segment(cell, params, tape, carry, action.start, action.stop)[2]
        a, b = action.start, action.stop
        g, dxs_ab, dcarry = backward(
            cell,
            params,
            segment,
            None if dhs is None else dhs[a:b],
            dcarry,
            observer=_shifted(observer, a),
            input_grad=input_grad,
            release=True,
            workspace=tape.workspace,
        )
        if dxs is not None:
            dxs[a:b] = dxs_ab
        grads = g if grads is None else type(g)(*(x + y for x, y in zip(grads, g, strict=True)))
    return grads, dxs, dcarry


def _first_reverse(plan: Plan) -> int:
    """Index of the Reverse that ends the first sweep (the Advances before it store carries)."""
    return next(i for i, action in enumerate(plan) if isinstance(action, Reverse))


def _last_uses(plan: Plan) -> dict[int, int]:
    """Position -> index of the last action that starts from the carry stored there."""
    return {_origin(action): i for i, action in enumerate(plan)}


def _origin(action: Advance | Reverse) -> int:
    return action.start if isinstance(action, Advance) else action.origin


def _load(tape: CheckpointTape, action: Advance | Reverse, last: dict[int, int], i: int) -> Any:
    """The stored carry an action starts from, dropped from the tape at its last use."""
    position = _origin(action)
    if last[position] == i:
        return tape.carries.pop(position)
    return tape.carries[position]


def _store(tape: CheckpointTape, position: int, carry: Any) -> None:
    """Store a copy of the carry, so that it holds on to no larger array it may view."""
    tape.carries[position] = type(carry)(*(np.array(a, copy=True) for a in carry))


def _advance(
    cell: Cell,
    params: CellParams,
    tape: CheckpointTape,
    carry: Any,
    start: int,
    stop: int,
    hs: Array | None = None,
) -> Any:
    """The carry at ``stop``, run from the one at ``start`` without keeping caches.

    ``engine.full.infer`` runs the steps in chunks no longer than the slots the plan is not
    using now, so the caches it may make and drop never raise the peak past ``tape.slots``.
    Writes the outputs into ``hs[start:stop]`` when given (the forward pass).
    """
    chunk = max(1, tape.slots - sum(1 for p in tape.carries if p > 0))
    for a in range(start, stop, chunk):
        b = min(a + chunk, stop)
        out, carry = infer(
            cell,
            params,
            tape.xs[a:b],
            carry,
            _rows(tape.mask, a, b),
            _rows(tape.resets, a, b),
            finite_check=False,
            workspace=tape.workspace,
        )
        if hs is not None:
            hs[a:b] = out
    return carry


def _segment(
    cell: Cell, params: CellParams, tape: CheckpointTape, carry: Any, start: int, stop: int
) -> tuple[Array, Any, Tape]:
    """``engine.full.forward`` over steps [start, stop) from ``carry``, keeping its caches."""
    return forward(
        cell,
        params,
        tape.xs[start:stop],
        carry,
        _rows(tape.mask, start, stop),
        _rows(tape.resets, start, stop),
        finite_check=False,
        workspace=tape.workspace,
    )


def _rows(flags: np.ndarray | None, start: int, stop: int) -> np.ndarray | None:
    """Steps [start, stop) of a (T, B) mask or resets array."""
    return None if flags is None else flags[start:stop]


def _shifted(observer: Observer | None, offset: int) -> Observer | None:
    """The observer with a segment's local step t reported as the global step offset + t."""
    if observer is None:
        return None
    return lambda t, dcarry: observer(offset + t, dcarry)
