"""Forecasting series bundled in ``statsmodels`` (0.15.0), baselines and metrics.

Install with ``pip install 'bptt[timeseries]'``. The CSV files under
``statsmodels/datasets/<name>/`` are located with ``importlib.util.find_spec`` and read here
without importing statsmodels (or pandas); nothing is downloaded.

==========  ================================  =====  ===  ======  ===================
name        what                              N      D    season  split (train/val/test)
==========  ================================  =====  ===  ======  ===================
co2         Mauna Loa CO2 (ppm), weekly,      2,284  1    52      1,598 / 343 / 343
            1958-03-29 .. 2001-12-29
sunspots    yearly mean sunspot number,       309    1    11      217 / 46 / 46
            1700 .. 2008
macrodata   US quarterly growth (%) of real   202    3    4       142 / 30 / 30
            GDP, consumption, investment,
            1959Q2 .. 2009Q3
==========  ================================  =====  ===  ======  ===================

- **co2** has 59 missing weeks in 22 gaps; the longest is 18 weeks (steps 304..321,
  1964-01-25 .. 1964-05-23). :func:`fill_gaps` interpolates each gap linearly when it is at most
  ``max_gap`` steps long (default :data:`DEFAULT_MAX_GAP` = 18, so the whole record loads) and
  raises otherwise; ``observed`` marks the filled steps so a loss can skip them. Linear filling
  flattens the seasonal cycle inside a long gap, which is why the limit is explicit.
- **sunspots** has no missing values. The solar cycle averages about 11 years but varies
  between roughly 9 and 14, so the 11-year seasonal-naive forecast is a rough baseline.
- **macrodata**: the levels of ``realgdp``, ``realcons`` and ``realinv`` (the three real series
  of the classic VAR example) trend and are not stationary, so the model sees their quarterly
  growth rates ``100 * (log x_t - log x_{t-1})`` (percent), which drops the first quarter. Any
  of the strictly positive level columns in :data:`MACRO_LEVEL_COLUMNS` may be chosen instead.
  The series are seasonally adjusted, so the 4-quarter seasonal-naive forecast is weak.

Split: chronological, the last ``test_fraction`` (default 0.15) of the steps form the test
part, the ``valid_fraction`` (0.15) before it the validation part and the rest the training
part (each size is rounded to the nearest step). Normalisation uses the mean and standard
deviation of each column over the training part only; :meth:`ForecastData.normalise` and
:meth:`ForecastData.denormalise` convert both ways. Baselines and metrics work in the original
units.

Example::

    data = load_series("co2")
    z = data.normalise(data.values)  # (N, 1), train statistics
    streams = next_value_streams(z[: data.train_stop], num_streams=4)
    Batch(*streams)  # bptt.window.Batch: inputs, targets (L, 4, 1), loss_mask (L, 4)
    baseline_scores(data)  # {"seasonal_naive": ForecastScores(rmse=..., mase=...), ...}
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from bptt.data._checks import check_positive_int
from bptt.data._extra import package_file

# The baselines and metrics have a module of their own; these names also work from here.
from bptt.data.series import (
    DEFAULT_MAX_GAP,
    ForecastScores,
    check_horizon,
    chronological_split,
    fill_gaps,
    last_value,
    mase,
    rmse,
    seasonal_naive,
)

__all__ = [
    "DEFAULT_MAX_GAP",
    "SERIES",
    "ForecastData",
    "ForecastScores",
    "ForecastStreams",
    "baseline_scores",
    "check_horizon",
    "chronological_split",
    "fill_gaps",
    "last_value",
    "load_series",
    "mase",
    "next_value_streams",
    "resolve_series",
    "rmse",
    "seasonal_naive",
]
from bptt.errors import BpttError
from bptt.types import Array

SERIES = ("co2", "sunspots", "macrodata")
SEASON_LENGTH = {"co2": 52, "sunspots": 11, "macrodata": 4}
MACRO_COLUMNS = ("realgdp", "realcons", "realinv")
MACRO_LEVEL_COLUMNS = ("realgdp", "realcons", "realinv", "realgovt", "realdpi", "cpi", "m1", "pop")
PARTS = ("train", "valid", "test")


class ForecastData(NamedTuple):
    """A series in original units, its chronological split and its training statistics.

    Attributes:
        name: the series name.
        columns: D column names.
        time: (N,) datetime64 time stamps (days for co2, years for sunspots, months for
            macrodata, a quarter's first month).
        values: (N, D) float64, gaps filled; no NaN.
        observed: (N, D) bool, False at the steps :func:`fill_gaps` filled.
        train_stop: steps [0, train_stop) are the training part.
        valid_stop: steps [train_stop, valid_stop) are validation, [valid_stop, N) test.
        mean: (D,) mean of each column over the training part.
        std: (D,) standard deviation of each column over the training part.
        season: the seasonal period m of the seasonal-naive baseline and of MASE.
    """

    name: str
    columns: tuple[str, ...]
    time: np.ndarray
    values: Array
    observed: np.ndarray
    train_stop: int
    valid_stop: int
    mean: Array
    std: Array
    season: int

    def bounds(self, part: str) -> tuple[int, int]:
        """The steps [start, stop) of "train", "valid" or "test"."""
        spans = {
            "train": (0, self.train_stop),
            "valid": (self.train_stop, self.valid_stop),
            "test": (self.valid_stop, self.values.shape[0]),
        }
        if part not in spans:
            raise BpttError(f"`part` must be one of {', '.join(PARTS)}; got {part!r}.")
        return spans[part]

    def part(self, part: str, *, normalised: bool = False) -> Array:
        """The (N_part, D) values of one part, in original units or normalised."""
        start, stop = self.bounds(part)
        values = self.values[start:stop]
        return self.normalise(values) if normalised else values

    def normalise(self, values: Any) -> Array:
        """``(values - mean) / std`` with the training statistics; values (..., D)."""
        return (np.asarray(values, dtype=np.float64) - self.mean) / self.std

    def denormalise(self, values: Any) -> Array:
        """``values * std + mean``: a normalised prediction (..., D) back in original units."""
        return np.asarray(values, dtype=np.float64) * self.std + self.mean


class ForecastStreams(NamedTuple):
    """B contiguous streams for next-value prediction; ``Batch(*streams)`` makes a train Batch.

    Attributes:
        inputs: (L, B, D) values x_t.
        targets: (L, B, D) the next values x_{t+1}.
        loss_mask: (L, B) bool, True where the target is observed (not filled) and at or
            after ``loss_from``.
    """

    inputs: Array
    targets: Array
    loss_mask: np.ndarray


def resolve_series(name: str) -> str:
    """``name`` in lower case if it is one of :data:`SERIES`.

    Raises:
        ValueError: for an unknown name; the message lists :data:`SERIES`.
    """
    key = name.lower() if isinstance(name, str) else name
    if key not in SERIES:
        raise BpttError(f"Unknown series {name!r}; the bundled ones are: {', '.join(SERIES)}.")
    return key


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def _load_raw(name: str, columns: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(time (N,), values (N, D) with NaN) of a bundled series, before any filling."""
    path = package_file(
        "statsmodels", "datasets", name, f"{name}.csv", purpose=f"The {name} series"
    )
    header, rows = _read_csv(path)
    if name == "co2":
        time = np.array([f"{r[0][:4]}-{r[0][4:6]}-{r[0][6:8]}" for r in rows], "datetime64[D]")
        if (np.diff(time) != np.timedelta64(7, "D")).any():
            raise BpttError(f"{path}: the co2 dates are not consecutive weeks.")
        values = np.array([[float(r[1]) if r[1] else np.nan] for r in rows])  # (N, 1)
        return time, values
    if name == "sunspots":
        time = np.array([r[0] for r in rows], dtype="datetime64[Y]")
        return time, np.array([[float(r[1])] for r in rows])  # (N, 1)
    index = [header.index(c) for c in columns]
    levels = np.array([[float(r[i]) for i in index] for r in rows])  # (N + 1, D)
    months = [f"{int(float(r[0]))}-{3 * int(float(r[1])) - 2:02d}" for r in rows]
    growth = 100.0 * np.diff(np.log(levels), axis=0)  # (N, D), percent per quarter
    return np.array(months[1:], dtype="datetime64[M]"), growth


def load_series(
    name: str,
    *,
    valid_fraction: float = 0.15,
    test_fraction: float = 0.15,
    max_gap: int = DEFAULT_MAX_GAP,
    columns: tuple[str, ...] | None = None,
) -> ForecastData:
    """Load a bundled series, fill its gaps, split it in time order and fit the normalisation.

    Args:
        name: "co2", "sunspots" or "macrodata" (any case).
        valid_fraction: share of the steps, before the test part, used for validation.
        test_fraction: share of the steps at the end used for testing.
        max_gap: the longest run of missing steps to interpolate (see :func:`fill_gaps`).
        columns: macrodata only: level columns from :data:`MACRO_LEVEL_COLUMNS` whose growth
            rates to model; default :data:`MACRO_COLUMNS`.

    Returns:
        A :class:`ForecastData` with ``season`` = :data:`SEASON_LENGTH` [name].

    Raises:
        ValueError: for an unknown name or column, a gap longer than ``max_gap``, bad
            fractions, or a training part no longer than one season.
        ImportError: if ``statsmodels`` is not installed (the message names the install
            command).
    """
    key = resolve_series(name)
    if columns is not None and key != "macrodata":
        raise BpttError(f"`columns` applies to macrodata only; {key} has one column.")
    if key == "macrodata":
        columns = MACRO_COLUMNS if columns is None else tuple(columns)
        unknown = [c for c in columns if c not in MACRO_LEVEL_COLUMNS]
        if not columns or unknown:
            raise BpttError(
                f"Unknown macrodata column(s) {unknown or list(columns)}; choose from "
                f"{', '.join(MACRO_LEVEL_COLUMNS)}."
            )
    else:
        columns = (key,) if key == "co2" else ("sunactivity",)
    time, raw = _load_raw(key, columns)
    values, observed = fill_gaps(raw, max_gap=max_gap, time=time, name=key)
    train_stop, valid_stop = chronological_split(
        values.shape[0], valid_fraction=valid_fraction, test_fraction=test_fraction
    )
    season = SEASON_LENGTH[key]
    if train_stop <= season:
        raise BpttError(
            f"The training part of {key} has {train_stop} steps, not more than one season "
            f"({season}); the seasonal-naive scale of MASE needs more. Use smaller fractions."
        )
    train = values[:train_stop]
    std = train.std(axis=0)
    return ForecastData(
        name=key,
        columns=tuple(columns),
        time=time,
        values=values,
        observed=observed,
        train_stop=train_stop,
        valid_stop=valid_stop,
        mean=train.mean(axis=0),
        std=np.where(std > 0, std, 1.0),
        season=season,
    )


def next_value_streams(
    values: Any, num_streams: int = 1, *, observed: Any = None, loss_from: int = 0
) -> ForecastStreams:
    """Cut a series into B contiguous streams for next-value prediction with truncated BPTT.

    With L = (N - 1) // B, stream b reads inputs ``values[b*L : (b+1)*L]`` and predicts
    ``values[b*L + 1 : (b+1)*L + 1]``, as :class:`bptt.data.StreamBatcher` does for tokens.
    Step t of every stream continues step t - 1, so a trainer reads windows
    ``[i*k, (i+1)*k)`` in order and carries each stream's state; B = 1 is one long stream.
    To evaluate with a warmed-up state, pass the series up to the part's end and set
    ``loss_from`` to the part's first step.

    Args:
        values: (N,) or (N, D) floats, normally the normalised series; no NaN.
        num_streams: B >= 1; needs N >= B + 1.
        observed: optional (N,) or (N, D) bool; a target with any unobserved column gets no
            loss.
        loss_from: targets with series index below this get no loss.

    Returns:
        A :class:`ForecastStreams` of (L, B, D) inputs and targets and a (L, B) loss mask.

    Raises:
        ValueError: for NaN, too few steps, or ``observed`` of another length.
    """
    arr = np.asarray(values, dtype=np.float64)
    arr = arr.reshape(arr.shape[0], -1) if arr.ndim else arr.reshape(1, 1)  # (N, D)
    B = check_positive_int(num_streams, "num_streams")
    loss_from = check_positive_int(loss_from, "loss_from", minimum=0)
    N = arr.shape[0]
    if N < B + 1:
        raise BpttError(
            f"`values` has {N} steps but {B} streams need at least {B + 1} (one input and its "
            "next value each); use fewer streams."
        )
    if np.isnan(arr).any():
        raise BpttError(
            f"`values` has {int(np.isnan(arr).any(axis=1).sum())} step(s) with NaN; fill them "
            "with fill_gaps first."
        )
    if observed is None:
        seen = np.ones(N, dtype=bool)
    else:
        obs = np.asarray(observed, dtype=bool)
        if obs.shape[0] != N:
            raise BpttError(f"`observed` has {obs.shape[0]} steps but `values` has {N}.")
        seen = obs.reshape(N, -1).all(axis=1)  # (N,)
    seen = seen & (np.arange(N) >= loss_from)
    L = (N - 1) // B
    positions = np.arange(L)[:, None] + L * np.arange(B)  # (L, B)
    return ForecastStreams(
        inputs=arr[positions],  # (L, B, D)
        targets=arr[positions + 1],  # (L, B, D)
        loss_mask=seen[positions + 1],  # (L, B)
    )


def baseline_scores(
    data: ForecastData, horizon: int | None = None, *, one_step: bool = False
) -> dict[str, ForecastScores]:
    """RMSE and MASE of the seasonal-naive and last-value forecasts on the test part.

    The forecasts cover the first ``horizon`` test steps (default: all of them). By default
    both are multi-step forecasts from the test origin, with history = train + validation;
    ``one_step=True`` instead predicts each test step from the true values before it
    (``y[t - m]`` and ``y[t - 1]``), the counterpart of a teacher-forced next-value model.
    MASE is scaled on the training part with ``data.season``; filled (unobserved) test steps
    are not scored.

    Returns:
        ``{"seasonal_naive": ForecastScores, "last_value": ForecastScores}``.

    Raises:
        ValueError: if ``horizon`` is longer than the test part.
    """
    start, stop = data.bounds("test")
    h = check_horizon(stop - start if horizon is None else horizon, stop - start)
    truth = data.values[start : start + h]  # (h, D)
    if one_step:
        steps = np.arange(start, start + h)
        forecasts = {
            "seasonal_naive": data.values[steps - data.season],
            "last_value": data.values[steps - 1],
        }
    else:
        history = data.values[:start]
        forecasts = {
            "seasonal_naive": seasonal_naive(history, h, data.season),
            "last_value": last_value(history, h),
        }
    mask = data.observed[start : start + h]
    train = data.part("train")
    return {
        method: ForecastScores(
            rmse=rmse(truth, forecast, mask=mask),
            mase=mase(truth, forecast, train, season=data.season, mask=mask),
        )
        for method, forecast in forecasts.items()
    }
