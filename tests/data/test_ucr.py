import functools
import importlib.util
import socket
from types import SimpleNamespace

import numpy as np
import pytest

from bptt.data.padding import last_valid_index, lengths_to_mask
from bptt.data.ucr import (
    DATASETS,
    PUBLISHED_1NN_ERROR,
    SequenceSplit,
    channel_statistics,
    load_ucr,
    nearest_neighbour_error,
    read_ts,
    resolve_name,
)

SKIP_REASON = "the UCR/UEA files ship in aeon: pip install 'bptt[timeseries]'"

# name: (N_train, N_test, T_train, T_test, D, C), from the archive's documentation.
OFFICIAL = {
    "ItalyPowerDemand": (67, 1029, 24, 24, 1, 2),
    "GunPoint": (50, 150, 150, 150, 1, 2),
    "ArrowHead": (36, 175, 251, 251, 1, 3),
    "OSULeaf": (200, 242, 427, 427, 1, 6),
    "BasicMotions": (40, 40, 100, 100, 6, 4),
    "JapaneseVowels": (270, 370, 26, 29, 12, 9),
}


@functools.cache
def _cached(name, standardise=False):
    return load_ucr(name, standardise=standardise)


def load(name, standardise=False):
    pytest.importorskip("aeon", reason=SKIP_REASON)
    return _cached(name, standardise)


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection fails, so a hidden download cannot pass silently."""

    def refuse(*args, **kwargs):
        raise OSError("network access attempted during a data-loading test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def split(lengths, labels, D=1):
    """A SequenceSplit with xs[t, n, d] = n + 1 on valid steps (padding 0)."""
    lengths = np.asarray(lengths)
    mask = lengths_to_mask(lengths)  # (T, N)
    xs = np.where(mask[..., None], np.arange(1.0, lengths.size + 1)[None, :, None], 0.0)
    xs = np.repeat(xs, D, axis=2)  # (T, N, D)
    return SequenceSplit(xs, mask, np.asarray(labels, dtype=np.int64), lengths)


@pytest.mark.parametrize("name", DATASETS)
def test_official_split_sizes_dtypes_and_layout(name, no_network):
    data = load(name)
    n_train, n_test, t_train, t_test, D, C = OFFICIAL[name]
    assert data.name == name and data.num_classes == C and data.num_features == D
    for part, N, T in ((data.train, n_train, t_train), (data.test, n_test, t_test)):
        assert part.xs.shape == (T, N, D) and part.xs.dtype == np.float64
        assert part.mask.shape == (T, N) and part.mask.dtype == np.bool_
        assert part.labels.shape == (N,) and part.labels.dtype == np.int64
        assert part.lengths.dtype == np.int64 and part.lengths.max() == T
        assert np.isfinite(part.xs).all()  # no NaN reaches the model
        assert set(np.unique(part.labels)) <= set(range(C))
        np.testing.assert_array_equal(part.mask, lengths_to_mask(part.lengths, T))
        assert (part.xs[~part.mask] == 0).all()  # padding is zero
    # Every class occurs in the training split.
    np.testing.assert_array_equal(np.unique(data.train.labels), np.arange(C))


def test_japanese_vowels_variable_lengths_through_the_mask():
    data = load("JapaneseVowels")
    lengths = np.concatenate([data.train.lengths, data.test.lengths])
    assert (lengths.min(), lengths.max()) == (7, 29)
    assert len(np.unique(data.train.lengths)) > 1
    last = last_valid_index(data.test.mask)  # (N,)
    np.testing.assert_array_equal(last, data.test.lengths - 1)
    # The final valid step is real data, the step after it padding.
    n = int(np.argmin(data.test.lengths))
    assert np.abs(data.test.xs[last[n], n]).sum() > 0
    assert (data.test.xs[last[n] + 1 :, n] == 0).all()


def test_class_names_follow_the_header_order():
    assert load("BasicMotions").class_names == ("Standing", "Running", "Walking", "Badminton")
    assert load("ArrowHead").class_names == ("0", "1", "2")
    assert load("JapaneseVowels").class_names == tuple("123456789")


@pytest.mark.parametrize("name", ["ItalyPowerDemand", "GunPoint", "ArrowHead", "OSULeaf"])
def test_univariate_ucr_sets_are_already_z_normalised_per_series(name):
    xs = load(name).test.xs[:, :, 0]  # (T, N)
    np.testing.assert_allclose(xs.mean(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(xs.std(axis=0, ddof=1), 1.0, atol=1e-6)


def test_italy_power_demand_reproduces_published_1nn_euclidean_error():
    data = load("ItalyPowerDemand")
    error = nearest_neighbour_error(data.train, data.test)
    assert round(error, 4) == PUBLISHED_1NN_ERROR["ItalyPowerDemand"] == 0.0447
    assert round(error * 1029) == 46  # 46 of the 1029 test days misclassified


@pytest.mark.parametrize("name", ["GunPoint", "ArrowHead", "OSULeaf"])
def test_other_univariate_sets_reproduce_published_1nn_error(name):
    data = load(name)
    error = nearest_neighbour_error(data.train, data.test, chunk_size=64)
    assert round(error, 4) == PUBLISHED_1NN_ERROR[name]


def test_standardise_uses_training_statistics_only():
    raw = load("BasicMotions")
    scaled = load("BasicMotions", standardise=True)
    mean, std = channel_statistics(raw.train)  # (6,), (6,)
    valid = scaled.train.xs[scaled.train.mask]  # (sum of lengths, D)
    np.testing.assert_allclose(valid.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(valid.std(axis=0), 1.0, atol=1e-12)
    np.testing.assert_allclose(scaled.test.xs, (raw.test.xs - mean) / std, atol=1e-12)
    # Test statistics were not used: the test split is not exactly standardised.
    assert not np.allclose(scaled.test.xs[scaled.test.mask].mean(axis=0), 0.0, atol=1e-6)


def test_standardise_keeps_padding_zero_for_variable_lengths():
    data = load("JapaneseVowels", standardise=True)
    assert (data.test.xs[~data.test.mask] == 0).all()
    assert np.isfinite(data.test.xs).all()


def test_nearest_neighbour_by_hand_with_ties_to_the_first():
    train = split([2, 2, 2], [0, 1, 1])  # sequences of 1s, 2s and 3s
    test = split([2, 2, 2], [0, 0, 1])  # 1s (nearest: train 0), 2s, 3s
    # Test 1 equals train 1 (label 1, wrong); test 2 equals train 2 (label 1, right).
    assert nearest_neighbour_error(train, test) == pytest.approx(1 / 3)
    # A query equidistant from two training sequences takes the first one's label.
    xs = np.array([[[0.0], [2.0]]])  # (T=1, N=2, D=1)
    tie_train = SequenceSplit(xs, np.ones((1, 2), bool), np.array([1, 0]), np.array([1, 1]))
    tie_test = SequenceSplit(xs[:, :1] + 1, np.ones((1, 1), bool), np.array([1]), np.array([1]))
    assert nearest_neighbour_error(tie_train, tie_test) == 0.0


def test_nearest_neighbour_rejects_variable_lengths():
    with pytest.raises(ValueError, match=r"one length and D; got lengths 2\.\.3"):
        nearest_neighbour_error(split([2, 3], [0, 1]), split([2], [0]))


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"Unknown UCR/UEA dataset 'Coffee'.*ItalyPowerDemand"):
        load_ucr("Coffee")
    assert resolve_name("italypowerdemand") == "ItalyPowerDemand"


def test_missing_aeon_names_the_install_command(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match=r"`aeon`.*pip install 'bptt\[timeseries\]'"):
        load_ucr("GunPoint")


def test_aeon_without_the_dataset_says_so(monkeypatch, tmp_path):
    spec = SimpleNamespace(submodule_search_locations=[str(tmp_path)], origin=None)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: spec)
    with pytest.raises(ValueError, match=r"GunPoint_TRAIN\.ts.*not there"):
        load_ucr("GunPoint")


TS_HEADER = "#comment\n@problemName Toy\n@classLabel true b a\n@data\n"


def test_read_ts_parses_channels_lengths_and_labels(tmp_path):
    path = tmp_path / "toy.ts"
    path.write_text(TS_HEADER + "1,2,3:4,5,6:a\n\n7,8:9,10:b\n")
    sequences, labels, declared = read_ts(path)
    np.testing.assert_array_equal(sequences[0], [[1, 4], [2, 5], [3, 6]])  # (L, D)
    np.testing.assert_array_equal(sequences[1], [[7, 9], [8, 10]])
    assert labels == ["a", "b"] and declared == ("b", "a")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("1,?,3:a\n", "not a number"),
        ("1,NaN,3:a\n", "NaN or infinite"),
        ("1,2,3:4,5:a\n", r"channels have lengths \[3, 2\]"),
        ("1,2:a\n1,2:3,4:b\n", "has 2 channels but the first case has 1"),
        ("1,2:c\n", r"labels \['c'\] are not among the declared \['b', 'a'\]"),
        ("", "no cases"),
    ],
)
def test_read_ts_rejects_bad_files(tmp_path, body, message):
    path = tmp_path / "bad.ts"
    path.write_text(TS_HEADER + body)
    with pytest.raises(ValueError, match=message):
        read_ts(path)


def test_read_ts_rejects_time_stamps(tmp_path):
    path = tmp_path / "stamped.ts"
    path.write_text("@timeStamps true\n@data\n(0,1),(1,2):a\n")
    with pytest.raises(ValueError, match="time-stamped"):
        read_ts(path)
