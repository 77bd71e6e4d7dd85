"""Sequence classification of real measured data: ``ucr:<Name>`` and ``digits``.

The UCR/UEA sets of :mod:`bptt.data.ucr` and the digits of :mod:`bptt.data.digits`,
many-to-one. The model predicts a class at every step; only each sequence's last valid step
carries a loss (``loss_mask``), which for a unidirectional model is the same as a readout at
the last valid step. Padded steps are masked (``mask``).

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
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bptt.data.ucr import PUBLISHED_1NN_ERROR, SequenceClassification, SequenceSplit
from bptt.errors import BpttError
from bptt.train.tasks import Metric
from bptt.window import Batch

SPLIT_SEED = 0  # the valid hold-out and the digits test split, the same for every run
VALID_FRACTION = 0.2
DAU_2018 = "1-NN Euclidean test accuracy, Dau et al. 2018 (arXiv:1810.07758)"
MAJORITY = "majority class: share of the most frequent test class"


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
    vocab: None = None
    stateful: bool = field(default=False, init=False)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def model_io(self) -> dict[str, Any]:
        return {
            "input_size": int(self.splits["train"].xs.shape[2]),
            "output_size": len(self.class_names),
        }

    def steps(self, batch_size: int) -> int:
        return int(self.splits["train"].xs.shape[0])

    def span(self) -> int | None:
        return self.steps(1)  # the class is read at the end of the whole sequence

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
        self, split: str, *, seed: int, batch_size: int, num_sequences: int
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


def classification_task(name: str, data: SequenceClassification) -> ClassificationTask:
    """The task ``name`` over ``data``: its splits (the valid hold-out) and baseline."""
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


def majority_rate(task: ClassificationTask, split: str = "test") -> float:
    """The share of the most frequent class in ``split``: the best constant prediction."""
    labels = task.splits[split].labels
    return float(np.bincount(labels).max() / labels.size)
