"""Evaluation: a task's metric and mean loss on its validation or test split.

Sums are taken in float64 over every loss position of every batch, then divided once, so a
short last window or batch weighs each position the same as the others.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from bptt.engine.truncated import truncation, windows
from bptt.losses import softmax_nll
from bptt.model import Model
from bptt.train.config import TrainConfig
from bptt.train.tasks import Task
from bptt.types import Params
from bptt.window import Batch, loss_positions, per_step

EVAL_BATCH_SIZE = 250
"""Sequences per evaluation batch of a task that is not stateful (a text keeps its B streams)."""


def loss_sums(loss: str, outputs: np.ndarray, batch: Batch) -> tuple[float, int, int]:
    """(summed loss, number of loss terms, correct predictions) at the loss positions.

    Args:
        loss: "xent" or "mse".
        outputs: (T, B, O) the model's outputs on ``batch``.
        batch: the batch, with its ``loss_mask`` and ``mask``.
    """
    positions = loss_positions(batch)  # (T, B)
    picked = outputs[positions].astype(np.float64)  # (N, O)
    targets = np.asarray(batch.targets)[positions]  # (N,) ids or (N, O) values
    if loss == "mse":
        return float(np.sum((picked - targets) ** 2)), int(picked.size), 0
    nll = softmax_nll(picked, targets)  # (N,)
    correct = int((picked.argmax(axis=1) == targets).sum())
    return float(nll.sum()), int(targets.size), correct


def evaluate(
    model: Model,
    params: Params,
    task: Task,
    config: TrainConfig,
    split: str,
    *,
    shard: Any = None,
) -> dict:
    """The task's metric on ``split`` ("valid" or "test"), with the mean loss.

    A stateful task (text) is read in windows of ``eval_window`` steps with the state carried
    across windows (never reset per window), or, for a model trained with ``carry=False``, in
    windows of k1 steps from a zero state, as it was trained. Any other task's batches are
    run whole from a zero state: a fixed set of ``eval_sequences`` synthetic sequences, or a
    real split.

    With ``shard`` (data-parallel training: the World of ``bptt.train.distributed``), each
    process scores its columns of every batch and the sums are added over the processes.

    Returns:
        {metric name: value, "loss": mean loss per loss term}.
    """
    loss_sum, count, correct = 0.0, 0, 0
    batches = task.eval_batches(
        split,
        seed=config.seed,
        batch_size=config.batch_size if task.stateful else EVAL_BATCH_SIZE,
        num_sequences=config.eval_sequences,
    )
    for batch in batches:
        if shard is not None:
            batch = shard.columns(batch)
            if batch.inputs.shape[1] == 0:
                continue  # more processes than columns: nothing to score here
        for part, out in _outputs(model, params, task, config, batch):
            s, n, c = loss_sums(task.loss, out, part)
            loss_sum, count, correct = loss_sum + s, count + n, correct + c
    if shard is not None:
        total = shard.sums(loss_sum, count, correct)
        loss_sum, count, correct = total[0], round(total[1]), round(total[2])
    return {
        task.metric.name: task.score(loss_sum, count, correct),
        "loss": loss_sum / count,
    }


def _outputs(
    model: Model, params: Params, task: Task, config: TrainConfig, batch: Batch
) -> Iterator[tuple[Batch, np.ndarray]]:
    """(part, outputs) for each window of a stateful task's batch, or the whole batch."""
    if not task.stateful:
        out, _, _ = model.forward(params, batch.inputs, mask=batch.mask, resets=batch.resets)
        if out.ndim == 2:  # one prediction per sequence, read at its loss position
            out = per_step(out, batch.inputs.shape[0])
        yield batch, out
        return
    carry = config.carry or config.truncation is None
    length = config.eval_window if carry else config.truncation.k1
    carries = None
    for w in windows(batch.inputs.shape[0], truncation(length)):
        part = batch.slice(w.start, w.stop)
        out, carries, _ = model.forward(
            params, part.inputs, mask=part.mask, resets=part.resets, carries0=carries
        )
        yield part, out
        carries = carries if carry else None
