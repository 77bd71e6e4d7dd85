"""TrainState and train_step: one BPTT(k1, k2) window and, if it has a loss, one update.

``train_step(state, batch, ...) -> (state, metrics)`` returns a new state, as flax's
TrainState.apply_gradients does; nothing is changed in place.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from bptt.engine.truncated import Window, cut
from bptt.model import Model
from bptt.optim import GradientTransformation, apply_updates, global_norm
from bptt.types import Params
from bptt.window import Batch, window_gradients


class TrainState(NamedTuple):
    """Everything that changes during training; with the config, enough to resume bit for bit.

    Attributes:
        params: model parameters.
        opt_state: optimizer state.
        step: parameter updates made.
        cursor: the data position (outer, inner): for a text stream (pass, window), for
            synthetic sequences (batch, window); the next window to train on.
        carries: the carried hidden state (one carry per layer), or None for zeros.
        rng_state: the dropout generator's ``bit_generator.state``.
        nonfinite_streak: non-finite windows in a row (reset by a finite one).
        nonfinite_total: non-finite windows skipped in the whole run.
    """

    params: Params
    opt_state: Any
    step: int
    cursor: tuple[int, int]
    carries: tuple[Any, ...] | None
    rng_state: dict[str, Any]
    nonfinite_streak: int = 0
    nonfinite_total: int = 0


class StepMetrics(NamedTuple):
    """What one window reports. ``updated`` is False for a window without loss positions or
    with a non-finite loss or gradient (the update is skipped)."""

    loss: float
    count: int
    grad_norm: float
    updated: bool
    nonfinite: bool


def init_state(
    model: Model, optimizer: GradientTransformation, seed: int, *, dtype: Any = np.float32
) -> TrainState:
    """Fresh parameters and optimizer state from ``seed``."""
    params = model.init(np.random.default_rng(seed), dtype=dtype)
    dropout_rng = np.random.default_rng([seed, 1])
    return TrainState(
        params, optimizer.init(params), 0, (0, 0), None, dropout_rng.bit_generator.state
    )


def _all_finite(grads: Params) -> bool:
    return all(np.isfinite(g).all() for g in grads.values())


def train_step(
    state: TrainState,
    batch: Batch,
    window: Window,
    *,
    model: Model,
    optimizer: GradientTransformation,
    loss: str,
    memory_policy: Any = None,
    reduce: Any = None,
) -> tuple[TrainState, StepMetrics]:
    """One window of BPTT(k1, k2) and its update.

    Args:
        state: the current state; ``state.carries`` is the state at ``window.start``.
        batch: the whole sequence the window is one of (``bptt.window.window_gradients``).
        window: the BPTT(k1, k2) window to train on.
        model, optimizer, loss: what to train and how.
        memory_policy: checkpointed BPTT inside the window (see Model.forward), or None.
        reduce: None for one process; for data-parallel training the World
            (``bptt.train.distributed``): ``batch`` and ``state.carries`` are this process's
            columns, ``reduce.gradients`` runs the window on them and ``reduce.combine``
            gives the whole batch's mean loss and gradient, so every process takes the same
            update (or skips the same window).

    Returns:
        (new state, metrics); the caller advances ``cursor``. A non-finite loss, gradient or
        carried state leaves the parameters and optimizer
        state unchanged, counts in ``nonfinite_streak``/``nonfinite_total`` and restarts the
        carried state from zeros.
    """
    rng = np.random.default_rng()
    rng.bit_generator.state = state.rng_state
    gradients = window_gradients if reduce is None else reduce.gradients
    result = gradients(
        model,
        state.params,
        batch,
        window,
        state.carries,
        loss=loss,
        train=model.config.dropout > 0,
        rng=rng,
        memory_policy=memory_policy,
    )
    moved = state._replace(rng_state=rng.bit_generator.state)
    carries_finite = result.carries_next is None or all(
        np.isfinite(a).all() for carry in result.carries_next for a in carry
    )
    if reduce is not None:  # one Allreduce: the whole batch's result on every process
        result, carries_finite = reduce.combine(result, carries_finite)
    if result.count == 0 and carries_finite:
        carries = cut(result.carries_next)
        return moved._replace(carries=carries), StepMetrics(math.nan, 0, math.nan, False, False)
    finite_grads = result.grads is not None and _all_finite(result.grads)
    norm = global_norm(result.grads) if finite_grads else math.inf
    if not (carries_finite and math.isfinite(result.loss) and math.isfinite(norm)):
        skipped = moved._replace(
            carries=None,
            nonfinite_streak=state.nonfinite_streak + 1,
            nonfinite_total=state.nonfinite_total + 1,
        )
        return skipped, StepMetrics(result.loss, result.count, norm, False, True)
    updates, opt_state = optimizer.update(result.grads, state.opt_state, state.params)
    new_state = moved._replace(
        params=apply_updates(state.params, updates),
        opt_state=opt_state,
        step=state.step + 1,
        carries=cut(result.carries_next),
        nonfinite_streak=0,
    )
    return new_state, StepMetrics(result.loss, result.count, norm, True, False)
