"""The training loop behind the estimators: minibatches, augmentation, early stopping.

One ensemble member is trained by :func:`train_member` from a seed: the parameters, the
epoch orders, dropout and augmentation all draw from ``np.random.default_rng([seed, 1])`` and
``[seed, 2]``, so a fit is a pure function of its data, settings and seed. Early stopping
follows Prechelt ("Early Stopping - But When?", 1998): the validation loss is measured after
every epoch, training stops after ``patience`` epochs without a new best, and the best
parameters are the ones returned.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from bptt.data.preprocess import crop, jitter, mask_of, patch
from bptt.losses import mse, softmax_cross_entropy
from bptt.model import Model
from bptt.optim import apply_updates, make_optimizer, with_clipping
from bptt.types import Array, Params

EVAL_BATCH = 256


class Data(NamedTuple):
    """Normalised series and their targets.

    Attributes:
        xs: (T, N, D) float values, zeros after each series' end.
        lengths: (N,) valid steps.
        y: (N,) class ids (classification) or (N, O) standardised targets (regression).
    """

    xs: Array
    lengths: np.ndarray
    y: np.ndarray

    def take(self, index: np.ndarray) -> Data:
        lengths = self.lengths[index]
        T = int(lengths.max())
        return Data(self.xs[:T, index], lengths, self.y[index])


class Settings(NamedTuple):
    """How one member trains (the estimator's parameters, checked)."""

    batch_size: int
    learning_rate: float
    weight_decay: float
    clip: float
    max_epochs: int
    patience: int
    jitter: float
    crop: float
    patch: int
    loss: str  # "xent" or "mse"


class History(NamedTuple):
    """What a member's training did: epochs run, the best epoch and its validation loss,
    the validation loss after every epoch (empty without a validation set), seconds."""

    epochs: int
    best_epoch: int
    best_loss: float
    valid_loss: list[float]
    seconds: float


def model_inputs(xs: Array, lengths: np.ndarray, k: int, dtype: Any) -> tuple[Array, np.ndarray]:
    """(inputs (S, B, k * D) in ``dtype``, mask (S, B)) of a batch: patched by k."""
    patched, patched_lengths = patch(xs, lengths, k)
    return patched.astype(dtype, copy=False), mask_of(patched_lengths, patched.shape[0])


def outputs_of(model: Model, params: Params, data: Data, k: int) -> Array:
    """The model's outputs (N, O) on every series, in batches of similar lengths."""
    dtype = next(iter(params.values())).dtype
    order = np.argsort(data.lengths, kind="stable")
    out = None
    for start in range(0, order.size, EVAL_BATCH):
        index = order[start : start + EVAL_BATCH]
        part = data.take(index)
        inputs, mask = model_inputs(part.xs, part.lengths, k, dtype)
        logits, _, _ = model.forward(params, inputs, mask=mask)
        if out is None:
            out = np.empty((order.size, logits.shape[-1]), dtype=np.float64)
        out[index] = logits
    return out


def mean_loss(loss: str, outputs: Array, y: np.ndarray) -> float:
    if loss == "mse":
        return float(np.mean((outputs - y) ** 2))
    shifted = outputs - outputs.max(axis=1, keepdims=True)
    with np.errstate(under="ignore"):  # exp of a very negative score is 0, as intended
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(y.size), y].mean())


def train_member(
    model: Model,
    train: Data,
    valid: Data | None,
    settings: Settings,
    seed: int,
    *,
    dtype: Any = np.float32,
    params: Params | None = None,
    opt_state: Any = None,
    log: Callable[[str], None] | None = None,
) -> tuple[Params, Any, History]:
    """Train one model; returns (the best parameters, the optimizer state, History).

    Args:
        model: the architecture.
        train: the series trained on; valid: the early-stopping set, or None (then the
            parameters after ``max_epochs`` epochs are returned).
        settings: batch size, optimizer, epochs, augmentation, patch length.
        seed: the member's seed.
        params, opt_state: continue from these (``partial_fit``) instead of a fresh start.
        log: called with one line per epoch (``verbose``).
    """
    t0 = time.perf_counter()
    s = settings
    if params is None:
        params = model.init(np.random.default_rng([seed, 0]), dtype=dtype)
    optimizer = make_optimizer("adamw", s.learning_rate, weight_decay=s.weight_decay)
    if s.clip > 0:
        optimizer = with_clipping(optimizer, s.clip)
    if opt_state is None:
        opt_state = optimizer.init(params)
    order_rng = np.random.default_rng([seed, 1])
    noise_rng = np.random.default_rng([seed, 2])
    loss_fn = mse if s.loss == "mse" else softmax_cross_entropy
    n = train.y.shape[0]
    best = (math.inf, 0, params)
    curve: list[float] = []
    epoch = 0
    for epoch in range(1, s.max_epochs + 1):
        order = order_rng.permutation(n)
        total = 0.0
        for start in range(0, n, s.batch_size):
            batch = train.take(order[start : start + s.batch_size])
            xs, lengths = crop(noise_rng, batch.xs, batch.lengths, s.crop)
            xs = jitter(noise_rng, xs, lengths, s.jitter)
            inputs, mask = model_inputs(xs, lengths, s.patch, dtype)
            out, _, cache = model.forward(params, inputs, mask=mask, train=True, rng=noise_rng)
            value, dout = loss_fn(out, batch.y.astype(out.dtype) if s.loss == "mse" else batch.y)
            grads, _, _ = model.backward(params, cache, dout, input_grad=False, release=True)
            if not (math.isfinite(value) and all(np.isfinite(g).all() for g in grads.values())):
                continue  # a non-finite update is skipped, as the Trainer does
            updates, opt_state = optimizer.update(grads, opt_state, params)
            params = apply_updates(params, updates)
            total += value * batch.y.shape[0]
        message = f"epoch {epoch}: train loss {total / n:.4f}"
        if valid is not None:
            current = mean_loss(s.loss, outputs_of(model, params, valid, s.patch), valid.y)
            curve.append(current)
            message += f", valid loss {current:.4f}"
            if current < best[0]:
                best = (current, epoch, params)
                message += " (best)"
        if log is not None:
            log(message)
        if valid is not None and epoch - best[1] >= s.patience:
            break
    if valid is None:
        best = (math.nan, epoch, params)
    history = History(epoch, best[1], best[0], curve, time.perf_counter() - t0)
    return best[2], opt_state, history
