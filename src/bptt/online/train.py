"""Online training: parameter updates from any estimator, every step or every k steps.

The model runs forward one step at a time; after each step the estimator may emit a
gradient estimate (``bptt.online.base``), which is added, with the readout's exact gradient,
to a pending sum. An update is applied at the first step at which the estimator has
emitted and at least ``every`` steps have passed since the previous update, with the mean
over the loss positions of those steps:

    every = 1, rtrl / uoro / snap / eprop    an update after every step (online learning)
    every = k                                an update every k steps
    tbptt:K, artbp:K                         an update when a segment ends (k steps at least)
    bptt                                     an update at the end of each sequence

Parameters change while a sequence runs, so a forward estimator's influence matrix mixes
steps taken with different parameters: the usual approximation of online RTRL (Williams &
Zipser 1989). The functions are pure: ``online_sequence`` maps (OnlineState, batch) to a new
OnlineState, ``train_online`` loops over a task's batches and reports through a callback;
nothing here reads files or prints.

How the Trainer can use it: for a TrainConfig with an estimator, build the one-layer
one-hot model of ``bptt.online.tasks.for_online(task)``, then call ``train_online`` with
``evaluate=lambda p: evaluate(model, p, task, config, "valid")`` and a callback that logs
and checkpoints; ``OnlineState`` holds everything a checkpoint needs (the estimator's state
is a NamedTuple of arrays and the Generator).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from bptt.errors import BpttError
from bptt.model import Model
from bptt.online.base import Estimator, Sizes
from bptt.online.stepper import (
    LAYER,
    as_features,
    cell_params,
    check_online_model,
    initial_carry,
    run_step,
)
from bptt.optim import GradientTransformation, apply_updates
from bptt.types import Carry, CellParams, Params
from bptt.window import Batch, loss_positions


class Pending(NamedTuple):
    """What is gathered since the last update.

    Attributes:
        grads: summed gradient estimates of the per-position losses (None: nothing yet).
        count: loss positions since the last update.
        steps: time steps since the last update.
        emitted: whether the estimator emitted since the last update.
    """

    grads: Params | None
    count: int
    steps: int
    emitted: bool


NOTHING = Pending(None, 0, 0, False)


class OnlineState(NamedTuple):
    """Everything online training carries from step to step.

    Attributes:
        params, opt_state: the model's parameters and the optimizer's state.
        estimator_state: the estimator's state, made once per batch size and carried
            through every sequence (what it drew once, e-prop's random feedback, stays).
        carry: the recurrent layer's carry.
        pending: the gradient gathered since the last update.
        rng: the estimator's random draws.
        updates: parameter updates applied.
        time_steps: time steps processed.
        skipped: updates skipped because the gradient was not finite.
        fresh: a new sequence starts at the next step: every sequence is reset there, so
            the estimator forgets the previous one (its influence, traces and buffers).
        batch_size: the B the estimator's state was made for.
    """

    params: Params
    opt_state: Any
    estimator_state: Any
    carry: Carry
    pending: Pending
    rng: np.random.Generator
    updates: int = 0
    time_steps: int = 0
    skipped: int = 0
    fresh: bool = False
    batch_size: int = 0


class SequenceMetrics(NamedTuple):
    """loss_sum over count loss positions of a sequence, and the updates it made."""

    loss_sum: float
    count: int
    updates: int


def init_online(
    model: Model,
    params: Params,
    estimator: Estimator,
    optimizer: GradientTransformation,
    batch_size: int,
    rng: np.random.Generator,
) -> OnlineState:
    """The state before the first step: optimizer state, zero carry, fresh estimator."""
    check_online_model(model)
    state = OnlineState(params, optimizer.init(params), None, None, NOTHING, rng)
    return start_sequence(model, estimator, state, batch_size)


def start_sequence(
    model: Model, estimator: Estimator, state: OnlineState, batch_size: int
) -> OnlineState:
    """A new independent sequence: zero carry, and the estimator told that every sequence
    restarts at the next step (a state is made only for a new batch size)."""
    carry = initial_carry(model, state.params, batch_size)
    if state.estimator_state is not None and state.batch_size == batch_size:
        return state._replace(carry=carry, fresh=True)
    p = cell_params(model, state.params)
    cfg = model.config
    sizes = Sizes(batch_size, int(cfg.input_size), cfg.hidden_size, int(cfg.output_size))
    estimator_state = estimator.init(model.cell, p, sizes, state.rng)
    return state._replace(
        estimator_state=estimator_state, carry=carry, fresh=False, batch_size=batch_size
    )


def online_sequence(
    model: Model,
    estimator: Estimator,
    optimizer: GradientTransformation,
    state: OnlineState,
    batch: Batch,
    *,
    loss: str,
    every: int = 1,
    masks: Params | None = None,
    limit: int | None = None,
) -> tuple[OnlineState, SequenceMetrics]:
    """Run ``batch`` step by step from ``state``, updating online (see the module docstring).

    Args:
        model, estimator, optimizer: the one-layer model, the estimator, the optimizer.
        state: the state at the batch's first step (``start_sequence`` for a new sequence).
        batch: inputs (T, B, D) floats or (T, B) token ids, targets, loss_mask, resets.
        loss: "xent" or "mse".
        every: the fewest steps between two updates.
        masks: optional {name: 0/1 array}: updates are multiplied by them (a sparse W_h
            stays sparse).
        limit: stop once this many updates have been applied in all.

    Returns:
        (the state after the batch, the estimator flushed; the batch's metrics).
    """
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise BpttError(f"`every` must be an integer >= 1 (steps between updates), got {every!r}.")
    positions = loss_positions(batch)
    D, dtype = int(model.config.input_size), state.params[f"{LAYER}.W_h"].dtype
    loss_sum, count, first = 0.0, 0, state.updates
    for t in range(batch.inputs.shape[0]):
        resets = None if batch.resets is None else np.asarray(batch.resets[t], dtype=bool)
        if state.fresh:  # the previous sequence ends here for every estimator
            resets, state = np.ones(batch.inputs.shape[1], dtype=bool), state._replace(fresh=False)
        x = as_features(batch.inputs[t], D, dtype)
        carry, inp, step_loss = run_step(
            model,
            state.params,
            state.carry,
            x,
            batch.targets[t],
            positions[t],
            loss=loss,
            scale=1.0,
            resets=resets,
        )
        p = cell_params(model, state.params)
        est_state, estimate = estimator.step(model.cell, p, state.estimator_state, inp)
        pending = _gather(state.pending, step_loss.readout, estimate, step_loss.count, 1)
        state = state._replace(
            carry=carry, estimator_state=est_state, pending=pending, time_steps=state.time_steps + 1
        )
        loss_sum, count = loss_sum + step_loss.value, count + step_loss.count
        if pending.emitted and pending.steps >= every and pending.count > 0:
            state = _update(optimizer, state, masks)
            if limit is not None and state.updates >= limit:
                break
    p = cell_params(model, state.params)
    est_state, estimate = estimator.flush(model.cell, p, state.estimator_state)
    state = state._replace(
        estimator_state=est_state, pending=_gather(state.pending, None, estimate, 0, 0)
    )
    if state.pending.emitted and state.pending.count > 0:
        state = _update(optimizer, state, masks)
    return state, SequenceMetrics(loss_sum, count, state.updates - first)


def _gather(
    pending: Pending, readout: Params | None, estimate: CellParams | None, count: int, steps: int
) -> Pending:
    """Add a step's readout gradient and the estimator's emission to the pending sum."""
    parts = dict(readout or {})
    if estimate is not None:
        parts |= {f"{LAYER}.{f}": g for f, g in zip(estimate._fields, estimate, strict=True)}
    grads = dict(pending.grads or {})
    for k, v in parts.items():
        grads[k] = grads[k] + v if k in grads else v
    emitted = pending.emitted or estimate is not None
    return Pending(grads or None, pending.count + count, pending.steps + steps, emitted)


def _update(
    optimizer: GradientTransformation, state: OnlineState, masks: Params | None
) -> OnlineState:
    """Apply the mean pending gradient (skipped, and counted, if not finite)."""
    pending = state.pending
    grads = {k: pending.grads.get(k) for k in state.params}
    if any(g is None for g in grads.values()) or not all(
        np.isfinite(g).all() for g in grads.values()
    ):
        return state._replace(pending=NOTHING, skipped=state.skipped + 1)
    grads = {k: g / pending.count for k, g in grads.items()}
    updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    if masks:
        updates = {k: u * masks[k] if k in masks else u for k, u in updates.items()}
    params = apply_updates(state.params, updates)
    return state._replace(
        params=params, opt_state=opt_state, pending=NOTHING, updates=state.updates + 1
    )


def train_online(
    model: Model,
    params: Params,
    task: Any,
    estimator: Estimator,
    optimizer: GradientTransformation,
    *,
    updates: int,
    batch_size: int,
    seed: int = 0,
    every: int = 1,
    chunk: int = 100,
    masks: Params | None = None,
    evaluate: Callable[[Params], dict[str, float]] | None = None,
    eval_every: int = 0,
    on_record: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[Params, list[dict[str, Any]]]:
    """Train ``model`` online on a task's batches until ``updates`` updates are applied.

    Args:
        model, params: a one-layer model (``stepper.check_online_model``) and its params.
        task: a task (bptt.train.tasks.Task; token tasks through ``tasks.for_online``):
            sequence tasks give a fresh batch per index, each from a zero state; a stateful
            task (a text) gives B streams, read in chunks of ``chunk`` steps with the carry
            and the estimator's state carried from chunk to chunk.
        estimator, optimizer: how gradients are estimated and applied.
        updates: parameter updates to apply.
        batch_size: B.
        seed: the batches' seed (``task.train_batch(seed, index, B)``) and the estimator's.
        every, masks: as for ``online_sequence``.
        evaluate: ``evaluate(params) -> {metric: value}``, called at the end of the
            sequence (or chunk) in which every ``eval_every``-th update happens, and at the
            end (e.g. bptt.train.evaluate.evaluate on "valid").
        on_record: called with every record as it is made (a CLI prints it).

    Returns:
        (the trained params, the records: {"kind": "train", "update", "time_steps",
        "loss", "seconds"} per sequence or chunk, {"kind": "eval", "update", ...metrics}).
    """
    if isinstance(updates, bool) or not isinstance(updates, int) or updates < 1:
        raise BpttError(f"`updates` must be an integer >= 1, got {updates!r}.")
    rng = np.random.default_rng([seed, 1])
    state = init_online(model, params, estimator, optimizer, batch_size, rng)
    records: list[dict[str, Any]] = []

    def record(entry: dict[str, Any]) -> None:
        records.append(entry)
        if on_record is not None:
            on_record(entry)

    start, index, next_eval = time.perf_counter(), 0, eval_every
    while state.updates < updates:
        batch = task.train_batch(seed, index, batch_size)
        T = batch.inputs.shape[0]
        spans = [(a, min(a + chunk, T)) for a in range(0, T, chunk)] if task.stateful else [(0, T)]
        state = start_sequence(model, estimator, state, batch_size)  # a new pass starts at zero
        for a, b in spans:
            state, metrics = online_sequence(
                model,
                estimator,
                optimizer,
                state,
                batch.slice(a, b),
                loss=task.loss,
                every=every,
                masks=masks,
                limit=updates,
            )
            record(_train_record(state, metrics, time.perf_counter() - start))
            if evaluate is not None and eval_every and state.updates >= next_eval:
                record({"kind": "eval", "update": state.updates, **evaluate(state.params)})
                next_eval = (state.updates // eval_every + 1) * eval_every
            if state.updates >= updates:
                break
        index += 1
    if evaluate is not None and (not records or records[-1]["kind"] != "eval"):
        record({"kind": "eval", "update": state.updates, **evaluate(state.params)})
    return state.params, records


def _train_record(state: OnlineState, metrics: SequenceMetrics, seconds: float) -> dict[str, Any]:
    mean = metrics.loss_sum / metrics.count if metrics.count else float("nan")
    return {
        "kind": "train",
        "update": state.updates,
        "time_steps": state.time_steps,
        "loss": mean,
        "skipped": state.skipped,
        "seconds": seconds,
    }
