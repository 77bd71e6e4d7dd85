"""ARTBP: truncated BPTT at random points, reweighted so that it is unbiased.

Anticipated Reweighted Truncated Backpropagation (Tallec & Ollivier 2017, "Unbiasing
Truncated Backpropagation Through Time", arXiv:1705.08209). After every step the link to
the next step is cut with probability c; a segment between two cuts is backpropagated when
it ends, and the gradient passed back across an uncut link is multiplied by the
compensation factor 1 / (1 - c). A dependency l steps long survives with probability
(1 - c)^l and is then weighted by (1 - c)^-l, so the expected estimate is the full BPTT
gradient, where truncated BPTT drops every dependency longer than its window.

Here c = 1 / mean_length (segment lengths are geometric with mean ``mean_length``, the
counterpart of truncated BPTT's K). The paper also lets c depend on the step; the constant
rate is the simplest unbiased choice, and its price is variance that grows like
(1 - c)^-l with the length l of the dependencies the loss has.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from bptt.errors import BpttError
from bptt.online.backprop import Buffered, backprop_segment, buffered
from bptt.online.base import Sizes, StepInput
from bptt.types import Cell, CellParams


class ARTBPState(NamedTuple):
    """steps: the current segment, oldest first; rng: draws the cuts."""

    steps: tuple[Buffered, ...]
    rng: np.random.Generator


@dataclass(frozen=True)
class ARTBP:
    """ARTBP with a constant cut probability c = 1 / ``mean_length`` (> 1)."""

    mean_length: float
    stochastic: bool = True

    def __post_init__(self) -> None:
        if not (isinstance(self.mean_length, int | float) and self.mean_length > 1):
            raise BpttError(
                f"`mean_length` of ARTBP must be a number > 1 (the mean segment length; the cut "
                f"probability is 1 / mean_length), got {self.mean_length!r}."
            )

    @property
    def name(self) -> str:
        return f"artbp:{self.mean_length:g}"

    @property
    def cut_probability(self) -> float:
        return 1.0 / self.mean_length

    def init(self, cell: Cell, params: CellParams, sizes: Sizes, rng: np.random.Generator) -> Any:
        return ARTBPState((), rng)

    def step(
        self, cell: Cell, params: CellParams, state: ARTBPState, inp: StepInput
    ) -> tuple[ARTBPState, CellParams | None]:
        """Buffer the step (its link to the previous one was not cut, so the gradient crossing
        it is compensated), then draw whether the link to the next step is cut."""
        c = self.cut_probability
        steps = (*state.steps, buffered(inp, 1.0 / (1.0 - c)))
        if state.rng.random() < c:
            return ARTBPState((), state.rng), backprop_segment(cell, params, steps)
        return ARTBPState(steps, state.rng), None

    def flush(
        self, cell: Cell, params: CellParams, state: ARTBPState
    ) -> tuple[ARTBPState, CellParams | None]:
        """The sequence ends: backpropagate the last segment."""
        if not state.steps:
            return state, None
        return ARTBPState((), state.rng), backprop_segment(cell, params, state.steps)
