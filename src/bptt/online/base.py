"""The one interface of every gradient estimator: consume one step, emit a gradient estimate.

An estimator watches a single recurrent layer run forward one step at a time. At step t it
receives the step's values (``StepInput``: the input, the carries before and after, the
cell's cache, and dL_t/ds_t, the gradient of this step's loss on the new carry through the
readout alone) and returns an estimate of the gradient of the losses it has seen with respect
to the cell's parameters, or None when it has nothing to emit yet:

    state = estimator.init(cell, params, sizes, rng)
    for t in range(T):
        state, estimate = estimator.step(cell, params, state, step_input_t)   # CellParams | None
    state, estimate = estimator.flush(cell, params, state)                    # end of sequence

Forward-mode estimators (RTRL, UORO, SnAp, e-prop) emit at every step the estimate of
dL_t/dtheta, so parameters can change at every step. Backward ones (BPTT, truncated BPTT,
ARTBP) buffer steps and emit the gradient of a whole segment's losses when it ends; ``flush``
ends the last one. Over a sequence, the emitted estimates sum to an estimate of the gradient
of the sequence's loss sum_t L_t, which full BPTT computes exactly; ``bptt.online.compare``
measures each estimator against it.

Estimators are frozen dataclasses holding their settings; their state is a NamedTuple passed
in and returned (a NumPy Generator inside it is advanced in place, as the trainer's is).
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

import numpy as np

from bptt.types import Array, Carry, Cell, CellParams


class Sizes(NamedTuple):
    """The sizes an estimator is built for: B sequences, D inputs, H units, O outputs."""

    batch: int
    inputs: int
    hidden: int
    outputs: int


class StepInput(NamedTuple):
    """What an estimator sees of step t.

    Attributes:
        x: (B, D) the step's input.
        carry_prev: the carry entering the step (after any reset), fields (B, H).
        carry: the carry the step returned.
        cache: the cache ``cell.step_forward`` returned.
        dcarry: dL_t/ds_t, the gradient of the step's loss on the new carry through the
            readout of this step only (c's field is zero for the LSTM).
        doutputs: (B, O) dL_t/d(outputs_t), for estimators with their own feedback weights.
        resets: (B,) bool, sequences whose carry was zeroed before this step, or None.
    """

    x: Array
    carry_prev: Carry
    carry: Carry
    cache: Any
    dcarry: Carry
    doutputs: Array
    resets: np.ndarray | None = None


class Estimator(Protocol):
    """A gradient estimator of one recurrent layer (see the module docstring).

    Attributes:
        name: how ``make_estimator`` spells it ("rtrl", "tbptt:10", ...).
        stochastic: whether its estimate depends on its random draws (then ``compare``
            averages several draws).
    """

    name: str
    stochastic: bool

    def init(self, cell: Cell, params: CellParams, sizes: Sizes, rng: np.random.Generator) -> Any:
        """The state before the first step of a sequence."""
        ...

    def step(
        self, cell: Cell, params: CellParams, state: Any, inp: StepInput
    ) -> tuple[Any, CellParams | None]:
        """Consume one step; return the new state and an estimate (or None)."""
        ...

    def flush(self, cell: Cell, params: CellParams, state: Any) -> tuple[Any, CellParams | None]:
        """End of a sequence (or stream chunk): emit what is still buffered (or None)."""
        ...


def state_bytes(value: Any) -> int:
    """Bytes of every array held in a state (NamedTuples, tuples, lists and dicts walked)."""
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, dict):
        return sum(state_bytes(v) for v in value.values())
    if isinstance(value, tuple | list):
        return sum(state_bytes(v) for v in value)
    return 0


def zero_rows(a: Array, rows: np.ndarray | None) -> Array:
    """``a`` with the leading-axis rows ``rows`` (a (B,) bool mask) set to zero, copied."""
    if rows is None or not rows.any():
        return a
    out = a.copy()
    out[rows] = 0.0
    return out


def as_params(params: CellParams, grads: dict[str, Array]) -> CellParams:
    """Per-field gradient arrays (any shape of the same size) as the cell's NamedTuple."""
    pairs = zip(params._fields, params, strict=True)
    return type(params)(*(grads[f].reshape(p.shape) for f, p in pairs))


def add_params(a: CellParams | None, b: CellParams | None) -> CellParams | None:
    """a + b field by field; None is zero."""
    if a is None:
        return b
    if b is None:
        return a
    return type(a)(*(x + y for x, y in zip(a, b, strict=True)))


def flat(params: CellParams) -> Array:
    """Every field raveled and concatenated, in field order (the parameter vector theta)."""
    return np.concatenate([np.ravel(p) for p in params])
