"""Compiled per-step kernels for the fused LSTM loops in float32, when numba is installed.

A NumPy step is about ten ufunc calls, each of which costs some 0.4 us before it touches an
element; at small sizes that overhead, not the arithmetic, is most of the step. These kernels
do a step's elementwise work in one call, leaving the matrix product to NumPy's BLAS.

They are an optional speed-up: ``pip install numba`` (the ``fast`` extra) turns them on, the
environment variable ``BPTT_NUMBA=0`` turns them off, and without them the fused loops run
the same math in NumPy (the tests run both and compare). They are used for float32 only:
tanh is the rational approximation Eigen uses for float32 (``ptanh_float``, 13/6 degree,
within 4e-7 of tanh), which vectorises where libm's tanhf does not, and float64, the dtype
of every gradient check, keeps NumPy's tanh.

Where NumPy's own OpenBLAS is reachable (bptt.cells._blas), the loops of ``lstm_loops``
run whole runs of steps in one call, each step's product through that
BLAS's ``cblas_sgemm``: no return to Python between steps (about 2 us per step saved).

Both kernels see one step as flat, C-contiguous, feature-major (N * B,) arrays, the layout of
the fused loops; with n = H * B, gate k of the stacked (4H, B) block is [k * n, (k + 1) * n).
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np

ENV_SWITCH = "BPTT_NUMBA"


def enabled() -> bool:
    """Whether the kernels may be used: numba importable and not switched off."""
    return os.environ.get(ENV_SWITCH, "1") != "0" and _installed()


@cache
def _installed() -> bool:
    return importlib.util.find_spec("numba") is not None


def lstm_kernels(dtype: Any) -> tuple[Callable[..., None], Callable[..., None]] | None:
    """(forward_step, backward_step) for ``dtype``, or None to use NumPy.

    forward_step(z (4n,), c_prev (n,), c (n,), tanh_c (n,), h (n,)):
        z holds the pre-activation with the sigmoid rows halved; it becomes the gates
        i, f, g, o, and c, tanh(c) and h = o tanh(c) are written.
    backward_step(gates (4n,), c_prev (n,), tanh_c (n,), dh_next (n,), dhs_t (n,),
                  dc_next (n,), dz (4H, steps, B), t):
        with dh = dh_next + dhs_t and dc = dc_next + dh o tanh'(c), writes dL/dz of the step
        into dz[:, t] and replaces dc_next by dc * f.
    """
    if np.dtype(dtype) != np.float32 or not enabled():
        return None
    return _compile()


@cache
def _compile() -> tuple[Callable[..., None], Callable[..., None]] | None:
    """Import (and compile, or load from numba's cache) the kernels; None if that fails."""
    try:
        from bptt.cells import _numba_kernels  # imports numba, defines the jitted functions

        # Compile now, on tiny arrays, so that a numba that cannot build for this machine
        # means NumPy rather than an error in the middle of training.
        a = np.zeros(4, np.float32)
        _numba_kernels.lstm_forward_step(a, a[:1], a[1:2].copy(), a[:1].copy(), a[:1].copy())
        one = a[:1].copy()
        dz = np.zeros((4, 2, 1), np.float32)
        _numba_kernels.lstm_backward_step(a, one, one, one, one, one.copy(), dz, 1)
    except Exception as error:  # numba raises many kinds; any of them means "use NumPy"
        _unavailable("numba kernels", error, "using NumPy")
        return None
    return _numba_kernels.lstm_forward_step, _numba_kernels.lstm_backward_step


def lstm_loops(dtype: Any) -> tuple[Callable[..., None], Callable[..., None]] | None:
    """(forward, backward) runs of steps in one call each, products included
    (bptt.cells._numba_loops), or None to loop in Python:
    forward(W, hx, gates, cs, tanh_cs, valid, start, stop) and
    backward(W_h, gates, cs, tanh_cs, dh, dhs, dc, dz, valid, start, stop, offset)."""
    return _loops() if np.dtype(dtype) == np.float32 and enabled() else None


@cache
def _loops() -> tuple[Callable[..., None], Callable[..., None]] | None:
    """Import the loops where the per-step kernels work and NumPy's BLAS is reachable."""
    if _compile() is None:
        return None
    from bptt.cells._blas import SGEMM

    if SGEMM is None:
        return None
    try:
        from bptt.cells import _numba_loops

        # Compile now, on tiny arrays (H = B = 1), so that a numba that cannot build them
        # means the Python loops rather than an error in the middle of training.
        def zeros(*shape: int) -> np.ndarray:
            return np.zeros(shape, np.float32)

        gates, cs, tanh_cs = zeros(1, 4, 1), zeros(2, 1, 1), zeros(1, 1, 1)
        valid = np.zeros((1, 1), dtype=bool)
        args = (zeros(4, 2), zeros(2, 2, 1), gates, cs, tanh_cs, valid, 0, 1)
        _numba_loops.lstm_forward_loop(*args)
        dh, dc, dhs, dz = zeros(1, 1), zeros(1, 1), zeros(1, 1), zeros(4, 1, 1)
        args = (zeros(1, 4), gates, cs, tanh_cs, dh, dhs, dc, dz, valid, 0, 1, 0)
        _numba_loops.lstm_backward_loop(*args)
    except Exception as error:  # numba raises many kinds; any of them means "loop in Python"
        _unavailable("compiled LSTM loops", error, "looping in Python")
        return None
    return _numba_loops.lstm_forward_loop, _numba_loops.lstm_backward_loop


def _unavailable(what: str, error: Exception, instead: str) -> None:
    """Warn once that compiled code could not be built, and what runs instead."""
    warnings.warn(
        f"bptt: {what} unavailable ({type(error).__name__}: {error}); {instead}. "
        f"Set {ENV_SWITCH}=0 to silence this.",
        RuntimeWarning,
        stacklevel=4,
    )
