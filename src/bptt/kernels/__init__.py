"""The optional fast path: fused sequence loops per cell, and the one driver that runs them.

``kernel_for(cell, dtype)`` looks a kernel up by the cell's exact type and the backend:

    RNNCell   "numpy"             kernels.rnn.RNNKernel
    LSTMCell  "numpy", "numba"    kernels.lstm.LSTMKernel (numba: float32, compiled loops)
    GRUCell   "numpy"             kernels.gru.GRUKernel
    any other cell (a subclass of these included): kernels.steps.StepKernel, the per-step
    loop over the cell's own step functions

The backend is "numba" where it applies and can run (``kernels.compiled``), else "numpy".
Every kernel runs through ``kernels.driver``, which alone decides what resets, padding and
observed steps mean; the tests check each fused loop against the per-step loop on every
pattern of those events.
"""

from __future__ import annotations

import numpy as np

from bptt.cells import GRUCell, LSTMCell, RNNCell
from bptt.errors import BpttError
from bptt.kernels import compiled
from bptt.kernels.base import BackwardLoop, ForwardLoop, FusedCaches, SequenceKernel
from bptt.kernels.gru import GRUKernel
from bptt.kernels.lstm import LSTMKernel
from bptt.kernels.rnn import RNNKernel
from bptt.kernels.steps import StepKernel
from bptt.kernels.workspace import Lease, Workspace
from bptt.types import Cell

BACKENDS = ("numpy", "numba")


def kernel_for(cell: Cell, dtype: np.dtype, *, backend: str | None = None) -> SequenceKernel:
    """The kernel that runs ``cell`` on arrays of ``dtype``.

    Args:
        cell: any cell; the built-in cells of exactly their own type get fused loops.
        dtype: the parameters' dtype (the compiled loops are float32 only).
        backend: "numpy", "numba", or None for the best that can run here.

    Raises:
        BpttError: an unknown backend, or "numba" where it cannot run.
    """
    if backend is not None and backend not in BACKENDS:
        raise BpttError(f"Unknown kernel backend {backend!r}; expected one of {BACKENDS}.")
    kind = type(cell)
    if kind is LSTMCell:
        loops = None
        if backend != "numpy" and np.dtype(dtype) == np.float32:
            loops = compiled.lstm_loops()
        if backend == "numba" and loops is None:
            raise BpttError(
                "The numba backend needs float32 parameters, numba installed (pip install "
                f"'bptt[fast]'), {compiled.ENV_SWITCH} not 0 and NumPy's own OpenBLAS."
            )
        return LSTMKernel(loops)
    if backend == "numba":
        raise BpttError(f"The numba backend has loops for the LSTM only, not {kind.__name__}.")
    if kind is RNNCell:
        return RNNKernel(cell.activation)
    if kind is GRUCell:
        return GRUKernel()
    return StepKernel(cell)


__all__ = [
    "BACKENDS",
    "BackwardLoop",
    "ForwardLoop",
    "FusedCaches",
    "Lease",
    "SequenceKernel",
    "StepKernel",
    "Workspace",
    "kernel_for",
]
