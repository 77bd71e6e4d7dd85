"""The driver's runs and the kernel lookup."""

import numpy as np
import pytest
from kernel_cases import CELLS, per_step

from bptt.cells import LSTMCell
from bptt.kernels import StepKernel, compiled, kernel_for
from bptt.kernels.driver import find_runs
from bptt.kernels.gru import GRUKernel
from bptt.kernels.lstm import LSTMKernel
from bptt.kernels.rnn import RNNKernel


def test_runs_cut_before_restarts_and_around_every_padded_step():
    assert find_runs(5, None, None).bounds == [(0, 5)]
    resets = np.zeros((6, 2), dtype=bool)
    resets[[0, 3], 0] = True
    runs = find_runs(6, None, resets)
    assert runs.bounds == [(0, 3), (3, 6)] and sorted(runs.restarts) == [0, 3]
    np.testing.assert_array_equal(runs.restarts[3], [True, False])
    # Lengths 6 and 2, and a gap at step 4 of the first sequence.
    mask = np.arange(6)[:, None] < np.array([6, 2])[None, :]
    mask[4, 0] = False
    runs = find_runs(6, mask, resets)
    assert runs.bounds == [(0, 2), (2, 3), (3, 4), (4, 5), (5, 6)]
    assert sorted(runs.padded) == [2, 3, 4, 5]
    np.testing.assert_array_equal(runs.padded[4], [True, True])
    np.testing.assert_array_equal(runs.padded[2], [False, True])
    # A long padding is one run per step: each starts from the kept carry.
    tail = np.arange(7)[:, None] < np.array([7, 3])[None, :]
    assert find_runs(7, tail, None).bounds == [(0, 3), (3, 4), (4, 5), (5, 6), (6, 7)]


def test_an_observer_cuts_every_step():
    runs = find_runs(4, None, None, every_step=True)
    assert runs.bounds == [(0, 1), (1, 2), (2, 3), (3, 4)]


@pytest.mark.parametrize("name", list(CELLS))
def test_kernels_are_looked_up_by_exact_type(name):
    cell = CELLS[name]
    kinds = {"rnn": RNNKernel, "relu": RNNKernel, "lstm": LSTMKernel, "gru": GRUKernel}
    assert type(kernel_for(cell, np.float64)) is kinds[name]
    # A subclass may have changed any step function: it runs its own, step by step.
    subclass = per_step(cell)
    kernel = kernel_for(subclass, np.float32)
    assert isinstance(kernel, StepKernel) and kernel.cell is subclass


def test_backends(monkeypatch):
    assert kernel_for(LSTMCell(), np.float32, backend="numpy").loops is None
    assert kernel_for(LSTMCell(), np.float64).loops is None  # compiled loops are float32
    with pytest.raises(ValueError, match="Unknown kernel backend 'cuda'"):
        kernel_for(LSTMCell(), np.float32, backend="cuda")
    with pytest.raises(ValueError, match="loops for the LSTM only"):
        kernel_for(CELLS["gru"], np.float32, backend="numba")
    monkeypatch.setenv(compiled.ENV_SWITCH, "0")
    assert kernel_for(LSTMCell(), np.float32).loops is None
    with pytest.raises(ValueError, match="numba backend needs float32"):
        kernel_for(LSTMCell(), np.float32, backend="numba")
