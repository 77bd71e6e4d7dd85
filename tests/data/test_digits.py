import functools
import importlib.util

import numpy as np
import pytest

from bptt.data.digits import NUM_IMAGES, load_digits_images, load_digits_sequences

SKIP_REASON = "the digits ship in scikit-learn: pip install 'bptt[timeseries]'"


@functools.cache
def _cached(seed):
    return load_digits_sequences(seed=seed)


def load(seed=0):
    pytest.importorskip("sklearn", reason=SKIP_REASON)
    return _cached(seed)


def test_shapes_dtypes_and_range():
    data = load()
    assert data.name == "digits" and data.class_names == tuple("0123456789")
    assert data.num_classes == 10 and data.num_features == 8
    for part, N in ((data.train, 1438), (data.test, 359)):
        assert part.xs.shape == (8, N, 8) and part.xs.dtype == np.float64
        assert part.mask.shape == (8, N) and part.mask.all()
        assert part.labels.dtype == np.int64 and set(np.unique(part.labels)) == set(range(10))
        assert (part.lengths == 8).all()
        assert part.xs.min() == 0.0 and part.xs.max() == 1.0


def test_matches_sklearn_load_digits():
    pytest.importorskip("sklearn", reason=SKIP_REASON)
    from sklearn.datasets import load_digits

    reference = load_digits()
    images, labels = load_digits_images()
    np.testing.assert_array_equal(images, reference.images)
    np.testing.assert_array_equal(labels, reference.target)


def test_time_steps_are_image_rows_and_the_split_is_a_seeded_partition():
    data = load(0)
    images, labels = load_digits_images()
    order = np.random.default_rng(0).permutation(NUM_IMAGES)
    test_index = np.sort(order[:359])
    train_index = np.setdiff1d(np.arange(NUM_IMAGES), test_index)
    np.testing.assert_array_equal(data.test.xs, images[test_index].transpose(1, 0, 2) / 16)
    np.testing.assert_array_equal(data.train.xs[3, 5], images[train_index[5], 3] / 16)  # row 3
    np.testing.assert_array_equal(data.train.labels, labels[train_index])
    assert not np.array_equal(load(1).test.labels, data.test.labels)
    np.testing.assert_array_equal(load_digits_sequences(seed=0).test.xs, data.test.xs)


def test_bad_test_fraction():
    with pytest.raises(ValueError, match=r"`test_fraction` must be in \(0, 1\), got 1.5"):
        load_digits_sequences(test_fraction=1.5)
    pytest.importorskip("sklearn", reason=SKIP_REASON)
    with pytest.raises(ValueError, match="gives 0 of 1797 test images"):
        load_digits_sequences(test_fraction=1e-4)


def test_missing_sklearn_names_the_install_command(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match=r"`sklearn`.*pip install 'bptt\[timeseries\]'"):
        load_digits_sequences()
