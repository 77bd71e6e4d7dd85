"""Multi-step forecasts by feeding a next-value model's predictions back as its inputs.

A model trained for next-value prediction maps x_t to a prediction of x_{t+1}, so its output
size equals its input size D. To forecast h steps past a history x_0 .. x_{T-1}:

    warm up   y_{T-1}, carry_T = model(x_0 .. x_{T-1})           # state warmed on the history
    feed back x_hat_T = y_{T-1};  x_hat_{t+1}, carry = model(x_hat_t, carry)   t = T .. T+h-2

which is the plain loop, one ``model.forward`` per step, that the tests compare against.
Pure: nothing is kept between calls and nothing is read or written.

Example::

    model = Model(ModelConfig(cell="lstm", input_size=1, hidden_size=32, output_size=1))
    params = model.init(np.random.default_rng(0))
    future = forecast(model, params, history, 12)  # history (T, B, 1) -> (12, B, 1)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bptt.data._checks import check_positive_int
from bptt.errors import BpttError
from bptt.model import Model
from bptt.types import Array, Params


def _check_model(model: Model) -> None:
    cfg = model.config
    if cfg.vocab_size is not None or cfg.readout != "all" or cfg.output_size != cfg.input_size:
        raise BpttError(
            "forecast() feeds outputs back as inputs, so it needs a float-input model with "
            "readout='all' and output_size == input_size; got "
            f"vocab_size={cfg.vocab_size}, readout={cfg.readout!r}, "
            f"input_size={cfg.input_size}, output_size={cfg.output_size}. Build the model "
            "with ModelConfig(input_size=D, output_size=D)."
        )


def forecast(
    model: Model, params: Params, history: Any, horizon: int, *, carries0: Any = None
) -> Array:
    """Forecast ``horizon`` steps past ``history`` by feeding each prediction back.

    Args:
        model: a unidirectional next-value model, ``output_size == input_size`` = D.
        params: its parameters.
        history: (T, B, D) floats, the steps before the forecast origin; the state is warmed
            up on all of them (from ``carries0``, zeros by default).
        horizon: h >= 1, the number of future steps.
        carries0: optional initial carries for the warm-up.

    Returns:
        (h, B, D) forecasts of steps T .. T + h - 1, in the model's units.

    Raises:
        ValueError: for a model that cannot feed back (see above), a bidirectional model,
            or a history that is not (T, B, D) with the model's D.
        TypeError: for a non-integer ``horizon``.
    """
    _check_model(model)
    if model.config.bidirectional:
        raise BpttError(
            "forecast() needs a unidirectional model: a bidirectional layer reads the future."
        )
    h = check_positive_int(horizon, "horizon")
    outputs, carries, _ = model.forward(params, history, carries0=carries0)  # (T, B, D)
    y = outputs[-1]  # (B, D), the forecast of step T
    predictions = [y]
    for _ in range(h - 1):
        out, carries, _ = model.forward(params, y[None], carries0=carries)  # (1, B, D)
        y = out[0]  # (B, D)
        predictions.append(y)
    return np.stack(predictions)  # (h, B, D)


def one_step(model: Model, params: Params, series: Any) -> Array:
    """One-step-ahead predictions with teacher forcing: output t predicts ``series[t + 1]``.

    Args:
        model, params: a next-value model (``output_size == input_size``).
        series: (T, B, D) true values.

    Returns:
        (T, B, D): row t is the prediction of step t + 1 from the true steps 0..t.
    """
    _check_model(model)
    outputs, _, _ = model.forward(params, series)
    return outputs
