"""A user-defined cell, as a user would write one: h_t = x_t U + c + h_{t-1} V (no activation).

Its fields have names of its own (U, V, c), so nothing in bptt may rely on W_x, W_h or b. The
tests import it as "linear_cell:LinearCell", the way ``--cell package.module:ClassName`` does.
"""

from typing import NamedTuple

import numpy as np


class LinearParams(NamedTuple):
    U: np.ndarray  # (D, H)
    V: np.ndarray  # (H, H)
    c: np.ndarray  # (H,)


class LinearCarry(NamedTuple):
    h: np.ndarray  # (B, H)


class LinearCell:
    name = "linear"
    params_type = LinearParams
    carry_type = LinearCarry

    def init_params(self, rng, input_size, hidden_size, *, dtype=np.float32):
        scale = 0.5 / np.sqrt(hidden_size)
        U = scale * rng.standard_normal((input_size, hidden_size))
        V = scale * rng.standard_normal((hidden_size, hidden_size))
        return LinearParams(U.astype(dtype), V.astype(dtype), np.zeros(hidden_size, dtype))

    def sizes(self, params):
        return params.U.shape  # (D, H)

    def input_projection(self, params, xs):
        return xs @ params.U + params.c  # (T, B, H)

    def step_forward(self, params, xp_t, carry):
        return LinearCarry(xp_t + carry.h @ params.V), None  # nothing to cache

    def step_backward(self, params, cache_t, dcarry):
        return LinearCarry(dcarry.h @ params.V.T), dcarry.h, dcarry.h

    def weight_grads(self, params, xs, hs_prev, dxp, dhp):
        dU = np.einsum("tbd,tbh->dh", xs, dxp)
        dV = np.einsum("tbk,tbh->kh", hs_prev, dhp)
        return LinearParams(dU, dV, dxp.sum(axis=(0, 1))), dxp @ params.U.T
