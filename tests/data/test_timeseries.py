import functools
import importlib.util
import math
import socket

import numpy as np
import pytest

from bptt.data.timeseries import (
    DEFAULT_MAX_GAP,
    SEASON_LENGTH,
    SERIES,
    ForecastData,
    baseline_scores,
    check_horizon,
    chronological_split,
    fill_gaps,
    last_value,
    load_series,
    mase,
    next_value_streams,
    rmse,
    seasonal_naive,
)
from bptt.window import Batch

SKIP_REASON = "the series ship in statsmodels: pip install 'bptt[timeseries]'"

# name: (N, D, train, valid, test, first time stamp, last time stamp)
EXPECTED = {
    "co2": (2284, 1, 1598, 343, 343, "1958-03-29", "2001-12-29"),
    "sunspots": (309, 1, 217, 46, 46, "1700", "2008"),
    "macrodata": (202, 3, 142, 30, 30, "1959-04", "2009-07"),
}


@functools.cache
def _cached(name, **kwargs):
    return load_series(name, **kwargs)


def load(name, **kwargs):
    pytest.importorskip("statsmodels", reason=SKIP_REASON)
    return _cached(name, **kwargs)


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network access attempted during a data-loading test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def toy_data(values, train_stop, valid_stop, season):
    """A ForecastData over a hand-made (N,) series."""
    values = np.asarray(values, dtype=np.float64)[:, None]  # (N, 1)
    train = values[:train_stop]
    return ForecastData(
        name="toy",
        columns=("y",),
        time=np.arange(values.shape[0]),
        values=values,
        observed=np.ones(values.shape, dtype=bool),
        train_stop=train_stop,
        valid_stop=valid_stop,
        mean=train.mean(axis=0),
        std=train.std(axis=0),
        season=season,
    )


# --- loading ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SERIES)
def test_shapes_splits_dtypes_and_no_nan(name, no_network):
    data = load(name)
    N, D, n_train, n_valid, n_test, first, last = EXPECTED[name]
    assert data.values.shape == (N, D) and data.values.dtype == np.float64
    assert data.observed.shape == (N, D) and data.observed.dtype == np.bool_
    assert np.isfinite(data.values).all()  # no NaN reaches the model
    assert [data.part(p).shape[0] for p in ("train", "valid", "test")] == [n_train, n_valid, n_test]
    assert (str(data.time[0]), str(data.time[-1])) == (first, last)
    assert data.season == SEASON_LENGTH[name] and len(data.columns) == D
    assert np.isfinite(data.normalise(data.values)).all()


def test_co2_fills_its_59_missing_weeks():
    data = load("co2")
    assert int((~data.observed).sum()) == 59
    assert (np.diff(data.time) == np.timedelta64(7, "D")).all()
    # Step 6 is a one-week gap: the mean of its neighbours.
    assert not data.observed[6, 0]
    assert data.values[6, 0] == pytest.approx((data.values[5, 0] + data.values[7, 0]) / 2)
    assert data.observed[data.valid_stop :].all()  # the test part has no filled step


def test_co2_gap_longer_than_max_gap_names_position_and_length():
    pytest.importorskip("statsmodels", reason=SKIP_REASON)
    with pytest.raises(
        ValueError,
        match=r"co2 has a gap of 18 missing steps at steps 304\.\.321 \(1964-01-25 \.\. "
        r"1964-05-23\), longer than `max_gap`=17",
    ):
        load_series("co2", max_gap=DEFAULT_MAX_GAP - 1)


def test_matches_statsmodels_own_loaders():
    pytest.importorskip("statsmodels", reason=SKIP_REASON)
    from statsmodels.datasets import co2, macrodata, sunspots

    frame = co2.load_pandas().data
    data = load("co2")
    np.testing.assert_array_equal(data.observed[:, 0], frame["co2"].notna().to_numpy())
    np.testing.assert_array_equal(data.values[data.observed], frame["co2"].dropna().to_numpy())
    np.testing.assert_array_equal(data.time, frame.index.to_numpy().astype("datetime64[D]"))
    spots = sunspots.load_pandas().data["SUNACTIVITY"].to_numpy()
    np.testing.assert_array_equal(load("sunspots").values[:, 0], spots)
    levels = macrodata.load_pandas().data[["realgdp", "realcons", "realinv"]].to_numpy()
    np.testing.assert_allclose(load("macrodata").values, 100 * np.diff(np.log(levels), axis=0))


def test_macrodata_growth_rates_and_column_choice():
    data = load("macrodata")
    assert data.columns == ("realgdp", "realcons", "realinv")
    assert data.values[0, 0] == pytest.approx(100 * math.log(2778.801 / 2710.349))
    two = load("macrodata", columns=("cpi", "m1"))
    assert two.values.shape == (202, 2) and two.columns == ("cpi", "m1")


