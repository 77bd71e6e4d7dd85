"""One BPTT(k1, k2) window: forward, loss on the new steps, backward, and the carry to keep.

A window of steps [start, stop) is run as two segments split at ``next_start``: the carry after
the first segment is the state the next window starts from (with k1 = k2 the split is the end
of the window). The second segment's gradient on its initial carry flows into the first
segment's final carry, so the two segments together are exactly BPTT over the whole window;
nothing flows into the window's own initial carry (the cut).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from bptt.losses import mse, softmax_cross_entropy
from bptt.model import Model
from bptt.types import Array, Params

LOSSES = {"xent": softmax_cross_entropy, "mse": mse}


class Batch(NamedTuple):
    """A time-major batch for per-step prediction.

    Attributes:
        inputs: (T, B) token ids or (T, B, D) floats.
        targets: (T, B) class ids (loss "xent") or (T, B, O) values (loss "mse").
        loss_mask: (T, B) bool, the steps that carry a loss (None: every step).
        mask: (T, B) bool, the real (unpadded) steps (None: all).
        resets: (T, B) bool, where a sequence's carry is zeroed (None: nowhere).
    """

    inputs: Array
    targets: Array
    loss_mask: np.ndarray | None = None
    mask: np.ndarray | None = None
    resets: np.ndarray | None = None

    def slice(self, start: int, stop: int) -> Batch:
        """Steps [start, stop) of every field."""
        return Batch(*(None if a is None else a[start:stop] for a in self))


class WindowResult(NamedTuple):
    """What one window produced.

    Attributes:
        loss: mean loss over the window's loss positions (nan when there are none).
        count: number of loss positions (0 means: no update for this window).
        grads: gradients with the keys of the parameters (None when count is 0).
        carries_next: the carry at the next window's start.
        carries_end: the carry at the window's end.
        outputs: (T, B, O) outputs of the whole window.
    """

    loss: float
    count: int
    grads: Params | None
    carries_next: tuple[Any, ...]
    carries_end: tuple[Any, ...]
    outputs: Array


def loss_positions(batch: Batch, new_from: int) -> np.ndarray:
    """(T, B) bool: the steps of ``batch`` at or after ``new_from`` that carry a loss."""
    T, B = batch.inputs.shape[:2]
    positions = np.zeros((T, B), dtype=bool)
    positions[new_from:] = True
    if batch.loss_mask is not None:
        positions &= batch.loss_mask
    if batch.mask is not None:
        positions &= batch.mask
    return positions


def window_gradients(
    model: Model,
    params: Params,
    batch: Batch,
    carries0: Any,
    *,
    new_from: int,
    split: int,
    loss: str,
    train: bool = False,
    rng: np.random.Generator | None = None,
    memory_policy: Any = None,
) -> WindowResult:
    """BPTT over one window whose loss is on steps [new_from, T) of ``batch``.

    Args:
        model, params: the model and its parameters.
        batch: the window's steps (T of them), including the k2 - k1 overlap steps first.
        carries0: the carried state at the window start (None: zeros); no gradient enters it.
        new_from: first local step with a loss (the overlap steps before it have none).
        split: local step where the next window starts; its carry is returned.
        loss: "xent" or "mse".
        train, rng: dropout in training mode.
        memory_policy: None for full BPTT inside the window, or a checkpointing policy
            (see Model.forward).

    Returns:
        A WindowResult; ``grads`` is the gradient of the mean loss over the loss positions.
    """
    T = batch.inputs.shape[0]
    positions = loss_positions(batch, new_from)
    count = int(positions.sum())
    bounds = [(0, split), (split, T)] if 0 < split < T else [(0, T)]
    outputs, caches, carries = [], [], carries0
    carries_next = carries0
    for a, b in bounds:
        part = batch.slice(a, b)
        out, carries, cache = model.forward(
            params,
            part.inputs,
            mask=part.mask,
            resets=part.resets,
            carries0=carries,
            train=train,
            rng=rng,
            memory_policy=memory_policy,
        )
        outputs.append(out)
        caches.append(cache)
        if b == split:
            carries_next = carries
    if split >= T:
        carries_next = carries
    full = outputs[0] if len(outputs) == 1 else np.concatenate(outputs)
    if count == 0:
        return WindowResult(float("nan"), 0, None, carries_next, carries, full)
    value, dfull = LOSSES[loss](full, batch.targets, positions)
    if not (np.isfinite(value) and np.isfinite(dfull).all()):
        return WindowResult(value, count, None, carries_next, carries, full)
    grads: Params | None = None
    dcarries = None
    for (a, b), cache in zip(reversed(bounds), reversed(caches), strict=True):
        # The later segment's gradient on its initial carry enters the earlier one's end.
        g, dcarries, _ = model.backward(params, cache, dfull[a:b], dcarries, input_grad=False)
        grads = g if grads is None else {k: grads[k] + g[k] for k in grads}
    return WindowResult(value, count, grads, carries_next, carries, full)
