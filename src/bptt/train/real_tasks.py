"""Tasks on real measured data (issue 6): sequence classification and next-value forecasting.

Both kinds follow the duck-typed interface the Trainer uses for a ``SequenceTask`` (name,
loss, metric, streaming=False, vocab=None, ``model_io``, ``train_batch``, ``eval_batches``,
``score``), so truncated or full BPTT, checkpoints and exact resume work unchanged.

**Classification** (``ucr:<Name>`` for the UCR/UEA sets of :mod:`bptt.data.ucr`, and
``digits``), many-to-one. The model predicts a class at every step; only each sequence's last
valid step carries a loss (``loss_mask``), which for a unidirectional model is the same as a
readout at the last valid step. Padded steps are masked (``mask``).

- Splits: the official test split is "test". A seeded (:data:`SPLIT_SEED`) stratified
  :data:`VALID_FRACTION` (20%) of the official train split is held out as "valid"; the rest is
  trained on. Every training seed sees the same valid and test sets; nothing is tuned on test.
  ``digits`` has no official split: the test split is :func:`load_digits_sequences` with
  seed 0 (359 images), the valid split 20% of the remaining 1,438.
- Batches: batch ``index`` of seed ``seed`` is minibatch ``index % n`` (n = ceil(N / B)) of
  epoch ``index // n``, whose order is ``np.random.default_rng([seed, epoch]).permutation(N)``;
  each batch is cut to its longest sequence.
- Inputs: the UCR sets are z-normalised per series by the archive and used as they are; the
  UEA sets (BasicMotions, JapaneseVowels) are standardised per channel with statistics of the
  official train split; digits are pixel/16.
- Metric: accuracy. Baseline: 1 - the published 1-NN Euclidean test error (Dau et al. 2018)
  where :data:`bptt.data.ucr.PUBLISHED_1NN_ERROR` has it, else the majority-class rate: the
  share of the most frequent class in the test split, the best any constant prediction can
  score there (JapaneseVowels' training classes are balanced, so "the training majority"
  would be an arbitrary pick).

**Forecasting** (``co2``, ``sunspots``, ``macrodata`` of :mod:`bptt.data.timeseries`),
many-to-many. The model reads x_t and predicts x_{t+1}; the loss is the MSE on the next values
(normalised), with no loss on targets that were filled by interpolation.

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

Example::

    task = real_task("ucr:ItalyPowerDemand", config)
    batch = task.train_batch(seed=0, index=0, batch_size=16)  # inputs (24, 16, 1)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from bptt.data.digits import load_digits_sequences
from bptt.data.timeseries import (
    SERIES,
    ForecastData,
    ForecastScores,
    baseline_scores,
    check_horizon,
    load_series,
    mase,
    next_value_streams,
    rmse,
)
from bptt.data.ucr import (
    DATASETS,
    PUBLISHED_1NN_ERROR,
    SequenceClassification,
    SequenceSplit,
    load_ucr,
)
from bptt.errors import BpttError
from bptt.forecast import forecast, one_step
from bptt.model import Model
from bptt.train.tasks import Metric
from bptt.types import Array, Params
from bptt.window import Batch

UCR_PREFIX = "ucr:"
CLASSIFICATION_TASKS = (*(UCR_PREFIX + d for d in DATASETS), "digits")
FORECAST_TASKS = SERIES
REAL_TASKS = CLASSIFICATION_TASKS + FORECAST_TASKS
SPLIT_SEED = 0  # the valid hold-out and the digits test split, the same for every run
VALID_FRACTION = 0.2
STANDARDISED = ("BasicMotions", "JapaneseVowels")  # raw UEA channels; UCR sets are z-normalised
TRANSFORMS = {"co2": "diff", "sunspots": "level", "macrodata": "level"}
DAU_2018 = "1-NN Euclidean test accuracy, Dau et al. 2018 (arXiv:1810.07758)"
MAJORITY = "majority class: share of the most frequent test class"

_COMMON = {"optimizer": "adam", "learning_rate": 3e-3, "clip": 1.0, "log_every": 10}
_FULL = {**_COMMON, "k1": 0, "k2": 0, "eval_every": 50, "checkpoint_every": 1000}
DEFAULTS: dict[str, dict[str, Any]] = {
    "ucr:ItalyPowerDemand": {
        **_FULL,
        "cell": "gru",
        "hidden_size": 32,
        "batch_size": 16,
        "steps": 300,
    },
    "ucr:GunPoint": {**_FULL, "cell": "gru", "hidden_size": 32, "batch_size": 8, "steps": 1000},
    "ucr:ArrowHead": {**_FULL, "cell": "gru", "hidden_size": 32, "batch_size": 8, "steps": 400},
    "ucr:OSULeaf": {**_FULL, "cell": "gru", "hidden_size": 32, "batch_size": 16, "steps": 300},
    "ucr:BasicMotions": {**_FULL, "cell": "gru", "hidden_size": 32, "batch_size": 8, "steps": 300},
    "ucr:JapaneseVowels": {
        **_FULL,
        "cell": "lstm",
        "hidden_size": 64,
        "batch_size": 16,
        "steps": 500,
    },
    "digits": {
        **_FULL,
        "cell": "gru",
        "hidden_size": 64,
        "batch_size": 32,
        "steps": 1000,
        "eval_every": 100,
    },
    "co2": {
        **_COMMON,
        "cell": "lstm",
        "hidden_size": 32,
        "k1": 52,
        "k2": 52,
        "batch_size": 8,
        "steps": 400,
        "eval_every": 50,
        "checkpoint_every": 400,
    },
    "sunspots": {
        **_COMMON,
        "cell": "gru",
        "hidden_size": 32,
        "k1": 11,
        "k2": 11,
        "batch_size": 1,
        "steps": 400,
        "eval_every": 50,
        "checkpoint_every": 400,
    },
    "macrodata": {
        **_COMMON,
        "cell": "lstm",
        "hidden_size": 16,
        "k1": 20,
        "k2": 20,
        "batch_size": 1,
        "steps": 100,
        "eval_every": 25,
        "checkpoint_every": 100,
    },
}
"""Settings per task, to merge into a TrainConfig when only ``--task`` is given. k1 = k2 = 0 is
full BPTT over each sequence; for a forecast task ``batch_size`` is the number of contiguous
streams. Cell, steps, streams and k were chosen on the validation split (ItalyPowerDemand,
GunPoint, JapaneseVowels, digits, co2, sunspots, macrodata); ArrowHead, OSULeaf and
BasicMotions reuse the univariate UCR settings untuned. See docs/results.md."""


def is_real_task(name: str) -> bool:
    """Whether ``name`` is one of :data:`REAL_TASKS`."""
    return name in REAL_TASKS


def is_classification_task(name: str) -> bool:
    """Whether ``name`` is one of :data:`CLASSIFICATION_TASKS` (full BPTT makes sense)."""
    return name in CLASSIFICATION_TASKS


def _unknown(name: Any) -> ValueError:
    return ValueError(
        f"Unknown real-data task {name!r}; expected one of {', '.join(REAL_TASKS)} "
        "(UCR/UEA sets are written 'ucr:<Name>', e.g. 'ucr:GunPoint')."
    )


# -- classification ---------------------------------------------------------------------------
def _subset(split: SequenceSplit, index: np.ndarray) -> SequenceSplit:
    """Sequences ``index`` of ``split``, cut to the longest of them."""
    lengths = split.lengths[index]
    T = int(lengths.max())
    return SequenceSplit(
        xs=split.xs[:T, index],  # (T, n, D)
        mask=split.mask[:T, index],  # (T, n)
        labels=split.labels[index],
        lengths=lengths,
    )


def stratified_holdout(
    labels: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (kept, held out): ``round(fraction * n_c)`` of each class c held out.

    A class with at least two members gives at least one and keeps at least one. Both index
    arrays are sorted, so the kept sequences stay in file order.
    """
    if not 0 < fraction < 1:
        raise BpttError(f"`fraction` must be in (0, 1), got {fraction!r}.")
    rng = np.random.default_rng(seed)
    held: list[np.ndarray] = []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        n = members.size
        k = min(max(round(fraction * n), 1), n - 1) if n >= 2 else 0
        held.append(members[:k])
    out = np.sort(np.concatenate(held)).astype(np.int64)
    keep = np.setdiff1d(np.arange(labels.size), out)
    return keep, out


