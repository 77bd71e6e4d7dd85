"""Audio classification from a folder of WAV/FLAC files, one subfolder per class.

Install with ``pip install 'bptt[audio]'``: clips are decoded with ``soundfile``
(libsndfile), mixed to mono, resampled with ``librosa`` when their rate differs from
``sample_rate``, and turned into a sequence of log-mel or MFCC frames with ``librosa``:

    logmel   10 log10 of a mel power spectrogram (``n_mels`` bands, 25 ms windows, 10 ms hop),
             floored 80 dB below the clip's loudest frame (``librosa.power_to_db``)
    mfcc     the first ``n_mfcc`` cepstral coefficients of that log-mel spectrogram

so a clip of one second becomes about 100 steps of ``n_mels`` (or ``n_mfcc``) features.

Folder layouts:

    DIR/<class>/*.wav                     one pool: a seeded, stratified ``test_fraction`` of
                                          the clips is the test split
    DIR/train/<class>/*.wav, DIR/test/... the given splits (and DIR/valid/... when present),
                                          e.g. speakers kept apart (experiments/spoken_digits.py)

Class names are the subfolder names, sorted; files with other suffixes are ignored. A file
that cannot be decoded raises a BpttError that names it.

Example::

    data = load_audio_folder("digits_audio", features="mfcc")
    X_train, y_train = data.splits["train"].sequences, data.splits["train"].labels
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from bptt.data._checks import check_positive_int
from bptt.errors import BpttError, BpttFileNotFoundError, MissingExtraError
from bptt.types import Array

AUDIO_SUFFIXES = (".wav", ".flac")
FEATURES = ("logmel", "mfcc")
SPLITS = ("train", "valid", "test")
INSTALL_HINT = "Install the optional extra with `pip install 'bptt[audio]'`."


class AudioSplit(NamedTuple):
    """The clips of one split.

    Attributes:
        sequences: N arrays of (frames, F) float32 features.
        labels: (N,) int64 class ids.
        paths: the N files, in the same order.
    """

    sequences: list[Array]
    labels: np.ndarray
    paths: list[Path]


class AudioDataset(NamedTuple):
    """Feature sequences of a folder of clips: its splits and class names."""

    name: str
    splits: dict[str, AudioSplit]
    class_names: tuple[str, ...]


def _require(package: str) -> Any:
    try:
        return importlib.import_module(package)
    except ImportError:
        raise MissingExtraError(
            f"Reading audio needs the package `{package}`. {INSTALL_HINT}"
        ) from None


def read_audio(path: str | Path, sample_rate: int) -> Array:
    """The samples of one clip as float32 mono at ``sample_rate`` Hz.

    Raises:
        BpttError: the file cannot be decoded, or holds no samples.
    """
    soundfile = _require("soundfile")
    path = Path(path)
    try:
        samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except Exception as error:  # libsndfile's errors have several types across versions
        raise BpttError(
            f"{path} cannot be read as audio ({type(error).__name__}: {error}). Remove it, "
            "or convert it to WAV or FLAC (e.g. ffmpeg -i in.mp3 out.wav)."
        ) from None
    if samples.shape[0] == 0:
        raise BpttError(f"{path} holds no samples (an empty clip); remove it.")
    mono = samples.mean(axis=1)  # (n,)
    if rate != sample_rate:
        librosa = _require("librosa")
        mono = librosa.resample(mono, orig_sr=rate, target_sr=sample_rate)
    return np.ascontiguousarray(mono, dtype=np.float32)


def audio_features(
    samples: Array, sample_rate: int, *, kind: str = "logmel", n_mels: int = 40, n_mfcc: int = 13
) -> Array:
    """(frames, F) features of mono ``samples``: log-mel (F = n_mels) or MFCC (F = n_mfcc)."""
    if kind not in FEATURES:
        raise BpttError(f"`features` must be one of {FEATURES}, got {kind!r}.")
    librosa = _require("librosa")
    n_fft = round(0.025 * sample_rate)
    hop = round(0.010 * sample_rate)
    mel = librosa.feature.melspectrogram(
        y=np.asarray(samples, dtype=np.float32),
        sr=sample_rate,
        n_fft=n_fft,
        hop_length=hop,
        n_mels=n_mels,
    )  # (n_mels, frames)
    logmel = librosa.power_to_db(mel, ref=np.max, top_db=80.0)
    if kind == "mfcc":
        return librosa.feature.mfcc(S=logmel, n_mfcc=n_mfcc).T.astype(np.float32)
    return logmel.T.astype(np.float32)  # (frames, n_mels)


def _class_files(folder: Path) -> dict[str, list[Path]]:
    """{class name: its audio files, sorted} for the subfolders of ``folder``."""
    classes = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    found = {}
    for c in classes:
        files = sorted(
            p for p in c.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES
        )
        if files:
            found[c.name] = files
    return found


def list_audio_folder(root: str | Path) -> dict[str, dict[str, list[Path]]]:
    """{split: {class: files}} of a folder in one of the two layouts (module docstring);
    a pool without splits comes back as {"all": ...}.

    Raises:
        BpttFileNotFoundError: ``root`` is not a directory.
        BpttError: no class subfolder with audio files, or a test class unknown to train.
    """
    root = Path(root)
    if not root.is_dir():
        raise BpttFileNotFoundError(
            f"Audio folder {root} does not exist or is not a directory; pass a folder with "
            "one subfolder of WAV/FLAC files per class (e.g. --task audio:digits/)."
        )
    if (root / "train").is_dir() and (root / "test").is_dir():
        layout = {s: _class_files(root / s) for s in SPLITS if (root / s).is_dir()}
    else:
        layout = {"all": _class_files(root)}
    first = next(iter(layout))
    if len(layout[first]) < 2:
        raise BpttError(
            f"{root / first if first != 'all' else root} needs at least 2 class subfolders "
            f"holding {'/'.join(AUDIO_SUFFIXES)} files; found {sorted(layout[first])}."
        )
    for split, classes in layout.items():
        unknown = sorted(set(classes) - set(layout[first]))
        if unknown:
            raise BpttError(
                f"{root / split} has classes {unknown} that {root / first} lacks; every split "
                "needs the training split's class folders."
            )
    return layout


def _stratified_test(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A seeded ``fraction`` of each class (at least one of each class that has two)."""
    rng = np.random.default_rng(seed)
    test = np.zeros(labels.size, dtype=bool)
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        k = min(max(round(fraction * members.size), 1), members.size - 1)
        test[members[:k]] = True
    return test


