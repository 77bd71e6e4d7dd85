"""The numba functions behind bptt.cells.compiled (imported only when numba is installed).

Compiled on first use and cached on disk (numba's ``cache=True``). See compiled.py for the
layouts and the accuracy of the tanh approximation.
"""

import numba
import numpy as np

_JIT = {"fastmath": True, "error_model": "numpy", "cache": True}

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


@numba.njit(inline="always", **_JIT)
def tanh(x):
    x = CLAMP if x > CLAMP else x
    x = -CLAMP if x < -CLAMP else x
    x2 = x * x
    p = ((((((P13 * x2 + P11) * x2 + P9) * x2 + P7) * x2 + P5) * x2 + P3) * x2 + P1) * x
    q = ((Q6 * x2 + Q4) * x2 + Q2) * x2 + Q0
    return p / q


@numba.njit(**_JIT)
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


@numba.njit(**_JIT)
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
