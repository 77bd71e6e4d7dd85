"""Tasks on real measured data by name: sequence classification and next-value forecasting.

Audio clips are classified too: ``audio:<folder>`` reads a folder of WAV/FLAC files with one
subfolder per class (:mod:`bptt.data.audio`) as log-mel sequences.

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

import numpy as np

from bptt.data.digits import load_digits_sequences
from bptt.data.timeseries import SERIES
from bptt.data.ucr import (
    DATASETS,
    SequenceClassification,
    channel_statistics,
    load_ucr,
)
from bptt.errors import BpttError
from bptt.train.classification import (
    SPLIT_SEED,
    VALID_FRACTION,
    ClassificationTask,
    classification_task,
    majority_rate,
    sequence_split,
    stratified_holdout,
    with_recipe,
)
from bptt.train.forecasting import (
    TRANSFORMS,
    ForecastReport,
    ForecastTask,
    forecast_report,
    forecast_task,
)

__all__ = [  # with the tasks' names, what callers have imported from here
    "AUDIO_DEFAULTS",
    "AUDIO_PREFIX",
    "CLASSIFICATION_TASKS",
    "DEFAULTS",
    "FORECAST_TASKS",
    "REAL_TASKS",
    "ClassificationTask",
    "ForecastReport",
    "ForecastTask",
    "audio_task",
    "forecast_report",
    "is_audio_task",
    "majority_rate",
    "real_task",
    "stratified_holdout",
    "task_defaults",
]

UCR_PREFIX = "ucr:"
AUDIO_PREFIX = "audio:"


class TaskNames(tuple):
    """Task names: ``name in names`` also holds for "audio:<folder>", any folder."""

    def __contains__(self, name: object) -> bool:
        return tuple.__contains__(self, name) or is_audio_task(name)


def is_audio_task(name: object) -> bool:
    """Whether ``name`` is "audio:<folder>"."""
    return isinstance(name, str) and name.startswith(AUDIO_PREFIX) and len(name) > 6


CLASSIFICATION_TASKS = TaskNames((*(UCR_PREFIX + d for d in DATASETS), "digits"))
FORECAST_TASKS = SERIES
REAL_TASKS = TaskNames(CLASSIFICATION_TASKS + FORECAST_TASKS)
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

AUDIO_DEFAULTS: dict[str, Any] = {
    **_FULL,
    "cell": "gru",
    "hidden_size": 64,
    "bidirectional": True,
    "readout": "meanmax",
    "max_steps": 64,
    "batch_size": 16,
    "steps": 1500,
    "lr_schedule": "cosine",
    "eval_every": 100,
}
"""The settings of every ``audio:<folder>`` task (the recipe of docs/results.md)."""


def task_defaults(name: str) -> dict[str, Any]:
    """The :data:`DEFAULTS` of task ``name`` (:data:`AUDIO_DEFAULTS` for "audio:<folder>");
    {} for a task without them."""
    return AUDIO_DEFAULTS if is_audio_task(name) else DEFAULTS.get(name, {})


def audio_task(name: str) -> ClassificationTask:
    """The clips of "audio:<folder>" as log-mel sequences (:mod:`bptt.data.audio`), each
    channel standardised with the training split's statistics. The folder's valid/ split is
    the validation split when it has one, else a stratified 20% of train is held out."""
    from bptt.data.audio import load_audio_folder

    dataset = load_audio_folder(name[len(AUDIO_PREFIX) :])
    parts = {k: sequence_split(v.sequences, v.labels) for k, v in dataset.splits.items()}
    if "valid" not in parts:
        keep, held = stratified_holdout(parts["train"].labels, VALID_FRACTION, SPLIT_SEED)
        train = parts["train"]
        parts["train"] = sequence_split(
            [train.xs[: train.lengths[i], i] for i in keep], train.labels[keep]
        )
        parts["valid"] = sequence_split(
            [train.xs[: train.lengths[i], i] for i in held], train.labels[held]
        )
    mean, std = channel_statistics(parts["train"])
    for key, split in parts.items():
        parts[key] = split._replace(
            xs=np.where(split.mask[..., None], (split.xs - mean) / std, 0.0)
        )
    data = SequenceClassification(name, parts["train"], parts["test"], dataset.class_names)
    return classification_task(name, data, valid=parts["valid"])


def _unknown(name: Any) -> BpttError:
    return BpttError(
        f"Unknown real-data task {name!r}; expected one of {', '.join(REAL_TASKS)} "
        "(UCR/UEA sets are written 'ucr:<Name>', e.g. 'ucr:GunPoint'), or audio:<folder>."
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
    if is_audio_task(name):
        return with_recipe(audio_task(name), config)
    if name.lower().startswith(UCR_PREFIX):
        wanted = name[len(UCR_PREFIX) :].lower()
        matches = [d for d in DATASETS if d.lower() == wanted]
        if not matches:
            raise _unknown(name)
        data = load_ucr(matches[0], standardise=matches[0] in STANDARDISED)
        return with_recipe(classification_task(UCR_PREFIX + matches[0], data), config)
    key = name.lower()
    if key == "digits":
        task = classification_task("digits", load_digits_sequences(seed=SPLIT_SEED))
        return with_recipe(task, config)
    if key in FORECAST_TASKS:
        return forecast_task(key, transform or TRANSFORMS[key], int(config.batch_size))
    raise _unknown(name)