def load_audio_folder(
    root: str | Path,
    *,
    sample_rate: int = 16000,
    features: str = "logmel",
    n_mels: int = 40,
    n_mfcc: int = 13,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> AudioDataset:
    """Every clip of ``root`` as a feature sequence, in splits (see the module docstring).

    Args:
        root: the folder.
        sample_rate: clips at another rate are resampled to this one.
        features: "logmel" or "mfcc"; n_mels, n_mfcc: their sizes.
        test_fraction, seed: the test split of a pool without train/test folders.

    Raises:
        BpttFileNotFoundError, BpttError: see :func:`list_audio_folder` and
            :func:`read_audio`; MissingExtraError: soundfile or librosa missing.
    """
    sample_rate = check_positive_int(sample_rate, "sample_rate")
    if features not in FEATURES:
        raise BpttError(f"`features` must be one of {FEATURES}, got {features!r}.")
    layout = list_audio_folder(root)
    class_names = tuple(layout.get("train", layout.get("all", {})))
    index = {c: k for k, c in enumerate(class_names)}
    splits: dict[str, AudioSplit] = {}
    for split, classes in layout.items():
        paths = [p for c in classes for p in classes[c]]
        labels = np.array([index[c] for c in classes for _ in classes[c]], dtype=np.int64)
        options = {"kind": features, "n_mels": n_mels, "n_mfcc": n_mfcc}
        sequences = [
            audio_features(read_audio(p, sample_rate), sample_rate, **options) for p in paths
        ]
        splits[split] = AudioSplit(sequences, labels, paths)
    if "all" in splits:
        pool = splits.pop("all")
        test = _stratified_test(pool.labels, test_fraction, seed)
        for name, keep in (("train", ~test), ("test", test)):
            chosen = np.flatnonzero(keep)
            splits[name] = AudioSplit(
                [pool.sequences[i] for i in chosen],
                pool.labels[chosen],
                [pool.paths[i] for i in chosen],
            )
    return AudioDataset(Path(root).name or str(root), splits, class_names)