def _classification_batch(split: SequenceSplit) -> Batch:
    """Readout at every step; the loss only at each sequence's last valid step."""
    T, B = split.mask.shape
    last = split.lengths - 1  # (B,)
    columns = np.arange(B)
    targets = np.zeros((T, B), dtype=np.int64)
    targets[last, columns] = split.labels
    loss_mask = np.zeros((T, B), dtype=bool)
    loss_mask[last, columns] = True
    mask = None if bool(split.mask.all()) else split.mask
    return Batch(split.xs.astype(np.float32), targets, loss_mask, mask=mask)


@dataclass
class ClassificationTask:
    """Many-to-one classification of padded sequences (see the module docstring).

    Attributes:
        name: the task name, e.g. "ucr:GunPoint".
        splits: "train" (trained on), "valid" (held out of the official train split) and
            "test" (the official test split).
        class_names: C class names.
        metric: accuracy and its baseline.
    """

    name: str
    splits: dict[str, SequenceSplit]
    class_names: tuple[str, ...]
    metric: Metric
    loss: str = "xent"
    streaming: bool = False
    vocab: None = None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def model_io(self) -> dict[str, Any]:
        return {
            "input_size": int(self.splits["train"].xs.shape[2]),
            "output_size": len(self.class_names),
        }

    def batches_per_epoch(self, batch_size: int) -> int:
        return -(-self.splits["train"].labels.size // batch_size)

    def train_batch(self, seed: int, index: int, batch_size: int) -> Batch:
        """Minibatch ``index % n`` of epoch ``index // n`` in the epoch's seeded order."""
        train = self.splits["train"]
        n = self.batches_per_epoch(batch_size)
        epoch, j = divmod(index, n)
        order = np.random.default_rng([seed, epoch]).permutation(train.labels.size)
        return _classification_batch(_subset(train, order[j * batch_size : (j + 1) * batch_size]))

    def eval_batches(
        self, seed: int, num_sequences: int, batch_size: int, *, split: str = "valid"
    ) -> Iterator[Batch]:
        """Every sequence of ``split`` ("train", "valid" or "test") in file order.

        ``seed`` and ``num_sequences`` are unused: a real split is always scored whole.
        """
        if split not in self.splits:
            raise BpttError(f"`split` must be one of {', '.join(self.splits)}; got {split!r}.")
        data = self.splits[split]
        for start in range(0, data.labels.size, batch_size):
            index = np.arange(start, min(start + batch_size, data.labels.size))
            yield _classification_batch(_subset(data, index))

    def score(self, loss_sum: float, count: int, correct: int) -> float:
        return correct / count


def _classification_task(name: str, data: SequenceClassification) -> ClassificationTask:
    keep, held = stratified_holdout(data.train.labels, VALID_FRACTION, SPLIT_SEED)
    splits = {
        "train": _subset(data.train, keep),
        "valid": _subset(data.train, held),
        "test": data.test,
    }
    if data.name in PUBLISHED_1NN_ERROR:
        metric = Metric("accuracy", 1.0 - PUBLISHED_1NN_ERROR[data.name], DAU_2018, False)
    else:
        rate = float(np.bincount(data.test.labels).max() / data.test.labels.size)
        metric = Metric("accuracy", rate, MAJORITY, False)
    return ClassificationTask(name, splits, data.class_names, metric)


# -- forecasting --------------------------------------------------------------------------------
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
    streaming: bool = False
    vocab: None = None

    def model_io(self) -> dict[str, Any]:
        D = int(self.series.shape[1])
        return {"input_size": D, "output_size": D}

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
        self, seed: int, num_sequences: int, batch_size: int, *, split: str = "valid"
    ) -> Iterator[Batch]:
        """One batch (B = 1) from the series start to the end of ``split`` ("valid" or
        "test"); the loss covers that part's targets only, so the state is warmed up on
        everything before it. ``seed``, ``num_sequences`` and ``batch_size`` are unused."""
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


