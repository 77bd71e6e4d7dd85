import math

import numpy as np
import pytest

from bptt.data.synthetic import (
    ADDING_BASELINE_MSE,
    COPY_DELIMITER,
    COPY_NUM_CLASSES,
    COPY_VOCAB_SIZE,
    TEMPORAL_ORDER_BASELINE_NATS,
    TEMPORAL_ORDER_CLASSES,
    TEMPORAL_ORDER_SYMBOLS,
    adding_problem,
    copy_baseline,
    copy_task,
    temporal_order,
)


def rng(seed=0):
    return np.random.default_rng(seed)


# ----------------------------------------------------------------------------- adding problem


@pytest.mark.parametrize("T", [2, 7, 50])
def test_adding_has_one_marker_in_each_half(T):
    batch = adding_problem(rng(), T, 64)
    assert batch.inputs.shape == (T, 64, 2) and batch.targets.shape == (64, 1)
    assert batch.inputs.dtype == batch.targets.dtype == np.float64
    markers = batch.inputs[:, :, 1]  # (T, B)
    assert set(np.unique(markers)) <= {0.0, 1.0}
    np.testing.assert_array_equal(markers[: T // 2].sum(axis=0), 1.0)
    np.testing.assert_array_equal(markers[T // 2 :].sum(axis=0), 1.0)
    first, second = batch.positions
    assert (first < T // 2).all() and (second >= T // 2).all() and (second < T).all()
    values = batch.inputs[:, :, 0]
    assert (values >= 0).all() and (values <= 1).all()
    np.testing.assert_allclose(batch.targets[:, 0], (values * markers).sum(axis=0))


def test_adding_markers_reach_both_ends_of_each_half():
    first, second = adding_problem(rng(), 6, 400).positions
    assert set(first) == {0, 1, 2} and set(second) == {3, 4, 5}


def test_adding_is_deterministic_and_respects_dtype():
    a, b = adding_problem(rng(3), 10, 4), adding_problem(rng(3), 10, 4)
    np.testing.assert_array_equal(a.inputs, b.inputs)
    np.testing.assert_array_equal(a.targets, b.targets)
    assert not np.array_equal(a.inputs, adding_problem(rng(4), 10, 4).inputs)
    single = adding_problem(rng(), 10, 4, dtype=np.float32)
    assert single.inputs.dtype == single.targets.dtype == np.float32


def test_adding_baseline_is_the_mse_of_predicting_one():
    assert math.isclose(ADDING_BASELINE_MSE, 1 / 6)
    targets = adding_problem(rng(), 2, 200_000).targets
    assert np.mean((targets - 1.0) ** 2) == pytest.approx(ADDING_BASELINE_MSE, abs=3e-3)


@pytest.mark.parametrize(
    ("T", "B", "message"),
    [(1, 4, "`length` must be >= 2, got 1"), (10, 0, "`batch_size` must be >= 1, got 0")],
)
def test_adding_rejects_bad_sizes(T, B, message):
    with pytest.raises(ValueError, match=message):
        adding_problem(rng(), T, B)


def test_generators_need_a_generator():
    with pytest.raises(TypeError, match=r"np\.random\.default_rng"):
        adding_problem(0, 10, 4)
    with pytest.raises(TypeError, match="Generator"):
        copy_task(np.random.RandomState(0), 10, 4)


# ----------------------------------------------------------------------------- copy task


@pytest.mark.parametrize("T", [1, 5, 30])
def test_copy_task_structure(T):
    batch = copy_task(rng(), T, 16)
    x, y = batch.inputs, batch.targets
    assert x.shape == y.shape == (T + 20, 16) and x.dtype == y.dtype == np.int64
    assert ((x[:10] >= 1) & (x[:10] <= 8)).all()
    assert (x[10 : 10 + T - 1] == 0).all()
    assert (x[T + 9] == COPY_DELIMITER).all()
    assert (x[T + 10 :] == 0).all()
    assert (y[: T + 10] == 0).all()
    np.testing.assert_array_equal(y[T + 10 :], x[:10])
    assert x.max() < COPY_VOCAB_SIZE and y.max() < COPY_NUM_CLASSES


def test_copy_task_is_deterministic_and_uses_all_symbols():
    a, b = copy_task(rng(5), 10, 50), copy_task(rng(5), 10, 50)
    np.testing.assert_array_equal(a.inputs, b.inputs)
    assert set(np.unique(a.inputs[:10])) == set(range(1, 9))


@pytest.mark.parametrize(("T", "expected"), [(100, 0.1733), (200, 0.0945), (500, 0.0400)])
def test_copy_baseline_formula(T, expected):
    assert copy_baseline(T) == pytest.approx(10 * math.log(8) / (T + 20))
    assert copy_baseline(T) == pytest.approx(expected, abs=5e-5)


def test_copy_baseline_is_what_the_best_memoryless_predictor_scores():
    # A memoryless predictor sees only the step t: its best guess is the class frequency at t.
    T = 12
    train = copy_task(rng(0), T, 20_000).targets
    freq = np.stack([np.bincount(row, minlength=COPY_NUM_CLASSES) for row in train]) / 20_000.0
    test = copy_task(rng(1), T, 5_000).targets
    prob = np.take_along_axis(freq, test, axis=1)  # (T + 20, B)
    assert -np.mean(np.log(prob)) == pytest.approx(copy_baseline(T), rel=2e-3)


def test_copy_rejects_bad_sizes():
    with pytest.raises(ValueError, match="`length` must be >= 1, got 0"):
        copy_task(rng(), 0, 4)
    with pytest.raises(ValueError, match="`batch_size` must be >= 1, got 0"):
        copy_task(rng(), 10, 0)
    with pytest.raises(ValueError, match="`length` must be >= 1, got 0"):
        copy_baseline(0)


# ----------------------------------------------------------------------------- temporal order

E, TRIGGER, X, Y = (TEMPORAL_ORDER_SYMBOLS.index(s) for s in ("E", "B", "X", "Y"))


def check_temporal_order(batch, len_range, t1_range, t2_range):
    """The paper's structure: E, a..d noise with X/Y at t1 and t2, then the trigger B."""
    x, mask, lengths = batch.inputs, batch.mask, batch.lengths
    B = x.shape[1]
    assert x.shape == mask.shape == (lengths.max(), B)
    assert x.dtype == batch.targets.dtype == lengths.dtype == np.int64 and mask.dtype == bool
    assert len_range[0] <= lengths.min() and lengths.max() <= len_range[1]
    np.testing.assert_array_equal(mask.sum(axis=0), lengths)
    assert (x[~mask] == 0).all()
    for b in range(B):
        seq = x[: lengths[b], b]
        assert seq[0] == E and seq[-1] == TRIGGER
        (relevant,) = np.nonzero((seq == X) | (seq == Y))
        assert len(relevant) == 2
        t1, t2 = relevant
        assert t1_range[0] <= t1 <= t1_range[1] and t2_range[0] <= t2 <= t2_range[1]
        assert (seq[1:-1][(seq[1:-1] != X) & (seq[1:-1] != Y)] < 4).all()
        label = ("X" if seq[t1] == X else "Y") + ("X" if seq[t2] == X else "Y")
        assert TEMPORAL_ORDER_CLASSES[batch.targets[b]] == label


def test_temporal_order_follows_experiment_6a():
    batch = temporal_order(rng(), 200)
    check_temporal_order(batch, (100, 110), (10, 20), (50, 60))
    assert set(batch.targets) == {0, 1, 2, 3}
    assert set(batch.lengths) == set(range(100, 111))
    assert math.isclose(TEMPORAL_ORDER_BASELINE_NATS, math.log(4))


@pytest.mark.parametrize(
    ("scale", "ranges"),
    [
        (0.1, ((10, 11), (1, 2), (5, 6))),
        (0.5, ((50, 55), (5, 10), (25, 30))),
        (0.05, ((5, 6), (1, 1), (3, 3))),
    ],
)
def test_temporal_order_scale_keeps_the_structure(scale, ranges):
    check_temporal_order(temporal_order(rng(), 100, scale=scale), *ranges)


def test_temporal_order_is_deterministic():
    a, b = temporal_order(rng(9), 8), temporal_order(rng(9), 8)
    for field in ("inputs", "mask", "targets", "lengths"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 0}, "`batch_size` must be >= 1, got 0"),
        ({"scale": 0.04}, r"`scale`=0.04 gives lengths \[4, 4\], t1 in \[0, 1\].*scale >= 0.05"),
        ({"scale": 0.0}, "`scale` must be a positive finite number, got 0.0"),
        ({"scale": -1.0}, "positive finite"),
        ({"scale": float("nan")}, "positive finite"),
        ({"scale": True}, "positive finite"),
    ],
)
def test_temporal_order_rejects_bad_arguments(kwargs, message):
    args = {"batch_size": 4, **kwargs}
    with pytest.raises(ValueError, match=message):
        temporal_order(rng(), **args)
