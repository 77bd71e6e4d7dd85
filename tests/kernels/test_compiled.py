"""The compiled LSTM loops: equal to the NumPy loops, and a fallback where they cannot run."""

import numpy as np
import pytest
from kernel_cases import gradients, run
from numpy.testing import assert_allclose

from bptt.cells import LSTMCell
from bptt.cells.lstm import LSTMCarry
from bptt.engine.full import forward, infer
from bptt.kernels import compiled


@pytest.fixture
def compiled_loops():
    """Skip unless the compiled LSTM loops are in use (numba and NumPy's OpenBLAS found)."""
    if compiled.lstm_loops() is None:
        pytest.skip("numba is not installed, BPTT_NUMBA=0, or NumPy's BLAS is not reachable")


def test_compiled_loops_match_numpy_on_a_larger_case(compiled_loops, monkeypatch):
    """The compiled float32 steps (tanh to within 4e-7) against NumPy's, with saturated gates,
    resets, padding, an observer, and inference with one step's buffers."""
    cell = LSTMCell()
    rng = np.random.default_rng(6)
    params = cell.init_params(rng, 16, 32, dtype=np.float32)
    params = params._replace(W_h=params.W_h * 4)  # saturate some gates
    xs = (3 * rng.standard_normal((30, 8, 16))).astype(np.float32)
    dhs = rng.standard_normal((30, 8, 32)).astype(np.float32)
    resets = np.zeros((30, 8), dtype=bool)
    resets[7, 2] = resets[21, 5] = True
    mask = np.arange(30)[:, None] < rng.integers(1, 31, size=8)[None, :]
    mask[[3, 12], [0, 2]] = False  # padded steps inside sequences, too
    carry0, dcarry_T = (
        LSTMCarry(*rng.standard_normal((2, 8, 32)).astype(np.float32)) for _ in "ab"
    )
    for flags in ({}, {"resets": resets, "mask": mask}):
        args = (cell, params, xs, carry0, dhs, dcarry_T, flags.get("resets"), flags.get("mask"))
        got = run(*args)
        with monkeypatch.context() as m:
            m.setenv(compiled.ENV_SWITCH, "0")
            want = run(*args)
        assert_allclose(got[0], want[0], rtol=0, atol=2e-6)
        for a, b in zip(gradients(got), gradients(want), strict=True):
            assert_allclose(a, b, rtol=0, atol=2e-5 * np.abs(b).max())
        for T in (30, 1):  # inference: one step's buffers and the ring of c
            steps = {k: v[:T] for k, v in flags.items()}
            hs_c, carry_c = infer(cell, params, xs[:T], carry0, **steps)
            with monkeypatch.context() as m:
                m.setenv(compiled.ENV_SWITCH, "0")
                hs_p, carry_p = infer(cell, params, xs[:T], carry0, **steps)
            for a, b in zip((hs_c, *carry_c), (hs_p, *carry_p), strict=True):
                assert_allclose(a, b, rtol=0, atol=2e-5)


def test_the_compiled_product_refuses_arrays_it_would_misread(compiled_loops):
    from bptt.kernels import _numba_lstm

    A = np.ones((4, 3), np.float32)
    B, C = np.ones((3, 2), np.float32), np.zeros((4, 2), np.float32)
    _numba_lstm._product(A, B, C, 2)
    np.testing.assert_array_equal(C, A @ B)
    with pytest.raises(ValueError, match="C-ordered A"):
        _numba_lstm._product(np.asfortranarray(A), B, C, 2)


def test_loops_that_cannot_be_built_fall_back_to_numpy(compiled_loops, monkeypatch):
    """A numba that cannot build the loops, or a NumPy without its OpenBLAS: a warning (or
    nothing) and the NumPy loops, with the same results."""
    from bptt.kernels import _blas, _numba_lstm

    cell = LSTMCell()
    rng = np.random.default_rng(9)
    params = cell.init_params(rng, 3, 8, dtype=np.float32)
    xs = rng.standard_normal((6, 2, 3)).astype(np.float32)
    want = forward(cell, params, xs)[0]

    def broken(*args):
        raise TypeError("cannot type the ctypes call")

    try:
        for loop in ("lstm_forward_loop", "lstm_backward_loop"):
            compiled._loops.cache_clear()
            with monkeypatch.context() as m:
                m.setattr(_numba_lstm, loop, broken)
                with pytest.warns(RuntimeWarning, match="compiled LSTM loops unavailable"):
                    assert compiled.lstm_loops() is None
                assert_allclose(forward(cell, params, xs)[0], want, rtol=1e-6, atol=1e-6)
        compiled._loops.cache_clear()
        with monkeypatch.context() as m:
            m.setattr(_blas, "SGEMM", None)
            assert compiled.lstm_loops() is None
    finally:
        compiled._loops.cache_clear()
    assert compiled.lstm_loops() is not None
