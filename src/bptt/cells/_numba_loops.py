"""Compiled LSTM loops over runs of steps: the product and the elementwise step, per step.

Imported only when numba is installed and NumPy's BLAS is reachable (bptt.cells._blas); the
loops call ``cblas_sgemm`` themselves, so a run of T steps is one call from Python instead
of two per step. They refer to a ctypes function, which numba cannot cache on disk: they are
compiled once per process, on first use.
"""

import numba
import numpy as np

from bptt.cells._blas import NO_TRANS, ROW_MAJOR, SGEMM
from bptt.cells._numba_kernels import lstm_backward_step, lstm_forward_step

_JIT = {"fastmath": True, "error_model": "numpy"}
ONE, ZERO = np.float32(1.0), np.float32(0.0)


@numba.njit(**_JIT)
def _product(A, B, C, ldb):
    """C = A @ B for C-ordered A (M, K), C (M, N) and B with rows ldb apart."""
    M, K = A.shape
    N = C.shape[1]
    if A.strides[1] != A.itemsize or A.strides[0] != K * A.itemsize:
        raise ValueError("the compiled product needs a C-ordered A")
    if C.strides[1] != C.itemsize or C.strides[0] != N * C.itemsize:
        raise ValueError("the compiled product needs a C-ordered C")
    if B.shape != (K, N) or B.strides[1] != B.itemsize or B.strides[0] != ldb * B.itemsize:
        raise ValueError("the compiled product needs B of shape (K, N) with rows ldb apart")
    SGEMM(
        ROW_MAJOR,
        NO_TRANS,
        NO_TRANS,
        M,
        N,
        K,
        ONE,
        A.ctypes.data,
        K,
        B.ctypes.data,
        ldb,
        ZERO,
        C.ctypes.data,
        N,
    )


@numba.njit(**_JIT)
def lstm_forward_loop(W, hx, gates, cs, tanh_cs, valid, start, stop):
    """Steps [start, stop) of the fused forward loop (see lstm.forward_sequence).

    W (4H, K) stacked weights; hx (T + 1, K, B), whose rows :H of step t + 1 receive h_t.
    gates (T, 4H, B), cs (T + 1, H, B) and tanh_cs (T, H, B) hold every step; with one row
    of gates and tanh_cs and two of cs (inference), every step writes row 0 and c alternates.
    valid (T, B): False where a sequence is padded, which keeps its h and c through the step.
    """
    H = cs.shape[1]
    B = cs.shape[2]
    whole = gates.shape[0] > 1 or cs.shape[0] > 2
    for t in range(start, stop):
        k = t if whole else 0
        c_prev, c = (cs[t], cs[t + 1]) if whole else (cs[t % 2], cs[(t + 1) % 2])
        z = gates[k]
        _product(W, hx[t], z, B)
        lstm_forward_step(
            z.reshape(-1),
            c_prev.reshape(-1),
            c.reshape(-1),
            tanh_cs[k].reshape(-1),
            hx[t + 1][:H].reshape(-1),
        )
        for b in range(B):
            if not valid[t, b]:
                for r in range(H):
                    hx[t + 1, r, b] = hx[t, r, b]
                    c[r, b] = c_prev[r, b]


@numba.njit(**_JIT)
def lstm_backward_loop(W_h, gates, cs, tanh_cs, dh, dhs, dc, dz, valid, start, stop, offset):
    """Steps stop - 1 down to start of the compiled backward loop (lstm._compiled_steps).

    dh, dc (H, B) carry dL/dh_t and dL/dc_t between steps; dhs (steps, H * B) the outputs'
    gradients from ``offset`` on; dz (4H, steps, B) receives dL/dz of step t at t - offset.
    A padded sequence (valid[t, b] False) gets no gradient from step t, and its dL/dh and
    dL/dc pass through the step unchanged.
    """
    H, B = dh.shape
    ldb = dz.shape[1] * dz.shape[2]
    kept = np.empty((2, H, B), dh.dtype)
    for t in range(stop - 1, start - 1, -1):
        j = t - offset
        padded = False
        for b in range(B):
            if not valid[t, b]:
                padded = True
                for r in range(H):
                    kept[0, r, b], kept[1, r, b] = dh[r, b], dc[r, b]
                    dh[r, b] = dc[r, b] = 0
        lstm_backward_step(
            gates[t].reshape(-1),
            cs[t].reshape(-1),
            tanh_cs[t].reshape(-1),
            dh.reshape(-1),
            dhs[j],
            dc.reshape(-1),
            dz,
            j,
        )
        _product(W_h, dz[:, j, :], dh, ldb)
        if padded:
            for b in range(B):
                if not valid[t, b]:
                    for r in range(H):
                        dh[r, b], dc[r, b] = kept[0, r, b], kept[1, r, b]
