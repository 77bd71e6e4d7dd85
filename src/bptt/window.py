"""One BPTT window of a batch: forward, the loss on its new steps, backward, the carry to keep.

Pure functions shared by training (``bptt.train``) and the diagnostics: the Batch a task
yields, the losses table, which steps carry a loss, and ``window_gradients``. A window of
BPTT(k1, k2) (``bptt.engine.truncated.Window``) covers steps [start, stop) of the batch; it is
run as two segments split at ``next_start``: the carry after the first segment is the state
the next window starts from (with k1 = k2 the split is the end of the window). The second
segment's gradient on its initial carry flows into the first segment's final carry, so the
two segments together are exactly BPTT over the whole window; nothing flows into the
window's own initial carry (the cut).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from bptt.engine.truncated import Window
from bptt.errors import BpttError
from bptt.losses import mse, softmax_cross_entropy
from bptt.model import Model
from bptt.types import Array, Params

LOSSES = {"xent": softmax_cross_entropy, "mse": mse}
"""Loss name -> ``loss(outputs, targets, positions) -> (mean loss, doutputs)``."""


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
        grads: gradients with the keys of the parameters (None when count is 0 or the loss
            or its gradient is not finite).
        carries_next: the carry at the next window's start (``window.next_start``).
        outputs: (stop - start, B, O) outputs of the window's steps.
    """

    loss: float
    count: int
    grads: Params | None
    carries_next: tuple[Any, ...]
    outputs: Array


def loss_positions(batch: Batch, new_from: int = 0) -> np.ndarray:
    """(T, B) bool: the steps of ``batch`` at or after ``new_from`` that carry a loss."""
    T, B = batch.inputs.shape[:2]
    positions = np.zeros((T, B), dtype=bool)
    positions[new_from:] = True
    if batch.loss_mask is not None:
        positions &= batch.loss_mask
    if batch.mask is not None:
        positions &= batch.mask
    return positions


def per_step(outputs: Array, T: int) -> Array:
    """A prediction per sequence (B, O) as the same prediction at each of T steps (T, B, O),
    a read-only view: the losses table then scores it at each sequence's loss positions, and
    its gradient is the sum over steps of the per-step gradients."""
    return np.broadcast_to(outputs, (T, *outputs.shape))


def window_gradients(
    model: Model,
    params: Params,
    batch: Batch,
    window: Window,
    carries0: Any = None,
    *,
    loss: str,
    train: bool = False,
    rng: np.random.Generator | None = None,
    memory_policy: Any = None,
) -> WindowResult:
    """BPTT over one window of ``batch``, with the loss on the window's new steps.

    Args:
        model, params: the model and its parameters.
        batch: the whole sequence (T steps); the window reads its steps [start, stop).
        window: a window of ``bptt.engine.truncated.windows(T, truncation)``: steps
            [start, stop) are run, the loss is on [new_start, stop), and the carry entering
            ``next_start`` is returned for the next window.
        carries0: the carried state at ``window.start`` (None: zeros); no gradient enters it.
        loss: "xent" or "mse".
        train, rng: dropout in training mode.
        memory_policy: None for full BPTT inside the window, or a checkpointing policy
            (see Model.forward).

    Returns:
        A WindowResult; ``grads`` is the gradient of the mean loss over the loss positions.
    """
    if loss not in LOSSES:
        raise BpttError(f"`loss` must be one of {sorted(LOSSES)}, got {loss!r}.")
    T = batch.inputs.shape[0]
    start, new_start, stop, next_start = window
    if not 0 <= start <= new_start < stop <= T or not start <= next_start <= stop:
        raise BpttError(
            f"`window` {tuple(window)} does not fit a batch of T={T} steps; take it from "
            "bptt.engine.truncated.windows(T, truncation)."
        )
    part = batch.slice(start, stop)
    positions = loss_positions(part, new_start - start)
    count = int(positions.sum())
    split = next_start - start
    bounds = [(0, split), (split, stop - start)] if 0 < split < stop - start else None
    bounds = bounds or [(0, stop - start)]
    outputs, caches, carries = [], [], carries0
    carries_next = carries0
    for a, b in bounds:
        segment = part.slice(a, b)
        out, carries, cache = model.forward(
            params,
            segment.inputs,
            mask=segment.mask,
            resets=segment.resets,
            carries0=carries,
            train=train,
            rng=rng,
            memory_policy=memory_policy,
        )
        outputs.append(out)
        caches.append(cache)
        if b == split:
            carries_next = carries
    if split >= stop - start:
        carries_next = carries
    full = outputs[0] if len(outputs) == 1 else np.concatenate(outputs)
    per_sequence = full.ndim == 2  # a readout of whole sequences: (B, O)
    if per_sequence:
        if len(outputs) != 1:
            raise BpttError(
                f"readout {model.config.readout!r} reads whole sequences; train it with full "
                "BPTT (one window per sequence)."
            )
        full = per_step(full, stop - start)
    if count == 0:
        return WindowResult(float("nan"), 0, None, carries_next, full)
    value, dfull = LOSSES[loss](full, part.targets, positions)
    if not (np.isfinite(value) and np.isfinite(dfull).all()):
        return WindowResult(value, count, None, carries_next, full)
    if per_sequence:
        dfull = dfull.sum(axis=0)  # (B, O): the one output read at every step
    grads: Params | None = None
    dcarries = None
    for (a, b), cache in zip(reversed(bounds), reversed(caches), strict=True):
        # The later segment's gradient on its initial carry enters the earlier one's end.
        dout = dfull if per_sequence else dfull[a:b]
        g, _, dcarries = model.backward(
            params, cache, dout, dcarries, input_grad=False, release=True
        )
        grads = g if grads is None else {k: grads[k] + g[k] for k in grads}
    return WindowResult(value, count, grads, carries_next, full)
