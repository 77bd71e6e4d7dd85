"""The BLAS thread policy: one thread for small per-step products, idle cores for large ones."""

import numpy as np
import pytest
from threadpoolctl import threadpool_info

import bptt.threads as threads
from bptt.threads import MULTI_THREAD_FLOP, blas_threads, choose_threads, step_flops


def test_step_flops():
    assert step_flops(32, 128, 64, 4) == 2 * 32 * 4 * 128 * (128 + 64 + 1)


def test_small_products_take_one_thread_and_large_ones_the_idle_cores(monkeypatch):
    assert choose_threads(step_flops(32, 128, 64, 4)).threads == 1
    monkeypatch.setattr(threads, "idle_cores", lambda: 2)
    assert choose_threads(MULTI_THREAD_FLOP).threads == 2
    monkeypatch.setattr(threads, "idle_cores", lambda: 1)
    choice = choose_threads(step_flops(64, 1024, 128, 4))
    assert choice.threads == 1 and "1 idle cores" in choice.reason


def test_a_requested_number_wins_and_a_negative_one_is_refused():
    assert choose_threads(1.0, requested=3) == (3, "--threads")
    with pytest.raises(ValueError, match="`threads` must be 0"):
        choose_threads(1.0, requested=-1)


def test_blas_threads_limits_numpys_blas_within_the_block():
    def blas():
        return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]

    before = blas()
    with blas_threads(1):
        assert set(blas()) == {1}
        np.ones((4, 4)) @ np.ones((4, 4))
    assert blas() == before
