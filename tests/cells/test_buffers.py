"""bptt.cells.buffers: memory is reused only once nothing refers to it."""

import numpy as np
import pytest

from bptt.cells import buffers
from bptt.cells.lstm import LSTMCell
from bptt.engine.full import backward, forward

SHAPE = (64, 32, 40)  # 320 KiB of float32: above MIN_BYTES


@pytest.fixture(autouse=True)
def empty_pool():
    buffers.clear()
    yield
    buffers.clear()


def test_a_released_buffer_is_handed_out_again():
    a = buffers.empty(SHAPE, np.float32)
    address = a.ctypes.data
    del a
    b = buffers.empty(SHAPE, np.float32)
    assert b.ctypes.data == address
    assert b.shape == SHAPE and b.dtype == np.float32 and b.flags.c_contiguous


@pytest.mark.parametrize(
    "keep",
    [
        lambda a: a,
        lambda a: a[1:],
        lambda a: a.T,
        lambda a: a.reshape(-1)[::3],
        lambda a: np.lib.stride_tricks.as_strided(a, (2, *a.shape), (0, *a.strides)),
        lambda a: memoryview(a),
    ],
    ids=["array", "slice", "transpose", "strided", "as_strided", "memoryview"],
)
def test_a_buffer_something_still_sees_is_not_reused(keep):
    a = buffers.empty(SHAPE, np.float32)
    kept = keep(a)
    del a
    b = buffers.empty(SHAPE, np.float32)
    assert not np.shares_memory(np.asarray(kept), b)


def test_small_and_huge_arrays_are_not_pooled(monkeypatch):
    small = buffers.empty((4, 4), np.float64)
    assert small.base is None
    monkeypatch.setattr(buffers, "IDLE_LIMIT", 1 << 20)
    huge = buffers.empty((1 << 19,), np.float32)  # 2 MiB > IDLE_LIMIT
    assert huge.base is None
    assert not buffers._buffers


def _owner(array):
    while array.base is not None:
        array = array.base
    return array


def _idle_bytes():
    pool = buffers._buffers
    return sum(pool[k].nbytes for k in range(len(pool)) if buffers._idle(k))


def test_idle_memory_is_capped_and_cleared(monkeypatch):
    monkeypatch.setattr(buffers, "IDLE_LIMIT", 3 * (1 << 20))
    arrays = [buffers.empty((1 << 18,), np.float32) for _ in range(5)]  # 5 x 1 MiB in use
    assert len(buffers._buffers) == 5  # in use: all kept, whatever the limit
    del arrays
    kept = buffers.empty((1 << 18,), np.float32)  # any request trims the idle ones
    assert _idle_bytes() == 3 * (1 << 20) and len(buffers._buffers) == 4
    del kept
    buffers.clear()
    assert not buffers._buffers


def test_a_request_takes_the_smallest_idle_buffer_that_fits():
    arrays = [buffers.empty((n,), np.float32) for n in (1 << 17, 3 << 16, 1 << 18)]
    addresses = [a.ctypes.data for a in arrays]  # 512 KiB, 768 KiB, 1 MiB
    del arrays
    a = buffers.empty((5 << 15,), np.float32)  # 640 KiB: 768 KiB fits (at most 1.25 x)
    assert a.ctypes.data == addresses[1] and a.shape == (5 << 15,)
    b = buffers.empty((225 << 10,), np.float32)  # 900 KiB: the 1 MiB buffer
    assert b.ctypes.data == addresses[2]
    c = buffers.empty((75 << 10,), np.float32)  # 300 KiB: 512 KiB is too large
    assert _owner(c).nbytes == c.nbytes  # a new buffer of its own size
    assert len(buffers._buffers) == 3 and _idle_bytes() == 0


def test_only_so_many_buffers_are_tracked(monkeypatch):
    monkeypatch.setattr(buffers, "MAX_BUFFERS", 2)
    kept = [buffers.empty(SHAPE, np.float32) for _ in range(3)]
    assert [a.base is not None for a in kept] == [True, True, False]
    assert len(buffers._buffers) == 2


def test_a_request_no_idle_buffer_fits_frees_the_idle_ones_first():
    """So the pool never holds idle memory next to a new buffer: no higher peak."""
    kept = buffers.empty((1 << 17,), np.float32)
    idle = buffers.empty((1 << 18,), np.float32)
    del idle
    big = buffers.empty((1 << 20,), np.float32)  # larger than any idle buffer
    assert len(buffers._buffers) == 2 and _idle_bytes() == 0
    assert kept.base is not None and big.base is not None


def test_results_kept_by_a_caller_survive_later_calls(monkeypatch):
    """Outputs, gradients and tapes of one call stay intact while later calls reuse memory."""
    monkeypatch.setattr(buffers, "MIN_BYTES", 0)  # pool every size, results' too if misused
    rng = np.random.default_rng(0)
    cell = LSTMCell()
    params = cell.init_params(rng, 16, 64)  # float32: gates (T, 4H, B) are pooled
    xs = [rng.standard_normal((50, 8, 16)).astype(np.float32) for _ in range(3)]
    hs0, _, tape0 = forward(cell, params, xs[0])
    grads0, dxs0, dcarry0 = backward(cell, params, tape0, np.ones_like(hs0))
    results = (hs0, *grads0, dxs0, *dcarry0)
    saved = tuple(r.copy() for r in results)
    for result in results:  # results are the caller's, never pooled memory
        assert not any(np.shares_memory(result, b) for b in buffers._buffers)
    for x in xs[1:]:  # more calls of the same sizes, dropping their results
        hs, _, tape = forward(cell, params, x)
        backward(cell, params, tape, np.ones_like(hs))
        del hs, tape
    for got, want in zip(results, saved, strict=True):
        np.testing.assert_array_equal(got, want)
    # The first tape is still valid: backward from it again gives the same gradients.
    again = backward(cell, params, tape0, np.ones_like(hs0))[0]
    for got, want in zip(again, saved[1:4], strict=True):
        np.testing.assert_array_equal(got, want)
