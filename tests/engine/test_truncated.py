"""BPTT(k1, k2) schedule and the cut."""

import numpy as np
import pytest

from bptt.cells import LSTMCarry
from bptt.engine.truncated import Truncation, Window, cut, schedule, truncation, windows


def test_schedule_covers_every_step_once_with_k2_steps_of_backprop():
    for T, k1, k2 in [(10, 4, 6), (50, 10, 10), (7, 10, 10), (23, 3, 8), (12, 1, 5)]:
        ws = windows(T, truncation(k1, k2))
        new_steps = np.concatenate([np.arange(w.new_start, w.stop) for w in ws])
        np.testing.assert_array_equal(new_steps, np.arange(T))
        for j, w in enumerate(ws):
            assert w.stop - w.start <= k2  # never more forward work than the window
            assert w.new_start - w.start == min(k2 - k1, w.new_start)
            if j + 1 < len(ws):
                assert ws[j + 1].start == w.next_start
                assert w.start <= w.next_start <= w.stop


def test_full_bptt_is_the_special_case_k1_equals_k2_equals_T():
    assert windows(9, truncation(9)) == [(0, 0, 9, 9)]
    assert windows(9, truncation(20)) == [(0, 0, 9, 9)]
    assert windows(9, None) == [Window(0, 0, 9, 9)]


def test_truncation_defaults_k2_to_k1_and_the_old_name_schedule_still_works():
    assert truncation(7) == Truncation(7, 7)
    assert schedule(23, 3, 8) == windows(23, Truncation(3, 8))


@pytest.mark.parametrize(
    ("k1", "k2", "match"),
    [
        (5, 3, r"`k1` \(5\) must not exceed `k2` \(3\)"),
        (0, 3, "`k1` must be an integer >= 1"),
        (2, 0, "`k2` must be an integer >= 1"),
        (1.5, 3, "got 1.5"),
    ],
)
def test_bad_truncation(k1, k2, match):
    with pytest.raises(ValueError, match=match):
        truncation(k1, k2)


def test_cut_copies_values():
    carry = LSTMCarry(np.ones((2, 3)), np.zeros((2, 3)))
    (out,) = cut((carry,))
    np.testing.assert_array_equal(out.h, carry.h)
    assert not np.shares_memory(out.h, carry.h)


def test_cut_takes_one_carry_too():
    carry = LSTMCarry(np.ones((2, 3)), np.zeros((2, 3)))
    out = cut(carry)
    assert isinstance(out, LSTMCarry)
    np.testing.assert_array_equal(out.c, carry.c)
    assert not np.shares_memory(out.c, carry.c)
    with pytest.raises(TypeError, match="expected a carry"):
        cut(np.ones((2, 3)))
