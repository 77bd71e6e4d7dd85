"""Gradient flow over time on a real batch: the full gradient and ||dL/dh_t|| at every step.

The observer of ``Model.backward`` receives dL/dcarry_t, the total gradient reaching the carry
after step t (from the loss at t and every later step), for each layer and direction; its h
part is recorded here.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from bptt.diagnostics._common import check_model, float64, measuring
from bptt.errors import BpttError
from bptt.model import Model
from bptt.types import Array, Params
from bptt.window import LOSSES, Batch, loss_positions


class BatchGradient(NamedTuple):
    """The full-BPTT gradient of one batch and the gradient norm at every step.

    Attributes:
        loss: mean loss over the batch's loss positions.
        count: number of loss positions.
        grads: gradient of the mean loss, with the keys of the parameters. When the loss
            gradient is already NaN or Inf (the engine refuses to propagate it), every entry
            is NaN.
        step_norms: per layer-direction name (``layers.0``, ``layers.0.reverse``), (T,) values
            ||dL/dh_t||, the norm over the whole (B, H) gradient at step t. A reverse
            direction counts its own steps (its t = 0 reads the sequence's last step).
    """

    loss: float
    count: int
    grads: Params
    step_norms: dict[str, Array]


def batch_gradient(
    model: Model, params: Params, batch: Batch, *, loss: str, carries0: Any = None
) -> BatchGradient:
    """Full BPTT over ``batch`` in evaluation mode (no dropout), recording ||dL/dh_t||.

    Args:
        model, params: the model and its parameters.
        batch: inputs (T, B) ids or (T, B, D) floats, targets, optional masks and resets.
        loss: "xent" or "mse", averaged over the loss positions as in training.
        carries0: the state at the batch start (None: zeros).

    Returns:
        A BatchGradient.

    Example::

        flow = batch_gradient(model, params, batch, loss="mse")
        flow.step_norms["layers.0"]  # (T,)
    """
    check_model(model)
    params = float64(params)
    if loss not in LOSSES:
        raise BpttError(f"`loss` must be one of {sorted(LOSSES)}, got {loss!r}.")
    names = model.layer_prefixes()
    T = batch.inputs.shape[0]
    positions = loss_positions(batch, 0)
    squares = np.zeros((len(names), T))

    def record(k: int, t: int, dcarry: Any) -> None:
        squares[k, t] = np.sum(np.square(dcarry.h, dtype=np.float64))

    with measuring():
        outputs, _, cache = model.forward(
            params,
            batch.inputs,
            mask=batch.mask,
            resets=batch.resets,
            carries0=carries0,
            check_finite=False,  # a non-finite model is measured, and reported as such
        )
        value, doutputs = LOSSES[loss](outputs, batch.targets, positions)
        if np.isfinite(doutputs).all():
            grads = model.backward(params, cache, doutputs, observer=record, input_grad=False)[0]
        else:
            grads = {name: np.full(p.shape, np.nan) for name, p in params.items()}
            squares[:] = np.nan
        norms = np.sqrt(squares)
    return BatchGradient(value, int(positions.sum()), grads, dict(zip(names, norms, strict=True)))
