import numpy as np
import pytest

from bptt.data.padding import (
    iterate_minibatches,
    last_valid_index,
    lengths_to_mask,
    pad_sequences,
)


def test_lengths_to_mask_is_time_major():
    mask = lengths_to_mask([2, 4, 1])
    assert mask.shape == (4, 3) and mask.dtype == bool
    np.testing.assert_array_equal(mask.sum(axis=0), [2, 4, 1])
    np.testing.assert_array_equal(mask[:, 0], [True, True, False, False])
    assert lengths_to_mask(np.array([2, 3]), T=5).shape == (5, 2)


@pytest.mark.parametrize(
    ("lengths", "T", "message"),
    [
        ([], None, r"non-empty 1-D array of integers \(B,\), got dtype float64 and shape \(0,\)"),
        ([[1, 2]], None, r"shape \(1, 2\)"),
        ([1.5], None, "dtype float64"),
        ([2, 0, 3], None, "Every length must be >= 1, got 0 at index 1"),
        ([2, 5], 4, r"`T`=4 is shorter than the longest sequence \(5\); use T >= 5"),
        ([2], 0, "`T` must be >= 1, got 0"),
    ],
)
def test_lengths_to_mask_rejects_bad_input(lengths, T, message):
    with pytest.raises(ValueError, match=message):
        lengths_to_mask(lengths, T)


def test_pad_sequences_with_features():
    seqs = [np.ones((3, 2)), 2 * np.ones((5, 2)), 3 * np.ones((1, 2))]
    xs, mask = pad_sequences(seqs, value=-1.0)
    assert xs.shape == (5, 3, 2) and xs.dtype == np.float64 and mask.shape == (5, 3)
    np.testing.assert_array_equal(mask.sum(axis=0), [3, 5, 1])
    for b, seq in enumerate(seqs):
        np.testing.assert_array_equal(xs[: len(seq), b], seq)
    assert (xs[~mask] == -1.0).all() and (xs[mask] > 0).all()


def test_pad_sequences_with_ids_and_dtype():
    xs, mask = pad_sequences([np.array([4, 5]), np.array([6, 7, 8])])
    np.testing.assert_array_equal(xs, [[4, 6], [5, 7], [0, 8]])
    assert xs.dtype.kind == "i"
    np.testing.assert_array_equal(mask, [[True, True], [True, True], [False, True]])
    xs32, _ = pad_sequences([[1, 2]], dtype=np.float32)
    assert xs32.dtype == np.float32 and xs32.shape == (2, 1)


def test_pad_sequences_rejects_bad_input():
    with pytest.raises(ValueError, match="`sequences` is empty"):
        pad_sequences([])
    with pytest.raises(ValueError, match=r"sequences\[1\] has shape \(0, 2\); every sequence"):
        pad_sequences([np.ones((2, 2)), np.ones((0, 2))])
    with pytest.raises(ValueError, match=r"sequences\[0\] has shape \(\)"):
        pad_sequences([np.float64(1.0)])
    with pytest.raises(
        ValueError, match=r"sequences\[1\] has shape \(2, 3\) but sequences\[0\] has \(2, 2\)"
    ):
        pad_sequences([np.ones((2, 2)), np.ones((2, 3))])
    with pytest.raises(ValueError, match="same trailing"):
        pad_sequences([np.ones(2), np.ones((2, 1))])


def test_last_valid_index_reads_each_final_state():
    mask = lengths_to_mask([3, 1, 4])
    last = last_valid_index(mask)
    assert last.dtype == np.int64
    np.testing.assert_array_equal(last, [2, 0, 3])
    hs = np.arange(4 * 3).reshape(4, 3)  # (T, B)
    np.testing.assert_array_equal(hs[last, np.arange(3)], [6, 1, 11])


def test_last_valid_index_rejects_bad_masks():
    with pytest.raises(ValueError, match=r"`mask` must be \(T, B\), got shape \(3,\)"):
        last_valid_index(np.ones(3, dtype=bool))
    with pytest.raises(ValueError, match="`mask` column 1 has no valid step"):
        last_valid_index(np.array([[True, False], [True, False]]))


def test_minibatches_cover_every_example_once_in_a_seeded_order():
    batches = list(iterate_minibatches(10, 4, rng=np.random.default_rng(0)))
    assert [len(b) for b in batches] == [4, 4, 2]
    order = np.concatenate(batches)
    np.testing.assert_array_equal(np.sort(order), np.arange(10))
    assert not np.array_equal(order, np.arange(10))
    again = np.concatenate(list(iterate_minibatches(10, 4, rng=np.random.default_rng(0))))
    np.testing.assert_array_equal(order, again)


def test_minibatches_without_rng_keep_order_and_drop_last():
    batches = list(iterate_minibatches(7, 3, drop_last=True))
    assert len(batches) == 2
    np.testing.assert_array_equal(np.concatenate(batches), np.arange(6))
    assert len(list(iterate_minibatches(2, 5))) == 1
    assert list(iterate_minibatches(2, 5, drop_last=True)) == []


def test_minibatches_reject_bad_arguments_eagerly():
    with pytest.raises(ValueError, match="`num_examples` must be >= 1, got 0"):
        iterate_minibatches(0, 4)
    with pytest.raises(ValueError, match="`batch_size` must be >= 1, got 0"):
        iterate_minibatches(8, 0)
    with pytest.raises(TypeError, match=r"`rng` must be a np\.random\.Generator"):
        iterate_minibatches(8, 2, rng=0)
