"""Next-value forecasting of real measured series: ``co2``, ``sunspots``, ``macrodata``.

The series of :mod:`bptt.data.timeseries`, many-to-many. The model reads x_t and predicts
x_{t+1}; the loss is the MSE on the next values (normalised), with no loss on targets that
were filled by interpolation.

- Model series: "level" (the series normalised with training statistics) or "diff" (the
  change x_t - x_{t-1}, normalised with the training changes' mean and std; a forecast is
  integrated back from the last true value). co2 trends far past its training range, so it is
  modelled in changes; sunspots and macrodata (already growth rates) in levels
  (:data:`TRANSFORMS`).
- Training: ``train_batch`` returns the whole training part as one batch of B contiguous
  streams (B = ``batch_size``; :func:`bptt.data.timeseries.next_value_streams`), the same for
  every index: each batch index is one pass. The Trainer cuts it into BPTT(k1, k2) windows and
  carries the state across them, resetting it at the start of each pass.
- Validation: one batch (B = 1) covering train + valid; the state is warmed up on the training
  part and only the validation targets carry a loss: one-step-ahead MSE on the validation part
  in normalised units. Baseline: the same MSE of the last-value forecast x_hat_t = x_{t-1}.
- Test reporting (:func:`forecast_report`): a multi-step forecast of the test part from the
  end of train + valid by feeding predictions back (:func:`bptt.forecast.forecast`), and
  one-step-ahead forecasts; RMSE and MASE in original units next to the seasonal-naive and
  last-value forecasts (:func:`bptt.data.timeseries.baseline_scores`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from bptt.data.timeseries import (
    ForecastData,
    ForecastScores,
    baseline_scores,
    check_horizon,
    load_series,
    mase,
    next_value_streams,
    rmse,
)
from bptt.errors import BpttError
from bptt.forecast import forecast, one_step
from bptt.model import Model
from bptt.train.tasks import Metric
from bptt.types import Array, Params
from bptt.window import Batch

TRANSFORMS = {"co2": "diff", "sunspots": "level", "macrodata": "level"}


@dataclass
class ForecastTask:
    """Next-value prediction over one long series with carried state (module docstring).

    Attributes:
        name: "co2", "sunspots" or "macrodata".
        data: the series in original units, its split and its statistics.
        transform: "level" or "diff", what the model reads and predicts.
        series: (M, D) the model's normalised series; step j is original step j + offset.
        observed: (M,) bool, False where step j depends on a filled value.
        offset: 0 for "level", 1 for "diff" (a change needs the step before it).
        mean, std: (D,) the model series' normalisation, from the training part.
        metric: one-step MSE on the validation part and its last-value baseline.
    """

    name: str
    data: ForecastData
    transform: str
    series: Array
    observed: np.ndarray
    offset: int
    mean: Array
    std: Array
    metric: Metric
    loss: str = "mse"
    vocab: None = None
    stateful: bool = field(default=False, init=False)

    def model_io(self) -> dict[str, Any]:
        D = int(self.series.shape[1])
        return {"input_size": D, "output_size": D}

    def steps(self, batch_size: int) -> int:
        return max(1, self.stop("train") // batch_size)

    def span(self) -> int | None:
        return None

    def stop(self, part: str) -> int:
        """One past the last model-series step of ``part`` ("train", "valid" or "test")."""
        return self.data.bounds(part)[1] - self.offset

    def _streams(self, stop: int, batch_size: int, loss_from: int = 0) -> Batch:
        streams = next_value_streams(
            self.series[:stop],
            batch_size,
            observed=self.observed[:stop],
            loss_from=loss_from,
        )
        return Batch(
            streams.inputs.astype(np.float32),
            streams.targets.astype(np.float32),
            streams.loss_mask,
        )

    def train_batch(self, seed: int, index: int, batch_size: int) -> Batch:
        """The whole training part as B contiguous streams (one pass per index)."""
        return self._streams(self.stop("train"), batch_size)

    def eval_batches(
        self, split: str, *, seed: int, batch_size: int, num_sequences: int
    ) -> Iterator[Batch]:
        """One batch (B = 1) from the series start to the end of ``split`` ("valid" or
        "test"), run whole; the loss covers that part's targets only, so the state is warmed
        up on everything before it. ``seed``, ``num_sequences`` and ``batch_size`` are
        unused."""
        if split not in ("valid", "test"):
            raise BpttError(f"`split` must be 'valid' or 'test'; got {split!r}.")
        start, _ = self.data.bounds(split)
        yield self._streams(self.stop(split), 1, loss_from=start - self.offset)

    def score(self, loss_sum: float, count: int, correct: int) -> float:
        return loss_sum / count

    def to_original(self, predictions: Array, origin: int, *, cumulative: bool) -> Array:
        """Model-series predictions (h, D) of original steps origin.. as values (h, D).

        For "diff", ``cumulative`` adds the predicted changes up from the true value at
        ``origin - 1`` (a multi-step forecast); otherwise each change is added to the true
        value before its own step (one step ahead).
        """
        values = np.asarray(predictions, dtype=np.float64) * self.std + self.mean  # (h, D)
        if self.transform == "level":
            return values
        if cumulative:
            return self.data.values[origin - 1] + np.cumsum(values, axis=0)
        h = values.shape[0]
        return self.data.values[origin - 1 : origin - 1 + h] + values


def forecast_task(name: str, transform: str, batch_size: int) -> ForecastTask:
    """The series ``name`` modelled as ``transform`` ("level" or "diff") in B streams."""
    data = load_series(name)
    if transform not in ("level", "diff"):
        raise BpttError(f"`transform` must be 'level' or 'diff', got {transform!r}.")
    seen = data.observed.all(axis=1)  # (N,)
    if transform == "level":
        raw, observed, offset = data.values, seen, 0
    else:
        raw = np.diff(data.values, axis=0)  # (N - 1, D): row j is x_{j+1} - x_j
        observed, offset = seen[1:] & seen[:-1], 1
    train = raw[: data.train_stop - offset]
    mean = train.mean(axis=0)
    std = np.where(train.std(axis=0) > 0, train.std(axis=0), 1.0)
    series = (raw - mean) / std  # (M, D)
    # The last-value forecast x_hat_t = x_{t-1} in model units: a level repeats, a change is 0.
    start, stop = data.bounds("valid")
    steps = np.arange(start, stop)
    keep = observed[steps - offset]
    if transform == "level":
        errors = series[steps] - series[steps - 1]
    else:
        errors = series[steps - 1] - (-mean / std)  # true change vs a predicted change of 0
    baseline = float(np.mean(errors[keep] ** 2))
    metric = Metric(
        "mse", baseline, "last value x[t-1], one step ahead on the validation part (normalised)"
    )
    L = (data.train_stop - offset - 1) // batch_size
    if L < 2:
        raise BpttError(
            f"{name}'s training part ({data.train_stop} steps) is too short for "
            f"{batch_size} streams; use a smaller --batch."
        )
    return ForecastTask(name, data, transform, series, observed, offset, mean, std, metric)


class ForecastReport(NamedTuple):
    """A model's test-part forecasts in original units and their scores.

    Attributes:
        time: (h,) time stamps of the forecast steps.
        truth: (h, D) the true values.
        multi_step: (h, D) the forecast from the end of train + valid, predictions fed back.
        one_step: (h, D) one-step-ahead forecasts from the true values before each step.
        scores: ForecastScores (RMSE, MASE) of "model" (multi-step), "model_one_step",
            "seasonal_naive", "last_value" (multi-step) and "seasonal_naive_one_step",
            "last_value_one_step".
    """

    time: np.ndarray
    truth: Array
    multi_step: Array
    one_step: Array
    scores: dict[str, ForecastScores]


def forecast_report(
    task: ForecastTask, model: Model, params: Params, *, horizon: int | None = None
) -> ForecastReport:
    """Forecast the first ``horizon`` steps of the test part (default: all) and score them.

    Raises:
        BpttError: if ``horizon`` is longer than the test part.
    """
    data = task.data
    origin, end = data.bounds("test")
    h = check_horizon(end - origin if horizon is None else horizon, end - origin)
    history = task.series[: origin - task.offset, None, :]  # (T, 1, D)
    multi = forecast(model, params, history, h)[:, 0]  # (h, D)
    multi = task.to_original(multi, origin, cumulative=True)
    inputs = task.series[: origin - task.offset + h - 1, None, :]  # (T + h - 1, 1, D)
    single = one_step(model, params, inputs)[origin - task.offset - 1 :, 0]  # (h, D)
    single = task.to_original(single, origin, cumulative=False)
    truth = data.values[origin : origin + h]
    mask = data.observed[origin : origin + h]
    train = data.part("train")

    def score(prediction: Array) -> ForecastScores:
        return ForecastScores(
            rmse(truth, prediction, mask=mask),
            mase(truth, prediction, train, season=data.season, mask=mask),
        )

    scores = {"model": score(multi), "model_one_step": score(single)}
    scores.update(baseline_scores(data, h))
    scores.update({f"{k}_one_step": v for k, v in baseline_scores(data, h, one_step=True).items()})
    return ForecastReport(data.time[origin : origin + h], truth, multi, single, scores)
