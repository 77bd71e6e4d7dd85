"""Workspace memory: reused once released, never while a tape or a result may read it."""

import numpy as np
import pytest
from kernel_cases import case

from bptt.engine.full import backward, forward
from bptt.kernels import Workspace
from bptt.kernels.workspace import MIN_BYTES


def test_a_released_lease_hands_its_memory_to_the_next():
    ws = Workspace()
    first = ws.lease()
    a = first.empty((MIN_BYTES,), np.float32)
    first.release()
    assert ws.idle_bytes() >= a.nbytes
    second = ws.lease()
    b = second.empty((MIN_BYTES,), np.float32)
    assert np.shares_memory(a, b) and ws.idle_bytes() == 0
    c = second.empty((MIN_BYTES,), np.float32)  # a's block is on lease again: fresh memory
    assert not np.shares_memory(b, c)
    second.release()
    ws.clear()
    assert ws.idle_bytes() == 0


def test_a_lease_gives_nothing_after_release():
    lease = Workspace().lease()
    lease.release()
    with pytest.raises(ValueError, match="release=True"):
        lease.empty((4,), np.float64)


def test_small_requests_and_idle_limit():
    ws = Workspace(idle_limit=3 * MIN_BYTES)
    lease = ws.lease()
    small = lease.empty((4,), np.float32)
    for _ in range(5):
        lease.empty((MIN_BYTES // 4,), np.float32)
    lease.release()
    assert small.base is None  # plain np.empty
    assert ws.idle_bytes() == 3 * MIN_BYTES  # five blocks released, the oldest two dropped


def lstm_case(T=40, H=64):
    """An LSTM case large enough that its tape comes from the workspace."""
    cell, params, *_ = case("lstm", np.float32)
    rng = np.random.default_rng(3)
    params = cell.init_params(rng, 4, H, dtype=np.float32)
    xs = rng.standard_normal((T, 16, 4)).astype(np.float32)
    dhs = rng.standard_normal((T, 16, H)).astype(np.float32)
    return cell, params, xs, dhs


def test_kept_tapes_and_results_are_never_reused():
    cell, params, xs, dhs = lstm_case()
    ws = Workspace()
    hs, _, tape = forward(cell, params, xs, workspace=ws)
    want = backward(cell, params, tape, dhs, workspace=ws)
    saved = [np.array(a) for a in (*tape.caches.arrays, hs, *want[0], want[1])]
    for _ in range(3):  # later passes on the same workspace, released or not
        _, _, other = forward(cell, params, 2 * xs, workspace=ws)
        backward(cell, params, other, dhs, workspace=ws, release=True)
    got = backward(cell, params, tape, dhs, workspace=ws)
    for a, b in zip(saved, (*tape.caches.arrays, hs, *want[0], want[1]), strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(got[0], want[0], strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_released_tape_refuses_to_be_read_and_its_memory_is_reused():
    cell, params, xs, dhs = lstm_case()
    ws = Workspace()
    _, _, tape = forward(cell, params, xs, workspace=ws)
    gates = tape.caches.arrays[0]
    assert ws.idle_bytes() < gates.nbytes  # the tape holds its arrays
    backward(cell, params, tape, dhs, workspace=ws, release=True)
    idle = ws.idle_bytes()
    assert idle >= gates.nbytes
    with pytest.raises(ValueError, match="given back to its workspace"):
        backward(cell, params, tape, dhs)
    with pytest.raises(ValueError, match="given back to its workspace"):
        tape.caches[0]
    _, _, again = forward(cell, params, xs, workspace=ws)
    assert ws.idle_bytes() <= idle - gates.nbytes  # the new tape took released memory
    hs, _, _ = forward(cell, params, xs, workspace=ws)
    assert not any(np.shares_memory(hs, a) for a in again.caches.arrays)
