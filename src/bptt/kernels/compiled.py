"""Whether the compiled (numba) loops can run here, and the loops themselves.

They are an optional speed-up: ``pip install numba`` (the ``fast`` extra) turns them on, the
environment variable ``BPTT_NUMBA=0`` turns them off, and they need NumPy's own OpenBLAS
(``kernels._blas``). Where any of that is missing, the NumPy loops run the same math (the
tests run both and compare). The loops are compiled at first use, on tiny arrays, so a numba
that cannot build them means the NumPy loops (with a warning) rather than an error in the
middle of training.
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from collections.abc import Callable
from functools import cache

import numpy as np

ENV_SWITCH = "BPTT_NUMBA"


def enabled() -> bool:
    """Whether compiled loops may be used: numba importable and not switched off."""
    return os.environ.get(ENV_SWITCH, "1") != "0" and _installed()


@cache
def _installed() -> bool:
    return importlib.util.find_spec("numba") is not None


def lstm_loops() -> tuple[Callable[..., None], Callable[..., None]] | None:
    """(forward, backward) loops of the float32 LSTM (``kernels._numba_lstm``), or None where
    they cannot run: forward(W, hx, gates, cs, tanh_cs, start, stop) and
    backward(W_h, gates, cs, tanh_cs, dh, dc, dhs, dz, start, stop, offset)."""
    return _loops() if enabled() else None


@cache
def _loops() -> tuple[Callable[..., None], Callable[..., None]] | None:
    """Import and compile the loops where NumPy's BLAS is reachable."""
    from bptt.kernels._blas import SGEMM

    if SGEMM is None:
        return None
    try:
        from bptt.kernels import _numba_lstm

        def zeros(*shape: int) -> np.ndarray:
            return np.zeros(shape, np.float32)

        gates, cs, tanh_cs = zeros(1, 4, 1), zeros(2, 1, 1), zeros(1, 1, 1)
        _numba_lstm.lstm_forward_loop(zeros(4, 2), zeros(2, 2, 1), gates, cs, tanh_cs, 0, 1)
        dh, dc, dhs, dz = zeros(1, 1), zeros(1, 1), zeros(1, 1), zeros(4, 1, 1)
        args = (zeros(1, 4), gates, cs, tanh_cs, dh, dc, dhs, dz, 0, 1, 0)
        _numba_lstm.lstm_backward_loop(*args)
    except Exception as error:  # numba raises many kinds; any of them means "use NumPy"
        warnings.warn(
            f"bptt: compiled LSTM loops unavailable ({type(error).__name__}: {error}); "
            f"using the NumPy loops. Set {ENV_SWITCH}=0 to silence this.",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    return _numba_lstm.lstm_forward_loop, _numba_lstm.lstm_backward_loop
