"""Losses, forward and backward together: each returns (loss, gradient of the loss).

``softmax_cross_entropy`` uses a stable log-sum-exp and averages over the valid positions
of a mask; ``mse`` averages over every valid element, like torch.nn.MSELoss(reduction="mean").
``softmax_nll`` is the forward part alone, per position, for evaluation (no gradient).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bptt.errors import BpttError, BpttTypeError
from bptt.types import Array


def _valid_weights(mask: Any, shape: tuple[int, ...], name: str) -> np.ndarray | None:
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.shape != shape or mask.dtype != np.bool_:
        raise BpttError(
            f"`mask` must be booleans of shape {shape} (one per {name} position), "
            f"got dtype {mask.dtype} and shape {mask.shape}."
        )
    if not mask.any():
        raise BpttError("`mask` selects no position: the mean loss is undefined.")
    return mask


def softmax_cross_entropy(logits: Array, targets: Any, mask: Any = None) -> tuple[float, Array]:
    """Mean cross-entropy (nats) of integer targets under softmax(logits), and dL/dlogits.

    Args:
        logits: (..., V) unnormalised scores, e.g. (T, B, V) or (B, V).
        targets: (...) integer class ids in [0, V).
        mask: optional (...) booleans; False positions add nothing and get zero gradient.

    Returns:
        (loss, dlogits) with dlogits shaped like ``logits``:
        dlogits = (softmax(logits) - onehot(targets)) / N over the N valid positions.
    """
    logits = np.asarray(logits)
    targets = np.asarray(targets)
    V = logits.shape[-1]
    if targets.shape != logits.shape[:-1]:
        raise BpttError(
            f"`targets` has shape {targets.shape} but `logits` {logits.shape} needs "
            f"{logits.shape[:-1]} (one class id per position)."
        )
    if targets.dtype.kind not in "iu":
        raise BpttTypeError(f"`targets` must be integer class ids, got dtype {targets.dtype}.")
    if targets.size and (targets.min() < 0 or targets.max() >= V):
        raise BpttError(
            f"`targets` holds class ids in [{targets.min()}, {targets.max()}] but there are "
            f"V={V} classes (valid ids 0..{V - 1})."
        )
    mask = _valid_weights(mask, targets.shape, "target")
    shifted = logits - logits.max(axis=-1, keepdims=True)  # (..., V), max entry 0
    with np.errstate(under="ignore"):  # exp of a very negative score is 0, as intended
        exp = np.exp(shifted)
    sum_exp = exp.sum(axis=-1, keepdims=True)
    log_probs = shifted - np.log(sum_exp)
    picked = np.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]  # (...)
    dlogits = exp / sum_exp  # softmax
    np.put_along_axis(
        dlogits, targets[..., None], np.take_along_axis(dlogits, targets[..., None], -1) - 1, -1
    )
    if mask is None:
        count = targets.size
        loss = -picked.sum() / count
    else:
        count = int(mask.sum())
        loss = -picked[mask].sum() / count
        dlogits *= mask[..., None]
    dlogits /= count
    return float(loss), dlogits.astype(logits.dtype, copy=False)


def softmax_nll(logits: Array, targets: Any) -> np.ndarray:
    """The negative log-likelihood of each target under softmax(logits), in nats.

    nll = log sum_v exp(z_v) - z_target with z = logits - max(logits), the stable log-sum-exp
    of ``softmax_cross_entropy`` without the mean and the gradient. Computed in the dtype of
    ``logits`` (pass float64 for exact sums over many positions).

    Args:
        logits: (..., V) unnormalised scores, e.g. (N, V).
        targets: (...) integer class ids in [0, V).

    Returns:
        (...) the loss of every position.

    Example:
        >>> float(softmax_nll(np.zeros((1, 4)), np.array([2]))[0])  # log 4
        1.3862943611198906
    """
    logits = np.asarray(logits)
    targets = np.asarray(targets)
    if targets.shape != logits.shape[:-1] or targets.dtype.kind not in "iu":
        raise BpttError(
            f"`targets` must be integer class ids of shape {logits.shape[:-1]} (one per row of "
            f"`logits` {logits.shape}), got dtype {targets.dtype} and shape {targets.shape}."
        )
    V = logits.shape[-1]
    if targets.size and (targets.min() < 0 or targets.max() >= V):
        raise BpttError(
            f"`targets` holds class ids in [{targets.min()}, {targets.max()}] but there are "
            f"V={V} classes (valid ids 0..{V - 1})."
        )
    shifted = logits - logits.max(axis=-1, keepdims=True)  # (..., V), max entry 0
    with np.errstate(under="ignore"):  # exp of a very negative score is 0, as intended
        log_z = np.log(np.exp(shifted).sum(axis=-1))  # (...)
    return log_z - np.take_along_axis(shifted, targets[..., None], axis=-1)[..., 0]


def mse(predictions: Array, targets: Any, mask: Any = None) -> tuple[float, Array]:
    """Mean squared error over valid elements, and dL/dpredictions.

    Args:
        predictions: (..., O) model outputs.
        targets: (..., O) values, same shape.
        mask: optional booleans over the leading axes (...); False rows add nothing.

    Returns:
        (loss, dpredictions) with dpredictions = 2 (predictions - targets) / N over the N valid
        elements.
    """
    predictions = np.asarray(predictions)
    targets = np.asarray(targets, dtype=predictions.dtype)
    if targets.shape != predictions.shape:
        raise BpttError(
            f"`targets` has shape {targets.shape} but `predictions` has {predictions.shape}."
        )
    mask = _valid_weights(mask, predictions.shape[:-1], "prediction")
    diff = predictions - targets
    if mask is None:
        count = diff.size
    else:
        diff *= mask[..., None]
        count = int(mask.sum()) * predictions.shape[-1]
    loss = float(np.sum(diff * diff) / count)
    return loss, (2.0 / count) * diff