def test_normalisation_uses_the_training_part_only():
    data = load("sunspots")
    z = data.part("train", normalised=True)
    np.testing.assert_allclose([z.mean(), z.std()], [0.0, 1.0], atol=1e-12)
    np.testing.assert_allclose(data.mean, data.values[: data.train_stop].mean(axis=0))
    np.testing.assert_allclose(data.denormalise(data.normalise(data.values)), data.values)
    # Changing the test part leaves the statistics unchanged.
    altered = data.values.copy()
    altered[data.valid_stop :] += 1000.0
    assert altered[: data.train_stop].mean() == data.mean[0]


def test_unknown_series_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"Unknown series 'airline'; .*co2, sunspots, macrodata"):
        load_series("airline")


def test_bad_columns():
    with pytest.raises(ValueError, match="`columns` applies to macrodata only"):
        load_series("co2", columns=("co2",))
    with pytest.raises(ValueError, match=r"Unknown macrodata column\(s\) \['unemp'\]"):
        load_series("macrodata", columns=("realgdp", "unemp"))


def test_missing_statsmodels_names_the_install_command(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match=r"`statsmodels`.*pip install 'bptt\[timeseries\]'"):
        load_series("sunspots")


# --- gaps and splits ----------------------------------------------------------------------


def test_fill_gaps_by_hand():
    filled, observed = fill_gaps([1.0, np.nan, np.nan, 4.0, np.nan, 8.0], max_gap=2)
    np.testing.assert_allclose(filled, [1, 2, 3, 4, 6, 8])
    np.testing.assert_array_equal(observed, [True, False, False, True, False, True])


def test_fill_gaps_per_column():
    values = np.array([[0.0, 1.0], [np.nan, 2.0], [2.0, np.nan], [3.0, 4.0]])  # (N, 2)
    filled, observed = fill_gaps(values, max_gap=1)
    np.testing.assert_allclose(filled, [[0, 1], [1, 2], [2, 3], [3, 4]])
    assert observed.shape == (4, 2) and (~observed).sum() == 2
    assert np.isnan(values).sum() == 2  # the input is not modified


@pytest.mark.parametrize(
    ("values", "max_gap", "message"),
    [
        ([1, np.nan, np.nan, np.nan, 5], 2, r"gap of 3 missing steps at steps 1\.\.3, longer than"),
        ([1, np.nan, 3], 0, r"gap of 1 missing steps .* `max_gap`=0"),
        ([np.nan, 2, 3], 5, "missing value.* at its start"),
        ([1, 2, np.nan], 5, "missing value.* at its end"),
    ],
)
def test_fill_gaps_rejects(values, max_gap, message):
    with pytest.raises(ValueError, match=message):
        fill_gaps(np.array(values, dtype=float), max_gap=max_gap)


def test_chronological_split():
    assert chronological_split(100) == (70, 85)
    assert chronological_split(10, valid_fraction=0.2, test_fraction=0.3) == (5, 7)
    with pytest.raises(ValueError, match="`test_fraction` must be in"):
        chronological_split(10, test_fraction=1.0)
    with pytest.raises(ValueError, match="leave -1 for training"):
        chronological_split(10, valid_fraction=0.5, test_fraction=0.6)


# --- streams for truncated BPTT -----------------------------------------------------------


def test_next_value_streams_are_contiguous_and_shifted():
    values = np.arange(11.0)  # N = 11, B = 2 -> L = 5
    observed = np.ones(11, dtype=bool)
    observed[3] = False
    streams = next_value_streams(values, 2, observed=observed, loss_from=8)
    assert streams.inputs.shape == (5, 2, 1) and streams.targets.shape == (5, 2, 1)
    np.testing.assert_array_equal(streams.inputs[:, :, 0].T, [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]])
    np.testing.assert_array_equal(streams.targets[:, :, 0], streams.inputs[:, :, 0] + 1)
    # Targets 3 (filled) and 1..7 (before loss_from) carry no loss; 8, 9, 10 do.
    np.testing.assert_array_equal(streams.loss_mask[:, 1], [False, False, True, True, True])
    assert not streams.loss_mask[:, 0].any()
    batch = Batch(*streams)
    assert batch.loss_mask is streams.loss_mask and batch.mask is None


def test_one_long_stream_of_a_real_series():
    data = load("macrodata")
    z = data.part("train", normalised=True)  # (142, 3)
    streams = next_value_streams(z, observed=data.observed[: data.train_stop])
    assert streams.inputs.shape == (141, 1, 3)
    np.testing.assert_array_equal(streams.targets[:-1], streams.inputs[1:])
    assert streams.loss_mask.all()


def test_next_value_streams_rejects_nan_and_too_few_steps():
    with pytest.raises(ValueError, match=r"1 step.* with NaN; fill them with fill_gaps"):
        next_value_streams([1.0, np.nan, 3.0])
    with pytest.raises(ValueError, match="has 3 steps but 3 streams need at least 4"):
        next_value_streams([1.0, 2.0, 3.0], 3)


