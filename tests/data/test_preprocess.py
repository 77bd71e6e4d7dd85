"""collate (layouts, lists, NaN padding, refusals), normalisation, patches and augmentation."""

import numpy as np
import pytest

from bptt.data.preprocess import (
    channel_statistics,
    collate,
    crop,
    jitter,
    patch,
    patch_size,
    standardise,
    znormalise_series,
)


def test_collate_layouts_agree():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 7, 2))  # (N, T, D)
    a = collate(X, "NTD")
    b = collate(X.transpose(0, 2, 1), "NCT")
    c = collate([x for x in X], "NTD")
    d = collate([x.T for x in X], "NCT")
    for other in (b, c, d):
        np.testing.assert_array_equal(other.xs, a.xs)
    assert a.xs.shape == (7, 3, 2) and a.lengths.tolist() == [7, 7, 7]
    np.testing.assert_array_equal(a.xs[:, 1], X[1])
    assert a.table_width is None and collate(X[:, :, 0]).table_width == 7
    assert collate(X[:, :, 0].tolist()).table_width == 7  # a list of equal rows is a table


def test_ragged_lists_and_nan_padding_agree():
    series = [np.arange(1.0, 4.0), np.arange(1.0, 6.0)]
    ragged = collate(series)
    padded = collate(np.array([[1, 2, 3, np.nan, np.nan], [1, 2, 3, 4, 5]]))
    np.testing.assert_array_equal(ragged.xs, padded.xs)
    assert ragged.lengths.tolist() == padded.lengths.tolist() == [3, 5]
    assert ragged.xs[3:, 0].tolist() == [[0.0], [0.0]]  # zeros after the end


@pytest.mark.parametrize(
    ("X", "match"),
    [
        (np.array([[1.0, np.nan, 2.0]]), "NaN at step 1, inside the series"),
        (np.array([[np.nan, np.nan]]), "no values"),
        (np.array([[1.0, np.inf]]), "infinite"),
        (np.zeros(3), r"Expected 2D array.*got 1D array"),
        (np.zeros((3, 0)), r"0 feature\(s\)"),
        (np.zeros((0, 4)), "0 series"),
        (np.ones((2, 3)) * 1j, "Complex data not supported"),
        ([np.zeros((3, 2)), np.zeros((4, 3))], "different numbers of channels"),
    ],
)
def test_refused_inputs(X, match):
    with pytest.raises(ValueError, match=match):
        collate(X)


def test_objects_that_are_not_numbers():
    X = np.zeros((2, 3), dtype=object)
    X[0, 0] = {"a": 1}
    with pytest.raises(TypeError, match="must hold numbers"):
        collate(X)


def test_normalisation():
    rng = np.random.default_rng(1)
    xs, lengths = collate([3 + 2 * rng.standard_normal((n, 2)) for n in (5, 9)])[:2]
    z = znormalise_series(xs, lengths)
    for n, L in enumerate(lengths):
        np.testing.assert_allclose(z[:L, n].mean(axis=0), 0, atol=1e-12)
        np.testing.assert_allclose(z[:L, n].std(axis=0), 1, rtol=1e-12)
        assert not z[L:, n].any()
    constant = znormalise_series(np.ones((4, 1, 1)), np.array([4]))
    assert not constant.any()  # only centred
    mean, std = channel_statistics(xs, lengths)
    s = standardise(xs, lengths, mean, std)
    valid = np.arange(9)[:, None] < lengths[None, :]
    np.testing.assert_allclose(s[valid].mean(axis=0), 0, atol=1e-12)
    assert not s[~valid].any()


def test_patch():
    xs = np.arange(1.0, 11.0).reshape(5, 1, 2)  # T=5, D=2
    out, lengths = patch(np.concatenate([xs, np.zeros_like(xs)], axis=1), np.array([5, 2]), 2)
    assert out.shape == (3, 2, 4) and lengths.tolist() == [3, 1]
    assert out[0, 0].tolist() == [1, 2, 3, 4] and out[2, 0].tolist() == [9, 10, 0, 0]
    assert patch_size(251, 64) == 4 and patch_size(24, 64) == 1
    same, _ = patch(xs, np.array([5]), 1)
    assert same is xs


def test_augmentations_are_seeded_and_respect_lengths():
    xs, lengths = collate([np.arange(10.0), np.arange(4.0)])[:2]
    a, la = crop(np.random.default_rng(0), xs, lengths, 0.5)
    b, lb = crop(np.random.default_rng(0), xs, lengths, 0.5)
    np.testing.assert_array_equal(a, b)
    assert la.tolist() == lb.tolist() == [5, 2] and a.shape == (5, 2, 1)
    start = int(a[0, 0, 0])
    assert a[:, 0, 0].tolist() == list(range(start, start + 5))  # consecutive steps
    assert not a[2:, 1].any()
    noisy = jitter(np.random.default_rng(0), xs, lengths, 0.1)
    assert not noisy[4:, 1].any() and (noisy[:, 0] != xs[:, 0]).all()
    assert jitter(np.random.default_rng(0), xs, lengths, 0.0) is xs
