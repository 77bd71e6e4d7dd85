"""Handwritten 8x8 digits as sequences: 8 time steps (image rows) of 8 pixels each.

The 1,797 images of scikit-learn's ``load_digits`` (the UCI "Optical Recognition of
Handwritten Digits" data of Alpaydin & Kaynak, 1998; 10 classes, pixel counts 0..16) are read
from the file ``sklearn/datasets/data/digits.csv.gz`` that scikit-learn installs (located with
``importlib.util.find_spec``, without importing scikit-learn; nothing is downloaded). Install
with ``pip install 'bptt[timeseries]'``.

Step t of image n is its row t: ``xs[t, n, d]`` is pixel (t, d) divided by 16, so inputs lie
in [0, 1] (a fixed scale, no statistics from any split). There is no official split: a seeded
permutation puts ``round(test_fraction * 1797)`` images (359 for 0.2) in the test split and the
rest (1,438) in the training split, each kept in file order. Every sequence has 8 valid steps.

Example::

    data = load_digits_sequences(seed=0)
    data.train.xs.shape, data.test.xs.shape  # (8, 1438, 8), (8, 359, 8)
"""

from __future__ import annotations

import gzip

import numpy as np

from bptt.data._extra import package_file
from bptt.data.ucr import SequenceClassification, SequenceSplit
from bptt.errors import BpttError

NUM_IMAGES = 1797
ROWS = 8
PIXEL_MAX = 16.0


def _split(images: np.ndarray, labels: np.ndarray) -> SequenceSplit:
    N = images.shape[0]
    xs = np.ascontiguousarray(images.transpose(1, 0, 2)) / PIXEL_MAX  # (8, N, 8)
    return SequenceSplit(
        xs=xs,
        mask=np.ones((ROWS, N), dtype=bool),
        labels=labels.astype(np.int64),
        lengths=np.full(N, ROWS, dtype=np.int64),
    )


def load_digits_images() -> tuple[np.ndarray, np.ndarray]:
    """All 1,797 images in file order, as scikit-learn's ``load_digits`` returns them.

    Returns:
        ``(images, labels)``: (1797, 8, 8) float64 pixel counts in 0..16 and (1797,) int64
        digits 0..9.

    Raises:
        ImportError: if scikit-learn is not installed (the message names the install command).
        ValueError: if its data file is missing or does not hold 1,797 rows of 65 numbers.
    """
    path = package_file(
        "sklearn", "datasets", "data", "digits.csv.gz", purpose="The 8x8 digits dataset"
    )
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        table = np.loadtxt(handle, delimiter=",")  # (1797, 65)
    if table.shape != (NUM_IMAGES, ROWS * ROWS + 1):
        raise BpttError(
            f"{path} holds a {table.shape} table; expected ({NUM_IMAGES}, {ROWS * ROWS + 1}) "
            "(64 pixels and the digit per row)."
        )
    return table[:, :-1].reshape(NUM_IMAGES, ROWS, ROWS), table[:, -1].astype(np.int64)


def load_digits_sequences(*, seed: int = 0, test_fraction: float = 0.2) -> SequenceClassification:
    """The digits as (8, N, 8) row sequences with a seeded train/test split.

    Args:
        seed: seed of ``np.random.default_rng`` for the permutation that picks the test images.
        test_fraction: share of the images in the test split, in (0, 1).

    Returns:
        A :class:`bptt.data.ucr.SequenceClassification` named "digits", class names "0".."9".

    Raises:
        ValueError: if ``test_fraction`` is not in (0, 1).
        ImportError: if scikit-learn is not installed.
    """
    if not 0 < test_fraction < 1:
        raise BpttError(f"`test_fraction` must be in (0, 1), got {test_fraction!r}.")
    images, labels = load_digits_images()
    num_test = round(test_fraction * NUM_IMAGES)
    if not 0 < num_test < NUM_IMAGES:
        raise BpttError(
            f"`test_fraction`={test_fraction} gives {num_test} of {NUM_IMAGES} test images; "
            "each split needs at least one."
        )
    order = np.random.default_rng(seed).permutation(NUM_IMAGES)
    is_test = np.zeros(NUM_IMAGES, dtype=bool)
    is_test[order[:num_test]] = True
    return SequenceClassification(
        name="digits",
        train=_split(images[~is_test], labels[~is_test]),
        test=_split(images[is_test], labels[is_test]),
        class_names=tuple(str(c) for c in range(10)),
    )
