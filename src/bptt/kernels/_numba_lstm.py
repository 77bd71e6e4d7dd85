"""Compiled LSTM loops over runs of steps, in float32: the product and the elementwise step.

Imported only when numba is installed and NumPy's BLAS is reachable (``kernels._blas``).
A NumPy step is about ten ufunc calls, each of which costs some 0.4 us before it touches an
element; at small sizes that overhead, not the arithmetic, is most of the step. Here a run of
steps is one call from Python: each step's product goes through NumPy's own ``cblas_sgemm``
(the same library and thread pool as ``np.matmul``) and its elementwise work is one loop.

tanh is the rational approximation Eigen uses for float32 (``ptanh_float``, 13/6 degree,
within 4e-7 of tanh), which vectorises where libm's tanhf does not; float64, the dtype of
every gradient check, never comes here. The step functions are cached on disk (numba's
``cache=True``); the loops refer to a ctypes function, which numba cannot cache, so they are
compiled once per process, on first use.

Every array is C-contiguous and feature-major: with n = H * B, gate k of a step's (4H, B)
block is [k * n, (k + 1) * n) of its flat view.
"""

import numba
import numpy as np

from bptt.kernels._blas import NO_TRANS, ROW_MAJOR, SGEMM

_JIT = {"fastmath": True, "error_model": "numpy"}
_CACHED = {**_JIT, "cache": True}
ZERO = np.float32(0.0)
ONE = np.float32(1.0)
HALF = np.float32(0.5)
CLAMP = np.float32(7.90531110763549805)  # beyond it, tanh rounds to +-1 in float32
# Eigen's ptanh_float: tanh(x) ~ x P(x^2) / Q(x^2), |error| < 4e-7 on the clamped range.
P13, P11, P9, P7 = (
    np.float32(-2.76076847742355e-16),
    np.float32(2.00018790482477e-13),
    np.float32(-8.60467152213735e-11),
    np.float32(5.12229709037114e-08),
)
P5, P3, P1 = (
    np.float32(1.48572235717979e-05),
    np.float32(6.37261928875436e-04),
    np.float32(4.89352455891786e-03),
)
Q6, Q4, Q2, Q0 = (
    np.float32(1.19825839466702e-06),
    np.float32(1.18534705686654e-04),
    np.float32(2.26843463243900e-03),
    np.float32(4.89352518554385e-03),
)


@numba.njit(inline="always", **_CACHED)
def tanh(x):
    x = CLAMP if x > CLAMP else x
    x = -CLAMP if x < -CLAMP else x
    x2 = x * x
    p = ((((((P13 * x2 + P11) * x2 + P9) * x2 + P7) * x2 + P5) * x2 + P3) * x2 + P1) * x
    q = ((Q6 * x2 + Q4) * x2 + Q2) * x2 + Q0
    return p / q


@numba.njit(**_CACHED)
def lstm_forward_step(z, c_prev, c, tanh_c, h):
    n = c.shape[0]
    for j in range(n):
        i = tanh(z[j]) * HALF + HALF
        f = tanh(z[n + j]) * HALF + HALF
        g = tanh(z[2 * n + j])
        o = tanh(z[3 * n + j]) * HALF + HALF
        z[j] = i
        z[n + j] = f
        z[2 * n + j] = g
        z[3 * n + j] = o
        c_t = f * c_prev[j] + i * g
        c[j] = c_t
        t = tanh(c_t)
        tanh_c[j] = t
        h[j] = o * t


@numba.njit(**_CACHED)
def lstm_backward_step(gates, c_prev, tanh_c, dh_next, dhs_t, dc_next, dz, t):
    n = dh_next.shape[0]
    H = dz.shape[0] // 4
    B = dz.shape[2]
    for k in range(H):
        for b in range(B):
            j = k * B + b
            i = gates[j]
            f = gates[n + j]
            g = gates[2 * n + j]
            o = gates[3 * n + j]
            tc = tanh_c[j]
            dh = dh_next[j] + dhs_t[j]
            dc = dc_next[j] + dh * o * (ONE - tc * tc)
            dz[k, t, b] = dc * g * i * (ONE - i)
            dz[H + k, t, b] = dc * c_prev[j] * f * (ONE - f)
            dz[2 * H + k, t, b] = dc * i * (ONE - g * g)
            dz[3 * H + k, t, b] = dh * tc * o * (ONE - o)
            dc_next[j] = dc * f


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
def lstm_forward_loop(W, hx, gates, cs, tanh_cs, start, stop):
    """Steps [start, stop) of the forward loop (kernels.lstm).

    W (4H, K) stacked weights; hx (T + 1, K, B), whose rows :H of step t + 1 receive h_t.
    gates (T, 4H, B), cs (T + 1, H, B) and tanh_cs (T, H, B) hold every step; with one row
    of gates and tanh_cs and two of cs (inference), every step writes row 0 and c alternates.
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


@numba.njit(**_JIT)
def lstm_backward_loop(W_h, gates, cs, tanh_cs, dh, dc, dhs, dz, start, stop, offset):
    """Steps stop - 1 down to start of the backward loop (kernels.lstm).

    dh, dc (H, B) carry dL/dh_t and dL/dc_t between steps; dhs (T, H * B) the outputs'
    gradients, or one row of zeros for none; dz (4H, steps, B) receives dL/dz of step t at
    t - offset.
    """
    ldb = dz.shape[1] * dz.shape[2]
    whole = dhs.shape[0] == gates.shape[0]
    for t in range(stop - 1, start - 1, -1):
        j = t - offset
        lstm_backward_step(
            gates[t].reshape(-1),
            cs[t].reshape(-1),
            tanh_cs[t].reshape(-1),
            dh.reshape(-1),
            dhs[t if whole else 0],
            dc.reshape(-1),
            dz,
            j,
        )
        _product(W_h, dz[:, j, :], dh, ldb)
