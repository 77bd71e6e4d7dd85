"""UCR/UEA sequence-classification sets bundled in the PyPI package ``aeon`` (1.6.0).

Install with ``pip install 'bptt[timeseries]'``. The official train/test files
``aeon/datasets/data/<Name>/<Name>_TRAIN.ts`` and ``..._TEST.ts`` are located with
``importlib.util.find_spec`` and parsed here, without importing ``aeon``: no download can
happen, and aeon's own dependencies (numba, pandas) are never loaded.

=================  ===========  ======  ===  =======  ====================
name               train/test   T       D    classes  1-NN Euclidean error
=================  ===========  ======  ===  =======  ====================
ItalyPowerDemand   67 / 1029    24      1    2        0.0447
GunPoint           50 / 150     150     1    2        0.0867
ArrowHead          36 / 175     251     1    3        0.2000
OSULeaf            200 / 242    427     1    6        0.4793
BasicMotions       40 / 40      100     6    4        (UEA; not published here)
JapaneseVowels     270 / 370    7-29    12   9        (UEA; variable length)
=================  ===========  ======  ===  =======  ====================

The error rates are the "ED (w=0)" column of the UCR archive's ``DataSummary.csv`` (Dau et al.,
"The UCR Time Series Archive", IEEE/CAA J. Autom. Sinica 2019, arXiv:1810.07758), kept in
:data:`PUBLISHED_1NN_ERROR`; :func:`nearest_neighbour_error` reproduces them exactly on these
files, which shows the splits are the genuine ones.

Layout: every split is time-major and right-padded, xs (T, N, D) float64 with zeros after each
sequence's end, mask (T, N) bool (``mask[t, n]`` is ``t < lengths[n]``), labels (N,) int64 in
0..C-1. T is the longest sequence of that split, so for JapaneseVowels the train and test T
differ (26 and 29). Labels are numbered in the order the file header declares them
(``@classLabel``), and ``class_names[c]`` is the original label of class c.

Normalisation: the four univariate UCR sets are already z-normalised per series by the archive
(mean 0 and sample standard deviation 1 per series), so they are returned unchanged; this is
also what the published 1-NN error rates assume. The UEA sets (BasicMotions, JapaneseVowels)
are raw. ``standardise=True`` rescales each channel with the mean and standard deviation of the
*training* split's valid steps (:func:`channel_statistics`), applied to both splits; test
statistics are never used.

Example::

    data = load_ucr("JapaneseVowels", standardise=True)
    data.train.xs.shape, data.train.mask.shape  # (26, 270, 12), (26, 270)
    last = last_valid_index(data.train.mask)  # read each sequence's final hidden state
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from bptt.data._checks import check_positive_int
from bptt.data._extra import package_file
from bptt.data.padding import pad_sequences
from bptt.errors import BpttError
from bptt.types import Array

DATASETS = (
    "ItalyPowerDemand",
    "GunPoint",
    "ArrowHead",
    "OSULeaf",
    "BasicMotions",
    "JapaneseVowels",
)

# Test error of 1-NN with Euclidean distance, "ED (w=0)" in the UCR 2018 DataSummary.csv.
PUBLISHED_1NN_ERROR = {
    "ItalyPowerDemand": 0.0447,
    "GunPoint": 0.0867,
    "ArrowHead": 0.2000,
    "OSULeaf": 0.4793,
}


class SequenceSplit(NamedTuple):
    """One split of a sequence-classification set, time-major and right-padded with zeros.

    Attributes:
        xs: (T, N, D) float64 inputs; steps at or after a sequence's length are 0.
        mask: (T, N) bool, True on the valid steps (``t < lengths[n]``).
        labels: (N,) int64 class ids in 0..C-1.
        lengths: (N,) int64 sequence lengths, 1 <= lengths[n] <= T.
    """

    xs: Array
    mask: np.ndarray
    labels: np.ndarray
    lengths: np.ndarray


class SequenceClassification(NamedTuple):
    """A train/test pair of :class:`SequenceSplit` and the class names.

    Attributes:
        name: the dataset name.
        train: the training split.
        test: the test split.
        class_names: C names; class id c stands for ``class_names[c]``.
    """

    name: str
    train: SequenceSplit
    test: SequenceSplit
    class_names: tuple[str, ...]

    @property
    def num_classes(self) -> int:
        """C, the number of classes."""
        return len(self.class_names)

    @property
    def num_features(self) -> int:
        """D, the features (channels) per time step."""
        return int(self.train.xs.shape[2])


def resolve_name(name: str) -> str:
    """The canonical spelling of a dataset in :data:`DATASETS` (matching ignores case).

    Raises:
        ValueError: if ``name`` is not one of :data:`DATASETS`; the message lists them.
    """
    by_key = {d.lower(): d for d in DATASETS}
    if not isinstance(name, str) or name.lower() not in by_key:
        raise BpttError(
            f"Unknown UCR/UEA dataset {name!r}; the bundled ones are: {', '.join(DATASETS)}."
        )
    return by_key[name.lower()]


def dataset_path(name: str, split: str) -> Path:
    """Path of ``<Name>_<TRAIN|TEST>.ts`` inside the installed ``aeon`` (not imported).

    Args:
        name: one of :data:`DATASETS` (any case).
        split: "train" or "test".

    Raises:
        ValueError: for an unknown name or split, or an ``aeon`` that lacks the file.
        ImportError: if ``aeon`` is not installed.
    """
    canonical = resolve_name(name)
    if split not in ("train", "test"):
        raise BpttError(f"`split` must be 'train' or 'test', got {split!r}.")
    filename = f"{canonical}_{split.upper()}.ts"
    return package_file(
        "aeon", "datasets", "data", canonical, filename, purpose=f"The {canonical} dataset"
    )


def read_ts(path: str | Path) -> tuple[list[np.ndarray], list[str], tuple[str, ...]]:
    """Parse a ``.ts`` file of the UCR/UEA archive (sktime/aeon format, no time stamps).

    After the ``@data`` line each case is one line: the D channels separated by ``:``, each a
    comma-separated list of L values, and the class label last.

    Args:
        path: the file.

    Returns:
        ``(sequences, labels, declared)``: N float64 arrays of shape (L_n, D), N label
        strings, and the labels the header declares in ``@classLabel`` (in its order; the
        sorted distinct labels if the header declares none).

    Raises:
        ValueError: for time-stamped data, missing values ("?" or NaN), channels of unequal
            length within a case, a channel count that differs between cases, or a label
            the header does not declare; each message names the file and line.
    """
    path = Path(path)
    sequences: list[np.ndarray] = []
    labels: list[str] = []
    declared: tuple[str, ...] = ()
    in_data = False
    with path.open(encoding="utf-8") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            where = f"{path.name} line {number}"
            if not in_data:
                key, _, rest = line.partition(" ")
                key = key.lower()
                if key == "@timestamps" and rest.strip().lower() == "true":
                    raise BpttError(f"{where}: time-stamped .ts data is not supported.")
                if key == "@classlabel":
                    words = rest.split()
                    declared = tuple(words[1:]) if words and words[0].lower() == "true" else ()
                in_data = key == "@data"
                continue
            *channels, label = line.split(":")
            try:
                rows = [np.array(c.split(","), dtype=np.float64) for c in channels]
            except ValueError:
                raise BpttError(f"{where}: a value is not a number (missing values?).") from None
            if len({r.size for r in rows}) != 1:
                raise BpttError(
                    f"{where}: channels have lengths {[r.size for r in rows]}; a case needs "
                    "channels of equal length."
                )
            case = np.stack(rows, axis=1)  # (L, D)
            if not np.isfinite(case).all():
                raise BpttError(f"{where}: holds NaN or infinite values (missing data).")
            if sequences and case.shape[1] != sequences[0].shape[1]:
                raise BpttError(
                    f"{where}: has {case.shape[1]} channels but the first case has "
                    f"{sequences[0].shape[1]}."
                )
            sequences.append(case)
            labels.append(label.strip())
    if not sequences:
        raise BpttError(f"{path} has no cases after its @data line.")
    if not declared:
        declared = tuple(sorted(set(labels)))
    unknown = sorted(set(labels) - set(declared))
    if unknown:
        raise BpttError(
            f"{path.name}: labels {unknown} are not among the declared {list(declared)}."
        )
    return sequences, labels, declared


def _to_split(
    sequences: list[np.ndarray], labels: list[str], names: tuple[str, ...]
) -> SequenceSplit:
    xs, mask = pad_sequences(sequences, 0.0, dtype=np.float64)  # (T, N, D), (T, N)
    index = {label: c for c, label in enumerate(names)}
    ids = np.array([index[label] for label in labels], dtype=np.int64)  # (N,)
    lengths = np.array([s.shape[0] for s in sequences], dtype=np.int64)  # (N,)
    return SequenceSplit(xs, mask, ids, lengths)


def channel_statistics(split: SequenceSplit) -> tuple[Array, Array]:
    """Per-channel mean and standard deviation over the valid steps of ``split``.

    Returns:
        ``(mean, std)``, each (D,) float64; a constant channel gets std 1 (left unscaled).
    """
    values = split.xs[split.mask]  # (sum of lengths, D)
    mean = values.mean(axis=0)
    std = values.std(axis=0)
    return mean, np.where(std > 0, std, 1.0)


def _standardised(split: SequenceSplit, mean: Array, std: Array) -> SequenceSplit:
    xs = np.where(split.mask[..., None], (split.xs - mean) / std, 0.0)  # (T, N, D)
    return split._replace(xs=xs)


def load_ucr(name: str, *, standardise: bool = False) -> SequenceClassification:
    """Load the official train/test split of a bundled UCR/UEA set.

    Args:
        name: one of :data:`DATASETS` (any case), e.g. "ItalyPowerDemand".
        standardise: rescale each channel with the training split's mean and standard
            deviation (see the module docstring); False returns the archive's values.

    Returns:
        A :class:`SequenceClassification`; the classes are numbered in header order.

    Raises:
        ValueError: for an unknown name (the message lists :data:`DATASETS`), or an installed
            ``aeon`` that does not bundle the set.
        ImportError: if ``aeon`` is not installed (the message names the install command).
    """
    canonical = resolve_name(name)
    train_seqs, train_labels, names = read_ts(dataset_path(canonical, "train"))
    test_seqs, test_labels, test_names = read_ts(dataset_path(canonical, "test"))
    if test_names != names:
        raise BpttError(
            f"{canonical}: the train file declares classes {list(names)} but the test file "
            f"{list(test_names)}."
        )
    train = _to_split(train_seqs, train_labels, names)
    test = _to_split(test_seqs, test_labels, names)
    if train.xs.shape[2] != test.xs.shape[2]:
        raise BpttError(
            f"{canonical}: train has {train.xs.shape[2]} channels but test has {test.xs.shape[2]}."
        )
    if standardise:
        mean, std = channel_statistics(train)
        train, test = _standardised(train, mean, std), _standardised(test, mean, std)
    return SequenceClassification(canonical, train, test, names)


def nearest_neighbour_error(
    train: SequenceSplit, test: SequenceSplit, *, chunk_size: int = 256
) -> float:
    """Test error rate of the 1-nearest-neighbour classifier with Euclidean distance.

    Each test sequence gets the label of the training sequence x minimising
    ``sum_{t, d} (x[t, d] - q[t, d])^2``; a tie goes to the first such training sequence, as
    in the UCR archive's reference code. Distances are computed from differences (not the
    ``|a|^2 + |b|^2 - 2ab`` expansion) so rounding cannot reorder near ties.

    Args:
        train: the labelled sequences; all of one length.
        test: the sequences to classify; the same length and D as ``train``.
        chunk_size: test sequences per vectorised block (bounds memory at
            chunk_size * N_train * T * D floats).

    Returns:
        The fraction of misclassified test sequences.

    Raises:
        ValueError: if the sequences do not all have the same length and D (1-NN Euclidean
            is undefined for JapaneseVowels' variable lengths).
    """
    chunk = check_positive_int(chunk_size, "chunk_size")
    lengths = np.concatenate([train.lengths, test.lengths])
    if lengths.min() != lengths.max() or train.xs.shape[2] != test.xs.shape[2]:
        raise BpttError(
            f"1-NN Euclidean needs sequences of one length and D; got lengths "
            f"{int(lengths.min())}..{int(lengths.max())} and D {train.xs.shape[2]} (train), "
            f"{test.xs.shape[2]} (test). Use an equal-length dataset."
        )
    T = int(lengths[0])
    reference = train.xs[:T].transpose(1, 0, 2).reshape(train.xs.shape[1], -1)  # (N_tr, T*D)
    queries = test.xs[:T].transpose(1, 0, 2).reshape(test.xs.shape[1], -1)  # (N_te, T*D)
    nearest = np.empty(queries.shape[0], dtype=np.int64)
    for start in range(0, queries.shape[0], chunk):
        block = queries[start : start + chunk]  # (c, T*D)
        dist = ((block[:, None, :] - reference[None, :, :]) ** 2).sum(axis=2)  # (c, N_tr)
        nearest[start : start + chunk] = np.argmin(dist, axis=1)
    return float(np.mean(train.labels[nearest] != test.labels))
