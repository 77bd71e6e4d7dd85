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
  UEA sets (BasicMotions, JapaneseVowels) and audio features are standardised per channel with
  statistics of the official train split; digits are pixel/16.
- The recipe's settings (``TrainConfig.max_steps``, ``jitter``, ``crop``; off by default):
  sequences longer than ``max_steps`` are cut into patches of k = ceil(T / max_steps)
  consecutive steps (:func:`bptt.data.preprocess.patch`), and each training batch is cropped
  and jittered (:func:`bptt.data.preprocess.crop`, ``jitter``) with the generator
  ``np.random.default_rng([seed, index, AUGMENT_STREAM])``, so a batch is still a pure
  function of (seed, index) and a resumed run sees the same batches.
- Metric: accuracy. Baseline: 1 - the published 1-NN Euclidean test error (Dau et al. 2018)
  where :data:`bptt.data.ucr.PUBLISHED_1NN_ERROR` has it, else the majority-class rate: the
  share of the most frequent class in the test split, the best any constant prediction can
  score there (JapaneseVowels' training classes are balanced, so "the training majority"
  would be an arbitrary pick).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bptt.data.padding import pad_sequences
from bptt.data.preprocess import crop, jitter, mask_of, patch, patch_size
from bptt.data.ucr import PUBLISHED_1NN_ERROR, SequenceClassification, SequenceSplit
from bptt.errors import BpttError
from bptt.train.tasks import Metric
from bptt.window import Batch

SPLIT_SEED = 0  # the valid hold-out and the digits test split, the same for every run
VALID_FRACTION = 0.2
AUGMENT_STREAM = 3  # the third seed word of an augmentation generator
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


def _patched(split: SequenceSplit, k: int) -> SequenceSplit:
    """k consecutive steps as one step of k * D features (k = 1: unchanged)."""
    if k == 1:
        return split
    xs, lengths = patch(split.xs, split.lengths, k)
    return SequenceSplit(xs, mask_of(lengths, xs.shape[0]), split.labels, lengths)


def _augmented(
    split: SequenceSplit, rng: np.random.Generator, ratio: float, sigma: float
) -> SequenceSplit:
    """A random window of ``ratio`` of each sequence, plus N(0, sigma^2) noise."""
    xs, lengths = crop(rng, split.xs, split.lengths, ratio)
    xs = jitter(rng, xs, lengths, sigma)
    return SequenceSplit(xs, mask_of(lengths, xs.shape[0]), split.labels, lengths)


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
        patch: k, consecutive steps read as one (1: off).
        jitter, crop: the augmentation of training batches (0 and 1: off).
    """

    name: str
    splits: dict[str, SequenceSplit]
    class_names: tuple[str, ...]
    metric: Metric
    loss: str = "xent"
    vocab: None = None
    stateful: bool = field(default=False, init=False)
    patch: int = 1
    jitter: float = 0.0
    crop: float = 1.0

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def model_io(self) -> dict[str, Any]:
        return {
            "input_size": int(self.splits["train"].xs.shape[2]) * self.patch,
            "output_size": len(self.class_names),
        }

    def steps(self, batch_size: int) -> int:
        return -(-int(self.splits["train"].xs.shape[0]) // self.patch)

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
        batch = _subset(train, order[j * batch_size : (j + 1) * batch_size])
        if self.crop < 1.0 or self.jitter > 0.0:
            rng = np.random.default_rng([seed, index, AUGMENT_STREAM])
            batch = _augmented(batch, rng, self.crop, self.jitter)
        return _classification_batch(_patched(batch, self.patch))

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
            yield _classification_batch(_patched(_subset(data, index), self.patch))

    def score(self, loss_sum: float, count: int, correct: int) -> float:
        return correct / count


def classification_task(
    name: str, data: SequenceClassification, *, valid: SequenceSplit | None = None
) -> ClassificationTask:
    """The task ``name`` over ``data``: its splits (the valid hold-out, or ``valid`` when the
    data come with their own validation split) and baseline."""
    if valid is None:
        keep, held = stratified_holdout(data.train.labels, VALID_FRACTION, SPLIT_SEED)
        splits = {
            "train": _subset(data.train, keep),
            "valid": _subset(data.train, held),
            "test": data.test,
        }
    else:
        splits = {"train": data.train, "valid": valid, "test": data.test}
    if data.name in PUBLISHED_1NN_ERROR:
        metric = Metric("accuracy", 1.0 - PUBLISHED_1NN_ERROR[data.name], DAU_2018, False)
    else:
        rate = float(np.bincount(data.test.labels).max() / data.test.labels.size)
        metric = Metric("accuracy", rate, MAJORITY, False)
    return ClassificationTask(name, splits, data.class_names, metric)


def with_recipe(task: ClassificationTask, config: Any) -> ClassificationTask:
    """``task`` with the patch length, jitter and crop of ``config`` (the module docstring);
    a config without them (an older one, or a plain namespace) leaves them off."""
    max_steps = int(getattr(config, "max_steps", 0) or 0)
    longest = int(task.splits["train"].lengths.max())
    return dataclasses.replace(
        task,
        patch=patch_size(longest, max_steps) if max_steps else 1,
        jitter=float(getattr(config, "jitter", 0.0)),
        crop=float(getattr(config, "crop", 1.0)),
    )


def sequence_split(sequences: list[np.ndarray], labels: np.ndarray) -> SequenceSplit:
    """N (L_n, D) sequences and their class ids as one right-padded SequenceSplit."""
    xs, mask = pad_sequences(sequences, 0.0, dtype=np.float64)  # (T, N, D), (T, N)
    lengths = np.array([s.shape[0] for s in sequences], dtype=np.int64)
    return SequenceSplit(xs, mask, np.asarray(labels, dtype=np.int64), lengths)


def majority_rate(task: ClassificationTask, split: str = "test") -> float:
    """The share of the most frequent class in ``split``: the best constant prediction."""
    labels = task.splits[split].labels
    return float(np.bincount(labels).max() / labels.size)