def _forecast_task(name: str, transform: str, batch_size: int) -> ForecastTask:
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
        ValueError: if ``horizon`` is longer than the test part.
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


# -- the hook ---------------------------------------------------------------------------------
def real_task(
    name: str, config: Any, *, transform: str | None = None
) -> ClassificationTask | ForecastTask:
    """The task ``name`` of :data:`REAL_TASKS`, for ``trainer.make_task``.

    Args:
        name: e.g. "ucr:ItalyPowerDemand" (the set's name in any case), "digits", "co2".
        config: the TrainConfig; ``batch_size`` is the number of streams of a forecast task.
        transform: forecasting only: "level" or "diff" instead of :data:`TRANSFORMS` [name].

    Raises:
        ValueError: for an unknown name (the message lists :data:`REAL_TASKS`) or a batch
            size that leaves a forecast stream shorter than 2 steps.
        ImportError: if the optional ``timeseries`` extra is not installed.
    """
    if not isinstance(name, str):
        raise _unknown(name)
    if name.lower().startswith(UCR_PREFIX):
        wanted = name[len(UCR_PREFIX) :].lower()
        matches = [d for d in DATASETS if d.lower() == wanted]
        if not matches:
            raise _unknown(name)
        data = load_ucr(matches[0], standardise=matches[0] in STANDARDISED)
        return _classification_task(UCR_PREFIX + matches[0], data)
    key = name.lower()
    if key == "digits":
        return _classification_task("digits", load_digits_sequences(seed=SPLIT_SEED))
    if key in FORECAST_TASKS:
        return _forecast_task(key, transform or TRANSFORMS[key], int(config.batch_size))
    raise _unknown(name)


def majority_rate(task: ClassificationTask, split: str = "test") -> float:
    """The share of the most frequent class in ``split``: the best constant prediction."""
    labels = task.splits[split].labels
    return float(np.bincount(labels).max() / labels.size)
