"""The backward estimators: full BPTT and truncated BPTT(K, K) in the step-by-step interface.

Both buffer the steps they see and, when a segment ends, backpropagate through it with the
cell's own ``step_backward`` and ``weight_grads`` (the reference the engine is tested
against), emitting the gradient of the segment's losses:

    BPTT            one segment per sequence, emitted by ``flush``: the exact gradient that
                    every other estimator is measured against.
    TBPTT(K)        a segment every K steps, the carried state's gradient cut at each start
                    (Williams & Peng 1990, Neural Computation 2(4)); equal to
                    ``bptt.window.window_gradients`` over ``windows(T, truncation(K))``.

``backprop_segment`` also takes a factor per step for ARTBP (``bptt.online.artbp``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from bptt.errors import BpttError
from bptt.online.base import Sizes, StepInput, zero_rows
from bptt.types import Array, Carry, Cell, CellParams


class Buffered(NamedTuple):
    """One step kept for backpropagation.

    Attributes:
        x: (B, D) the input.
        h_prev: (B, H) the carried h entering the step.
        cache: the cell's cache.
        dcarry: dL_t/ds_t through the step's readout.
        resets: (B,) bool or None: the gradient stops at this step for these sequences.
        factor: multiplies the gradient passed back from this step to the previous one
            (1, or ARTBP's compensation 1 / (1 - c)).
    """

    x: Array
    h_prev: Array
    cache: Any
    dcarry: Carry
    resets: np.ndarray | None
    factor: float = 1.0


class BufferState(NamedTuple):
    """steps: the buffered steps of the current segment, oldest first."""

    steps: tuple[Buffered, ...]


def buffered(inp: StepInput, factor: float = 1.0) -> Buffered:
    """What a backward estimator keeps of a step."""
    return Buffered(inp.x, inp.carry_prev.h, inp.cache, inp.dcarry, inp.resets, factor)


def backprop_segment(cell: Cell, params: CellParams, steps: tuple[Buffered, ...]) -> CellParams:
    """The gradient of the segment's losses, nothing flowing into the carry before it.

    Walks the steps backwards: dcarry_t += dL_t/ds_t, then ``cell.step_backward``; the
    gradient passed to the previous step is multiplied by the step's ``factor`` and zeroed
    for the sequences reset at the step. The weight gradients are one stacked product
    (``cell.weight_grads``).
    """
    dxps: list[Array] = [None] * len(steps)  # type: ignore[list-item]
    dhps: list[Array] = [None] * len(steps)  # type: ignore[list-item]
    dcarry = None
    for k in range(len(steps) - 1, -1, -1):
        step = steps[k]
        if dcarry is None:
            dcarry = step.dcarry
        else:
            dcarry = type(dcarry)(*(a + b for a, b in zip(dcarry, step.dcarry, strict=True)))
        dprev, dxps[k], dhps[k] = cell.step_backward(params, step.cache, dcarry)
        dcarry = type(dprev)(*(zero_rows(a * step.factor, step.resets) for a in dprev))
    xs = np.stack([s.x for s in steps])  # (K, B, D)
    hs_prev = np.stack([s.h_prev for s in steps])  # (K, B, H)
    grads, _ = cell.weight_grads(params, xs, hs_prev, np.stack(dxps), np.stack(dhps))
    return grads


@dataclass(frozen=True)
class TruncatedBPTT:
    """BPTT(K, K) step by step: every K steps, the gradient of those K steps' losses,
    backpropagated through them only. ``k=None`` is full BPTT (emitted by ``flush``)."""

    k: int | None = None
    stochastic: bool = False

    def __post_init__(self) -> None:
        if self.k is not None and (not isinstance(self.k, int) or self.k < 1):
            raise BpttError(f"`k` of truncated BPTT must be an integer >= 1, got {self.k!r}.")

    @property
    def name(self) -> str:
        return "bptt" if self.k is None else f"tbptt:{self.k}"

    def init(self, cell: Cell, params: CellParams, sizes: Sizes, rng: np.random.Generator) -> Any:
        return BufferState(())

    def step(
        self, cell: Cell, params: CellParams, state: BufferState, inp: StepInput
    ) -> tuple[BufferState, CellParams | None]:
        """Buffer the step; at the K-th, backpropagate the window and start a new one."""
        steps = (*state.steps, buffered(inp))
        if self.k is not None and len(steps) == self.k:
            return BufferState(()), backprop_segment(cell, params, steps)
        return BufferState(steps), None

    def flush(
        self, cell: Cell, params: CellParams, state: BufferState
    ) -> tuple[BufferState, CellParams | None]:
        """Backpropagate what is buffered (the sequence's last, possibly short, window)."""
        if not state.steps:
            return state, None
        return BufferState(()), backprop_segment(cell, params, state.steps)


def full_bptt() -> TruncatedBPTT:
    """Full BPTT: one segment per sequence, emitted by ``flush``."""
    return TruncatedBPTT(None)
