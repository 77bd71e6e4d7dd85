"""One step of a model at a time: the forward step, the step's loss, and what estimators see.

The online estimators work on a model of one unidirectional recurrent layer with float
inputs (T, B, D) and a Dense readout at every step (``check_online_model``); token inputs are
given as one-hot floats (``bptt.online.tasks.one_hot``), so the layer's W_x plays the
embedding's part. ``run_step`` advances the layer one step, applies the readout and the loss
of that step, and returns the StepInput every estimator consumes together with the readout's
gradient, which is exact and immediate (no recurrence) for every estimator.

The loss of a step is the sum of its per-position losses times ``scale``: with ``scale`` =
1 / (loss positions of the whole sequence), the steps' losses add up to the mean loss that
``bptt.window.window_gradients`` minimises, so the summed estimates are comparable with it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from bptt.engine.validate import zero_carry
from bptt.errors import BpttError
from bptt.model import Model
from bptt.online.base import StepInput
from bptt.types import Array, Carry, CellParams, Params
from bptt.window import LOSSES

LAYER = "layers.0"
"""The parameter prefix of the one recurrent layer."""

ONLINE_MODEL_MSG = (
    "The online estimators take a model of one unidirectional recurrent layer with float "
    "inputs and a readout at every step: ModelConfig(cell=..., input_size=D, hidden_size=H, "
    "output_size=O) with num_layers=1, readout='all' (token ids: give one-hot floats, "
    "input_size=V); got {what}."
)


class StepLoss(NamedTuple):
    """The loss of one step and the readout's gradient.

    Attributes:
        value: scale * the sum of the step's per-position losses.
        count: the step's loss positions.
        readout: {"readout.W": (H, O), "readout.b": (O,)} gradients of ``value``.
    """

    value: float
    count: int
    readout: Params


def check_online_model(model: Model) -> None:
    """Raise BpttError unless the model is one the online estimators can run (see module)."""
    cfg = model.config
    problems = [
        (cfg.num_layers != 1, f"num_layers={cfg.num_layers}"),
        (cfg.bidirectional, "bidirectional=True"),
        (cfg.vocab_size is not None, f"vocab_size={cfg.vocab_size} (an embedding)"),
        (cfg.output_size is None or cfg.readout != "all", f"readout={cfg.readout!r}"),
        (cfg.dropout > 0, f"dropout={cfg.dropout}"),
    ]
    found = [what for bad, what in problems if bad]
    if found:
        raise BpttError(ONLINE_MODEL_MSG.format(what=", ".join(found)))


def cell_params(model: Model, params: Params) -> CellParams:
    """The recurrent layer's parameters as the cell's NamedTuple."""
    return model.cell_params(params, LAYER)


def initial_carry(model: Model, params: Params, batch_size: int) -> Carry:
    """The zero carry of the layer for ``batch_size`` sequences."""
    dtype = params[f"{LAYER}.W_h"].dtype
    return zero_carry(model.cell, batch_size, model.config.hidden_size, dtype)


def as_features(inputs: Any, size: int, dtype: Any) -> Array:
    """One step's inputs as (B, D) floats: token ids (B,) become one-hot rows of width
    ``size``; floats are cast to ``dtype``."""
    inputs = np.asarray(inputs)
    if inputs.dtype.kind in "iu":
        if inputs.ndim != 1 or inputs.min() < 0 or inputs.max() >= size:
            raise BpttError(
                f"Token ids of shape {inputs.shape} in [{inputs.min()}, {inputs.max()}] do not "
                f"fit a model with input_size={size} (one-hot: ids 0..{size - 1})."
            )
        return np.eye(size, dtype=dtype)[inputs]  # (B, D)
    return inputs.astype(dtype, copy=False)


def run_step(
    model: Model,
    params: Params,
    carry: Carry,
    x: Array,
    targets: Any,
    positions: np.ndarray,
    *,
    loss: str,
    scale: float,
    resets: np.ndarray | None = None,
) -> tuple[Carry, StepInput, StepLoss]:
    """Advance the layer one step and take the step's loss.

    Args:
        model, params: a model accepted by ``check_online_model`` and its parameters.
        carry: the carry entering the step.
        x: (B, D) the step's input.
        targets: (B,) class ids (loss "xent") or (B, O) values (loss "mse").
        positions: (B,) bool, the sequences with a loss at this step.
        loss: "xent" or "mse".
        scale: the factor of the summed per-position losses (see the module docstring).
        resets: (B,) bool, sequences whose carry is zeroed before the step, or None.

    Returns:
        (the new carry, the StepInput for the estimators, the StepLoss).
    """
    cell = model.cell
    p = cell_params(model, params)
    if resets is not None and resets.any():
        keep = ~resets[:, None]
        carry = type(carry)(*(a * keep for a in carry))
    else:
        resets = None
    xp = cell.input_projection(p, x[None])[0]  # (B, G*H)
    new_carry, cache = cell.step_forward(p, xp, carry)
    W, b = params["readout.W"], params["readout.b"]
    outputs = new_carry.h @ W + b  # (B, O)
    count = int(positions.sum())
    value, doutputs = 0.0, np.zeros_like(outputs)
    if count:
        mean, doutputs = LOSSES[loss](outputs[None], np.asarray(targets)[None], positions[None])
        value, doutputs = mean * count * scale, doutputs[0] * (count * scale)
    readout = {"readout.W": new_carry.h.T @ doutputs, "readout.b": doutputs.sum(axis=0)}
    dh = doutputs @ W.T  # (B, H)
    dcarry = type(new_carry)(dh, *(np.zeros_like(a) for a in new_carry[1:]))
    step = StepInput(x, carry, new_carry, cache, dcarry, doutputs, resets)
    return new_carry, step, StepLoss(float(value), count, readout)
