"""Sequence-classification inputs: from a user's arrays to time-major batches, and back.

Every function is pure (an augmentation draws from the generator it is given) and works on
time-major, right-padded arrays: xs (T, N, D), mask (T, N), ``mask[t, n]`` = t < lengths[n].

- :func:`collate`: what a user passes (2-D or 3-D arrays, NaN-padded arrays, lists of arrays)
  as (xs, lengths). Two layouts: "NTD", scikit-learn's and Keras's (n_samples, n_timesteps)
  or (n_samples, n_timesteps, n_features), and "NCT", aeon's and sktime's numpy3D
  (n_cases, n_channels, n_timepoints). Trailing NaN marks a shorter series.
- :func:`znormalise_series`: each series and channel to mean 0 and standard deviation 1 over
  its valid steps, the convention of the UCR archive (Dau et al., arXiv:1810.07758).
- :func:`channel_statistics` / :func:`standardise`: one mean and standard deviation per
  channel, from training data only.
- :func:`patch`: k consecutive steps as one step of k * D features (strided inputs): a
  series k times shorter for the recurrence, each step a local shape.
- :func:`jitter` and :func:`crop`: the augmentations of Le Guennec, Malinowski and Tavenard
  ("Data Augmentation for Time Series Classification using Convolutional Neural Networks",
  ECML/PKDD AALTD 2016: window slicing) and Um et al. 2017 (jittering), applied per batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from bptt.errors import BpttError, BpttTypeError
from bptt.types import Array

LAYOUTS = ("NTD", "NCT")


def _as_float(value: Any, what: str) -> np.ndarray:
    array = np.asarray(value)
    if np.iscomplexobj(array):
        raise BpttError(f"Complex data not supported: {what} has dtype {array.dtype}.")
    if array.dtype.kind not in "biuf":
        try:
            return array.astype(np.float64)
        except (TypeError, ValueError) as error:
            raise BpttTypeError(
                f"{what} must hold numbers; converting dtype {array.dtype} failed: {error}"
            ) from None
    return array.astype(np.float64)


def _series_length(series: np.ndarray, where: str) -> int:
    """Valid steps of one (L, D) series: everything before its trailing all-NaN steps."""
    nan = np.isnan(series)  # (L, D)
    if np.isinf(series).any():
        raise BpttError(f"{where} holds infinite values; replace them before fitting.")
    if not nan.any():
        return series.shape[0]
    step_nan = nan.all(axis=1)  # (L,)
    L = series.shape[0] - int(np.argmin(step_nan[::-1])) if not step_nan.all() else 0
    if nan[:L].any():
        t = int(np.argwhere(nan[:L])[0, 0])
        raise BpttError(
            f"{where} has NaN at step {t}, inside the series (followed by values). NaN may "
            "only pad the end of a shorter series; fill missing values before fitting."
        )
    if L == 0:
        raise BpttError(f"{where} holds no values (every step is NaN).")
    return L


class Collated(NamedTuple):
    """Series as one time-major batch.

    Attributes:
        xs: (T, N, D) float64, zeros after each series' end; T the longest series.
        lengths: (N,) valid steps per series.
        table_width: the number of columns when X was a 2-D table (an array, or a list of
            equal-length rows), else None.
    """

    xs: Array
    lengths: np.ndarray
    table_width: int | None


def collate(X: Any, layout: str = "NTD") -> Collated:
    """Series in a user's layout as time-major (xs (T, N, D) float64, lengths (N,)).

    Args:
        X: one of
            - a 2-D array (N, T): N univariate series (both layouts);
            - a 3-D array, (N, T, D) for layout "NTD" or (N, D, T) for "NCT";
            - a list of N arrays, each (T_n,) or, per layout, (T_n, D) or (D, T_n).
            Trailing NaN steps (NaN in every channel) mark the end of a shorter series.
        layout: "NTD" (scikit-learn, Keras: time before features) or "NCT" (aeon, sktime
            numpy3D: channels before time).

    Returns:
        Collated(xs, lengths, table_width): xs (T, N, D) with zeros after each series'
        end, T the longest.

    Raises:
        ValueError: no series, a 1-D array, NaN inside a series, infinite values, complex
            data, or series with different numbers of channels.
        TypeError: values that are not numbers.
    """
    if layout not in LAYOUTS:
        raise BpttError(f"`layout` must be one of {LAYOUTS}, got {layout!r}.")
    if hasattr(X, "toarray") or type(X).__module__.startswith("scipy.sparse"):
        raise BpttTypeError(
            "A sparse matrix was passed, but dense data is required: series are dense "
            "arrays. Use X.toarray()."
        )
    sequences, width = _split(X, layout)
    if not sequences:
        raise BpttError("X holds 0 series (n_samples=0); at least one is required.")
    channels = {s.shape[1] for s in sequences}
    if len(channels) != 1:
        raise BpttError(
            f"Series have different numbers of channels {sorted(channels)}; every series "
            "needs the same D."
        )
    lengths = np.array(
        [_series_length(s, f"Series {n}") for n, s in enumerate(sequences)], dtype=np.int64
    )
    T, N, D = int(lengths.max()), len(sequences), channels.pop()
    if D == 0:
        raise BpttError("Series have 0 channels (n_features=0); at least one is required.")
    xs = np.zeros((T, N, D))
    for n, (s, L) in enumerate(zip(sequences, lengths, strict=True)):
        xs[:L, n] = s[:L]
    return Collated(xs, lengths, width)


def _split(X: Any, layout: str) -> tuple[list[np.ndarray], int | None]:
    """X as a list of (L_n, D) float64 arrays, and its width if it is a 2-D table."""
    if isinstance(X, list | tuple):
        try:
            array = _as_float(X, "X")
        except ValueError as error:  # ragged: a list of series of different lengths
            if "inhomogeneous" not in str(error) and "sequence" not in str(error):
                raise
            return [_one_series(s, layout, n) for n, s in enumerate(X)], None
    else:
        array = _as_float(X, "X")
    if array.ndim in (2, 3) and 0 in array.shape[1:]:
        raise BpttError(
            f"Found array with 0 feature(s) (shape={array.shape}) while a minimum of 1 is "
            "required: every series needs at least one step and one channel."
        )
    if array.ndim == 2:
        return list(array[:, :, None]), array.shape[1]  # N x (T, 1)
    if array.ndim == 3:
        if layout == "NCT":
            array = array.transpose(0, 2, 1)  # (N, T, D)
        return list(array), None
    raise BpttError(
        f"Expected 2D array (n_samples, n_timesteps) or 3D array, got {array.ndim}D array "
        f"instead (shape {array.shape}). Reshape your data either using array.reshape(-1, 1) "
        "if your data has a single feature or array.reshape(1, -1) if it contains a single "
        "sample; or pass a list of series."
    )


def _one_series(series: Any, layout: str, n: int) -> np.ndarray:
    s = _as_float(series, f"Series {n}")
    if s.ndim == 1:
        return s[:, None]
    if s.ndim != 2:
        raise BpttError(
            f"Series {n} has shape {s.shape}; a series in a list is (T_n,) or, for layout "
            f"{layout!r}, {'(T_n, D)' if layout == 'NTD' else '(D, T_n)'}."
        )
    return s if layout == "NTD" else s.T


def mask_of(lengths: np.ndarray, T: int) -> np.ndarray:
    """(T, N) bool: ``t < lengths[n]``."""
    return np.arange(T)[:, None] < np.asarray(lengths)[None, :]


def znormalise_series(xs: Array, lengths: np.ndarray) -> Array:
    """Each series and channel to mean 0 and standard deviation 1 over its valid steps.

    A constant channel (standard deviation 0, e.g. a series of one step) is only centred.
    Padded steps stay 0.
    """
    mask = mask_of(lengths, xs.shape[0])[..., None]  # (T, N, 1)
    n = np.asarray(lengths, dtype=np.float64)[:, None]  # (N, 1)
    mean = (xs * mask).sum(axis=0) / n  # (N, D)
    centred = (xs - mean) * mask
    std = np.sqrt((centred**2).sum(axis=0) / n)  # (N, D)
    return centred / np.where(std > 1e-8, std, 1.0)


def channel_statistics(xs: Array, lengths: np.ndarray) -> tuple[Array, Array]:
    """(mean (D,), std (D,)) of every channel over every valid step; std 0 becomes 1."""
    values = xs[mask_of(lengths, xs.shape[0])]  # (sum of lengths, D)
    std = values.std(axis=0)
    return values.mean(axis=0), np.where(std > 1e-8, std, 1.0)


def standardise(xs: Array, lengths: np.ndarray, mean: Array, std: Array) -> Array:
    """(xs - mean) / std on the valid steps; padded steps stay 0."""
    mask = mask_of(lengths, xs.shape[0])[..., None]
    return np.where(mask, (xs - mean) / std, 0.0)


def patch_size(longest: int, max_steps: int) -> int:
    """k = ceil(longest / max_steps): the patch that makes a series at most max_steps long."""
    if max_steps < 1:
        raise BpttError(f"`max_steps` must be an integer >= 1, got {max_steps!r}.")
    return max(1, -(-int(longest) // int(max_steps)))


def patch(xs: Array, lengths: np.ndarray, k: int) -> tuple[Array, np.ndarray]:
    """Steps [k s, k s + k) of each series as step s, their features side by side.

    Args:
        xs: (T, N, D); padded steps must be 0 (they fill a series' last, partial patch).
        lengths: (N,) valid steps.
        k: the patch length.

    Returns:
        (patched (ceil(T / k), N, k * D), lengths ceil(L_n / k)).
    """
    if k == 1:
        return xs, np.asarray(lengths)
    T, N, D = xs.shape
    S = -(-T // k)
    padded = np.zeros((S * k, N, D), dtype=xs.dtype)
    padded[:T] = xs
    out = padded.reshape(S, k, N, D).transpose(0, 2, 1, 3).reshape(S, N, k * D)
    return out, -(-np.asarray(lengths) // k)


def jitter(rng: np.random.Generator, xs: Array, lengths: np.ndarray, sigma: float) -> Array:
    """xs plus N(0, sigma^2) noise on the valid steps (Um et al. 2017, arXiv:1706.00527)."""
    if sigma <= 0:
        return xs
    noise = rng.normal(0.0, sigma, xs.shape).astype(xs.dtype)
    return xs + noise * mask_of(lengths, xs.shape[0])[..., None]


def crop(
    rng: np.random.Generator, xs: Array, lengths: np.ndarray, ratio: float
) -> tuple[Array, np.ndarray]:
    """Window slicing: a random window of ceil(ratio * L_n) consecutive valid steps of each
    series, moved to the start (Le Guennec et al. 2016). ``ratio`` 1 returns xs unchanged.

    Returns:
        (xs cut to the longest window (T', N, D), the windows' lengths (N,)).
    """
    if ratio >= 1.0:
        return xs, np.asarray(lengths)
    lengths = np.asarray(lengths)
    new = np.maximum(1, np.ceil(ratio * lengths).astype(np.int64))  # (N,)
    starts = (rng.random(lengths.size) * (lengths - new + 1)).astype(np.int64)  # (N,)
    T = int(new.max())
    steps = starts[None, :] + np.arange(T)[:, None]  # (T, N)
    steps = np.minimum(steps, xs.shape[0] - 1)
    out = np.take_along_axis(xs, steps[..., None], axis=0)  # (T, N, D)
    return out * mask_of(new, T)[..., None], new


def sequences_of(xs: Array, lengths: np.ndarray) -> Sequence[np.ndarray]:
    """The N series of a padded batch as a list of (L_n, D) arrays (the inverse of collate)."""
    return [xs[:L, n] for n, L in enumerate(np.asarray(lengths))]
