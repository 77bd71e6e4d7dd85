"""Pure functions over a series' arrays: gap filling, the chronological split, the forecast
baselines (last value, seasonal naive) and metrics (RMSE, MASE).

``bptt.data.timeseries`` loads the bundled series with them (and re-exports them). MASE
follows Hyndman & Koehler (2006), scaled by the in-sample seasonal-naive error of the
training part.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from bptt.data._checks import check_positive_int
from bptt.errors import BpttError
from bptt.types import Array

DEFAULT_MAX_GAP = 18
"""The longest run of missing steps ``fill_gaps`` fills (co2's longest gap is 18 weeks)."""


def fill_gaps(
    values: Any, *, max_gap: int = DEFAULT_MAX_GAP, time: Any = None, name: str = "series"
) -> tuple[Array, np.ndarray]:
    """Fill each run of NaN by linear interpolation between its two observed neighbours.

    A gap of g missing steps between observed x_a and x_b (b = a + g + 1) becomes
    ``x_{a+j} = x_a + j (x_b - x_a) / (g + 1)`` for j = 1..g, column by column.

    Args:
        values: (N,) or (N, D) floats with NaN at the missing steps.
        max_gap: the longest run of missing steps to bridge (0: no NaN allowed).
        time: optional (N,) time stamps, quoted in the error message.
        name: the series name, quoted in the error message.

    Returns:
        ``(filled, observed)``: float64 values of the input's shape with no NaN, and a bool
        array of that shape, False at the filled steps.

    Raises:
        ValueError: if a gap is longer than ``max_gap`` (naming its position and length), or
            the series starts or ends with a missing value (nothing to interpolate from).
    """
    max_gap = check_positive_int(max_gap, "max_gap", minimum=0)
    arr = np.array(values, dtype=np.float64)
    columns = arr.reshape(arr.shape[0], -1)  # (N, D) view
    observed = ~np.isnan(columns)  # (N, D)
    steps = np.arange(columns.shape[0])
    for d in range(columns.shape[1]):
        missing = ~observed[:, d]
        if not missing.any():
            continue
        edges = np.flatnonzero(np.diff(np.concatenate([[0], missing.astype(np.int8), [0]])))
        for start, stop in zip(edges[::2], edges[1::2], strict=True):
            where = f"steps {start}..{stop - 1}"
            if time is not None:
                where += f" ({time[start]} .. {time[stop - 1]})"
            column = f" column {d}" if columns.shape[1] > 1 else ""
            if start == 0 or stop == columns.shape[0]:
                raise BpttError(
                    f"{name}{column} has {stop - start} missing value(s) at its "
                    f"{'start' if start == 0 else 'end'} ({where}); interpolation needs an "
                    "observed value on both sides. Trim the series first."
                )
            if stop - start > max_gap:
                raise BpttError(
                    f"{name}{column} has a gap of {stop - start} missing steps at {where}, "
                    f"longer than `max_gap`={max_gap} steps of linear interpolation. Pass "
                    f"max_gap >= {stop - start} to fill it, or use a span without it."
                )
        good = observed[:, d]
        columns[missing, d] = np.interp(steps[missing], steps[good], columns[good, d])
    return arr, observed.reshape(arr.shape)


def chronological_split(
    num_steps: int, *, valid_fraction: float = 0.15, test_fraction: float = 0.15
) -> tuple[int, int]:
    """``(train_stop, valid_stop)`` for a split of ``num_steps`` steps in time order.

    The test part is the last ``round(test_fraction * N)`` steps and validation the
    ``round(valid_fraction * N)`` before it; each part gets at least one step.

    Raises:
        ValueError: if a fraction is outside [0, 1) or they leave no step for a part.
    """
    N = check_positive_int(num_steps, "num_steps")
    for label, fraction in (("valid_fraction", valid_fraction), ("test_fraction", test_fraction)):
        if not 0 < fraction < 1:
            raise BpttError(f"`{label}` must be in (0, 1), got {fraction!r}.")
    num_test = max(1, round(test_fraction * N))
    num_valid = max(1, round(valid_fraction * N))
    train_stop = N - num_test - num_valid
    if train_stop < 1:
        raise BpttError(
            f"valid_fraction={valid_fraction} and test_fraction={test_fraction} of {N} steps "
            f"leave {train_stop} for training; use smaller fractions."
        )
    return train_stop, N - num_test


class ForecastScores(NamedTuple):
    """RMSE (original units) and MASE (scale-free) of one forecast."""

    rmse: float
    mase: float


def check_horizon(horizon: int, test_length: int) -> int:
    """Return ``horizon`` if 1 <= horizon <= test_length, else raise naming both numbers.

    Raises:
        ValueError: if the horizon is longer than the test part (or below 1).
    """
    h = check_positive_int(horizon, "horizon")
    if h > test_length:
        raise BpttError(
            f"Forecast `horizon`={h} is longer than the test part ({test_length} steps); "
            f"use horizon <= {test_length}, or a larger test_fraction."
        )
    return h


def _history(history: Any, minimum: int, what: str) -> np.ndarray:
    arr = np.asarray(history, dtype=np.float64)
    if arr.ndim not in (1, 2) or arr.shape[0] < minimum:
        raise BpttError(
            f"{what} needs a (N,) or (N, D) history with N >= {minimum}, got shape {arr.shape}."
        )
    return arr


def last_value(history: Any, horizon: int) -> Array:
    """The naive forecast: every future step repeats the last observed value.

    ``y_hat[N + h] = y[N - 1]`` for h = 0..horizon-1.

    Args:
        history: (N,) or (N, D) values before the forecast origin.
        horizon: the number of steps to forecast.

    Returns:
        (horizon,) or (horizon, D), like ``history``.
    """
    h = check_positive_int(horizon, "horizon")
    arr = _history(history, 1, "last_value")
    return np.repeat(arr[-1:], h, axis=0)


def seasonal_naive(history: Any, horizon: int, season: int) -> Array:
    """The seasonal-naive forecast: each step repeats the value one season earlier.

    ``y_hat[N + h] = y[N - m + (h mod m)]`` for h = 0..horizon-1 with m = ``season``: the last
    observed season, repeated (Hyndman & Athanasopoulos, "Forecasting: Principles and
    Practice", 3rd ed., Sec. 5.2). ``season`` = 1 gives :func:`last_value`.

    Args:
        history: (N,) or (N, D) values before the forecast origin, N >= m.
        horizon: the number of steps to forecast.
        season: m >= 1.

    Returns:
        (horizon,) or (horizon, D), like ``history``.
    """
    h = check_positive_int(horizon, "horizon")
    m = check_positive_int(season, "season")
    arr = _history(history, m, f"seasonal_naive with season={m}")
    index = arr.shape[0] - m + np.arange(h) % m  # (horizon,)
    return arr[index]


def _pair(y_true: Any, y_pred: Any, mask: Any) -> tuple[np.ndarray, np.ndarray]:
    """Errors (n, D) and a (n, D) bool mask of the entries to score."""
    true = np.asarray(y_true, dtype=np.float64)
    pred = np.asarray(y_pred, dtype=np.float64)
    if true.shape != pred.shape or true.ndim not in (1, 2) or true.size == 0:
        raise BpttError(
            f"`y_true` and `y_pred` must have the same non-empty (n,) or (n, D) shape, got "
            f"{true.shape} and {pred.shape}."
        )
    errors = (true - pred).reshape(true.shape[0], -1)  # (n, D)
    keep = np.ones(errors.shape, dtype=bool)
    if mask is not None:
        keep = np.broadcast_to(np.asarray(mask, dtype=bool).reshape(true.shape[0], -1), keep.shape)
    if not keep.any(axis=0).all():
        raise BpttError("`mask` leaves a column with no step to score.")
    return errors, keep


def rmse(y_true: Any, y_pred: Any, *, mask: Any = None) -> float:
    """Root mean squared error over every scored entry: ``sqrt(mean((y - y_hat)^2))``.

    Args:
        y_true: (n,) or (n, D) true values.
        y_pred: forecasts of the same shape.
        mask: optional (n,) or (n, D) bool, the entries to score (e.g. observed steps).

    Returns:
        The RMSE, in the units of ``y_true``.
    """
    errors, keep = _pair(y_true, y_pred, mask)
    return float(np.sqrt(np.mean(errors[keep] ** 2)))


def mase(y_true: Any, y_pred: Any, y_train: Any, *, season: int = 1, mask: Any = None) -> float:
    """Mean absolute scaled error against the in-sample seasonal-naive forecast.

    ``MASE = mean_t |y_t - y_hat_t| / Q`` with
    ``Q = 1/(n - m) * sum_{t=m}^{n-1} |y_t - y_{t-m}|`` over the n training values: errors
    are scaled by the in-sample MAE of the one-step seasonal-naive forecast with period m.
    m = 1 is the definition of Hyndman & Koehler, "Another look at measures of forecast
    accuracy", International Journal of Forecasting 22(4):679-688, 2006 (section "Scaled
    errors"); m > 1 is its seasonal form (Hyndman & Athanasopoulos, "Forecasting: Principles
    and Practice", 3rd ed., Sec. 5.8). MASE < 1 beats the in-sample seasonal-naive forecast.
    With D columns each is scaled by its own Q and the D values are averaged.

    Args:
        y_true: (n,) or (n, D) true values of the evaluated part.
        y_pred: forecasts of the same shape.
        y_train: (N,) or (N, D) training values (the scaling part), N > m.
        season: m >= 1.
        mask: optional (n,) or (n, D) bool, the entries to score.

    Returns:
        The MASE (dimensionless).

    Raises:
        ValueError: for mismatched shapes, a training part no longer than m, or a constant
            training part (Q = 0).
    """
    m = check_positive_int(season, "season")
    errors, keep = _pair(y_true, y_pred, mask)
    train = _history(y_train, m + 1, f"mase with season={m}")
    train = train.reshape(train.shape[0], -1)  # (N, D)
    if train.shape[1] != errors.shape[1]:
        raise BpttError(
            f"`y_train` has {train.shape[1]} columns but `y_true` has {errors.shape[1]}."
        )
    scale = np.abs(train[m:] - train[:-m]).mean(axis=0)  # (D,)
    if (scale == 0).any():
        raise BpttError(
            f"The training part is constant at lag {m} (column(s) "
            f"{np.flatnonzero(scale == 0).tolist()}), so the MASE scale is 0."
        )
    per_column = [np.abs(errors[keep[:, d], d]).mean() / scale[d] for d in range(scale.size)]
    return float(np.mean(per_column))