# --- baselines and metrics ----------------------------------------------------------------


def test_seasonal_naive_and_last_value_by_hand():
    history = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    np.testing.assert_array_equal(seasonal_naive(history, 5, 3), [4, 5, 6, 4, 5])
    np.testing.assert_array_equal(seasonal_naive(history, 2, 1), [6, 6])
    np.testing.assert_array_equal(last_value(history, 3), [6, 6, 6])
    two = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0]])  # (N, D)
    np.testing.assert_array_equal(seasonal_naive(two, 3, 2), [[2, 20], [3, 30], [2, 20]])
    with pytest.raises(ValueError, match="N >= 4, got shape"):
        seasonal_naive([1.0, 2.0, 3.0], 1, 4)


def test_rmse_by_hand():
    assert rmse([1.0, 2.0, 3.0], [1.0, 3.0, 5.0]) == pytest.approx(math.sqrt(5 / 3))
    assert rmse([1.0, 2.0, 3.0], [1.0, 3.0, 5.0], mask=[True, True, False]) == pytest.approx(
        math.sqrt(1 / 2)
    )
    with pytest.raises(ValueError, match=r"same non-empty .* got \(3,\) and \(2,\)"):
        rmse([1.0, 2.0, 3.0], [1.0, 2.0])


def test_mase_by_hand():
    train = [1.0, 3.0, 2.0, 4.0, 3.0, 5.0]
    # Lag 1: |2, 1, 2, 1, 2| has mean 1.6; lag 2: |1, 1, 1, 1| has mean 1.
    truth, forecast = [6.0, 7.0], [5.0, 9.0]  # absolute errors 1 and 2, mean 1.5
    assert mase(truth, forecast, train) == pytest.approx(1.5 / 1.6)
    assert mase(truth, forecast, train, season=2) == pytest.approx(1.5)
    # Two columns: each is scaled by its own Q, then averaged.
    two_train = np.stack([train, np.multiply(train, 10)], axis=1)  # (6, 2)
    two = mase(np.array([[6, 60], [7, 70]]), np.array([[5, 50], [9, 70]]), two_train)
    assert two == pytest.approx((1.5 / 1.6 + 5 / 16) / 2)
    with pytest.raises(ValueError, match="constant at lag 1"):
        mase([1.0], [2.0], [3.0, 3.0, 3.0])


def test_baseline_scores_on_a_toy_series_by_hand():
    values = [1, 3, 2, 5, 4, 6, 5, 8, 6, 9]  # train [0, 6), valid [6, 8), test [8, 10)
    data = toy_data(values, 6, 8, season=2)
    q = (1 + 2 + 2 + 1) / 4  # lag-2 in-sample MAE on the training part
    # Multi-step from the test origin: seasonal naive (5, 8), last value (8, 8); truth (6, 9).
    scores = baseline_scores(data)
    assert scores["seasonal_naive"].rmse == pytest.approx(1.0)
    assert scores["seasonal_naive"].mase == pytest.approx(1.0 / q)
    assert scores["last_value"].rmse == pytest.approx(math.sqrt((4 + 1) / 2))
    assert scores["last_value"].mase == pytest.approx(1.5 / q)
    # One step ahead: seasonal naive y[t-2] = (5, 8), last value y[t-1] = (8, 6).
    one = baseline_scores(data, one_step=True)
    assert one["seasonal_naive"].rmse == pytest.approx(1.0)
    assert one["last_value"].rmse == pytest.approx(math.sqrt((4 + 9) / 2))
    assert one["last_value"].mase == pytest.approx(2.5 / q)
    # A horizon of 1 scores the first test step only.
    assert baseline_scores(data, 1)["last_value"].rmse == pytest.approx(2.0)


def test_horizon_longer_than_the_test_part_names_both_numbers():
    data = toy_data(np.arange(20.0), 14, 17, season=2)
    with pytest.raises(ValueError, match=r"`horizon`=4 is longer than the test part \(3 steps\)"):
        baseline_scores(data, horizon=4)
    with pytest.raises(ValueError, match=r"`horizon`=400 is longer than the test part \(46"):
        check_horizon(400, 46)
    with pytest.raises(ValueError, match="`horizon` must be >= 1"):
        check_horizon(0, 10)
    assert len(baseline_scores(data, horizon=2)) == 2


def test_real_baselines_are_finite_and_seasonal_naive_beats_last_value_on_sunspots():
    scores = baseline_scores(load("sunspots"))
    assert scores["seasonal_naive"].mase < scores["last_value"].mase
    for name in SERIES:
        for score in baseline_scores(load(name)).values():
            assert math.isfinite(score.rmse) and math.isfinite(score.mase) and score.mase > 0
