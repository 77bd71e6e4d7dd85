"""forecast(): feeding predictions back equals the plain step-by-step loop."""

import numpy as np
import pytest

from bptt.forecast import forecast, one_step
from bptt.model import Model, ModelConfig

T, B, D, H = 5, 3, 2, 6


def _model(cell="lstm", num_layers=1, **changes):
    config = {"input_size": D, "hidden_size": H, "output_size": D, **changes}
    model = Model(ModelConfig(cell=cell, num_layers=num_layers, **config))
    return model, model.init(np.random.default_rng(0), dtype=np.float64)


def _history():
    return np.random.default_rng(1).standard_normal((T, B, D))  # (T, B, D)


def _manual_forecast(model, params, history, horizon):
    """One model.forward per step: every history step, then every fed-back prediction."""
    carries, y = None, None
    for t in range(history.shape[0]):
        out, carries, _ = model.forward(params, history[t : t + 1], carries0=carries)
        y = out[0]  # (B, D)
    predictions = []
    for _ in range(horizon):
        predictions.append(y)
        out, carries, _ = model.forward(params, y[None], carries0=carries)
        y = out[0]
    return np.stack(predictions)  # (horizon, B, D)


@pytest.mark.parametrize(("cell", "num_layers"), [("lstm", 1), ("gru", 2), ("rnn", 1)])
def test_forecast_equals_the_step_by_step_loop(cell, num_layers):
    model, params = _model(cell, num_layers)
    history = _history()
    got = forecast(model, params, history, 7)
    assert got.shape == (7, B, D)
    np.testing.assert_allclose(got, _manual_forecast(model, params, history, 7), rtol=1e-12)


def test_first_forecast_is_the_last_output_and_the_history_is_not_changed():
    model, params = _model()
    history = _history()
    kept = history.copy()
    outputs, _, _ = model.forward(params, history)
    np.testing.assert_allclose(forecast(model, params, history, 1)[0], outputs[-1], rtol=1e-12)
    np.testing.assert_array_equal(history, kept)


def test_forecast_continues_from_given_carries():
    model, params = _model()
    history = _history()
    _, carries, _ = model.forward(params, history[:2])
    split = forecast(model, params, history[2:], 4, carries0=carries)
    np.testing.assert_allclose(split, forecast(model, params, history, 4), rtol=1e-12)


def test_one_step_is_the_teacher_forced_output():
    model, params = _model()
    history = _history()
    outputs, _, _ = model.forward(params, history)
    np.testing.assert_array_equal(one_step(model, params, history), outputs)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"output_size": D + 1}, "output_size == input_size"),
        ({"readout": "last"}, "readout='all'"),
    ],
)
def test_a_model_that_cannot_feed_back_is_refused(changes, message):
    model, params = _model(**changes)
    with pytest.raises(ValueError, match=message):
        forecast(model, params, _history(), 3)


def test_bad_horizon_and_history():
    model, params = _model()
    with pytest.raises(ValueError, match="`horizon` must be >= 1"):
        forecast(model, params, _history(), 0)
    with pytest.raises(TypeError, match="`horizon` must be an integer"):
        forecast(model, params, _history(), 2.5)
    with pytest.raises(ValueError, match=r"shape \(T, B, D\)"):
        forecast(model, params, _history()[:, 0], 3)
