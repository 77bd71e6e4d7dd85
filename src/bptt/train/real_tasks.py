"""Tasks on real measured data by name: sequence classification and next-value forecasting.

Both kinds follow the task protocol (``bptt.train.tasks.Task``), so truncated or full BPTT,
checkpoints and exact resume work as for the synthetic tasks. The classification tasks
(``ucr:<Name>``, ``digits``) live in :mod:`bptt.train.classification`, the forecasting tasks
(``co2``, ``sunspots``, ``macrodata``) in :mod:`bptt.train.forecasting`; their docstrings
say how each is split, batched and scored. Here: the names, each task's default settings
(:data:`DEFAULTS`) and :func:`real_task`.

Example::

    task = real_task("ucr:ItalyPowerDemand", config)
    batch = task.train_batch(seed=0, index=0, batch_size=16)  # inputs (24, 16, 1)
"""

from __future__ import annotations

from typing import Any

from bptt.data.digits import load_digits_sequences
from bptt.data.timeseries import SERIES
from bptt.data.ucr import DATASETS, load_ucr
from bptt.errors import BpttError
from bptt.train.classification import (
    SPLIT_SEED,
    ClassificationTask,
    classification_task,
    majority_rate,
    stratified_holdout,
)
from bptt.train.forecasting import (
    TRANSFORMS,
    ForecastReport,
    ForecastTask,
    forecast_report,
    forecast_task,
)

__all__ = [  # with the tasks' names, what callers have imported from here
    "CLASSIFICATION_TASKS",
    "DEFAULTS",
    "FORECAST_TASKS",
    "REAL_TASKS",
    "ClassificationTask",
    "ForecastReport",
    "ForecastTask",
    "forecast_report",
    "majority_rate",
    "real_task",
    "stratified_holdout",
]

UCR_PREFIX = "ucr:"
CLASSIFICATION_TASKS = (*(UCR_PREFIX + d for d in DATASETS), "digits")
FORECAST_TASKS = SERIES
REAL_TASKS = CLASSIFICATION_TASKS + FORECAST_TASKS
STANDARDISED = ("BasicMotions", "JapaneseVowels")  # raw UEA channels; UCR sets are z-normalised

_COMMON = {"optimizer": "adam", "learning_rate": 3e-3, "clip": 1.0, "log_every": 10}
_FULL = {**_COMMON, "bptt": "full", "eval_every": 50, "checkpoint_every": 1000}
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
"""Settings per task, the layer of config resolution above the dataclass defaults
(``bptt.train.config.resolve_config``). ``bptt = "full"`` is full BPTT over each sequence;
for a forecast task ``batch_size`` is the number of contiguous streams. Cell, steps, streams
and k were chosen on the validation split (ItalyPowerDemand, GunPoint, JapaneseVowels, digits,
co2, sunspots, macrodata); ArrowHead, OSULeaf and BasicMotions reuse the univariate UCR
settings untuned. See docs/results.md."""


def _unknown(name: Any) -> BpttError:
    return BpttError(
        f"Unknown real-data task {name!r}; expected one of {', '.join(REAL_TASKS)} "
        "(UCR/UEA sets are written 'ucr:<Name>', e.g. 'ucr:GunPoint')."
    )


def real_task(
    name: str, config: Any, *, transform: str | None = None
) -> ClassificationTask | ForecastTask:
    """The task ``name`` of :data:`REAL_TASKS`, for ``bptt.train.factories.make_task``.

    Args:
        name: e.g. "ucr:ItalyPowerDemand" (the set's name in any case), "digits", "co2".
        config: the TrainConfig; ``batch_size`` is the number of streams of a forecast task.
        transform: forecasting only: "level" or "diff" instead of :data:`TRANSFORMS` [name].

    Raises:
        BpttError: for an unknown name (the message lists :data:`REAL_TASKS`) or a batch
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
        return classification_task(UCR_PREFIX + matches[0], data)
    key = name.lower()
    if key == "digits":
        return classification_task("digits", load_digits_sequences(seed=SPLIT_SEED))
    if key in FORECAST_TASKS:
        return forecast_task(key, transform or TRANSFORMS[key], int(config.batch_size))
    raise _unknown(name)
