"""LSTM cell (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000).

Gate blocks along the last axis follow PyTorch's order i, f, g, o (G = 4):

    z = x_t W_x + b + h_{t-1} W_h                    (B, 4H)
    i = s(z_i)   f = s(z_f)   g = tanh(z_g)   o = s(z_o)
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

Efficient implementation equivalent to the following plain loop::

    for t in range(T):
        z = xs[t] @ W_x + b + h @ W_h
        i, f, g, o = sigmoid(z_i), sigmoid(z_f), tanh(z_g), sigmoid(z_o)
        c = f * c + i * g
        h = o * tanh(c)

The forget-gate bias starts at ``forget_bias`` (default 1.0, Jozefowicz et al. 2015) so that
memory is kept at initialisation.

The fused loops over a whole sequence are ``bptt.kernels.lstm`` (NumPy, and compiled with
numba), tested equal to these steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from bptt.cells.base import (
    check_sizes,
    gate_sizes,
    project_inputs,
    sigmoid,
    stacked_grads,
    uniform_init,
)
from bptt.types import Array


class LSTMParams(NamedTuple):
    W_x: Array  # (D, 4H)
    W_h: Array  # (H, 4H)
    b: Array  # (4H,)


class LSTMCarry(NamedTuple):
    h: Array  # (B, H)
    c: Array  # (B, H)


class LSTMCache(NamedTuple):
    gates: Array  # (B, 4H) post-activation i, f, g, o
    tanh_c: Array  # (B, H)
    c_prev: Array  # (B, H)


@dataclass(frozen=True)
class LSTMCell:
    """LSTM cell; ``forget_bias`` is added to the forget-gate bias at initialisation."""

    forget_bias: float = 1.0
    name: str = "lstm"
    num_gates: int = 4
    params_type: type = LSTMParams
    carry_type: type = LSTMCarry

    def init_params(
        self,
        rng: np.random.Generator,
        input_size: int,
        hidden_size: int,
        *,
        dtype: Any = np.float32,
    ) -> LSTMParams:
        """U(-1/sqrt(H), 1/sqrt(H)) as PyTorch, then b_f += forget_bias."""
        dt = check_sizes(input_size, hidden_size, dtype)
        H = hidden_size
        b = uniform_init(rng, (4 * H,), H, dt)
        b[H : 2 * H] += dt.type(self.forget_bias)
        return LSTMParams(
            W_x=uniform_init(rng, (input_size, 4 * H), H, dt),
            W_h=uniform_init(rng, (H, 4 * H), H, dt),
            b=b,
        )

    def sizes(self, params: LSTMParams) -> tuple[int, int]:
        """(D, H): the input and hidden sizes of W_x (D, 4H), W_h (H, 4H), b (4H,)."""
        return gate_sizes(self.name, self.num_gates, params)

    def input_projection(self, params: LSTMParams, xs: Array) -> Array:
        return project_inputs(params.W_x, params.b, xs)  # (T, B, 4H)

    def step_forward(
        self, params: LSTMParams, xp_t: Array, carry: LSTMCarry
    ) -> tuple[LSTMCarry, LSTMCache]:
        H = carry.h.shape[1]
        gates = carry.h @ params.W_h  # (B, 4H)
        gates += xp_t
        sigmoid(gates[:, : 2 * H], out=gates[:, : 2 * H])  # i, f
        np.tanh(gates[:, 2 * H : 3 * H], out=gates[:, 2 * H : 3 * H])  # g
        sigmoid(gates[:, 3 * H :], out=gates[:, 3 * H :])  # o
        i, f, g, o = (gates[:, k * H : (k + 1) * H] for k in range(4))
        c = f * carry.c  # (B, H)
        c += i * g
        tanh_c = np.tanh(c)
        h = o * tanh_c  # (B, H)
        return LSTMCarry(h, c), LSTMCache(gates, tanh_c, carry.c)

    def step_backward(
        self, params: LSTMParams, cache_t: LSTMCache, dcarry: LSTMCarry
    ) -> tuple[LSTMCarry, Array, Array]:
        gates, tanh_c = cache_t.gates, cache_t.tanh_c
        H = tanh_c.shape[1]
        i, f, g, o = (gates[:, k * H : (k + 1) * H] for k in range(4))
        dh = dcarry.h
        dc = dcarry.c + dh * o * (1.0 - tanh_c * tanh_c)  # (B, H)
        dz = np.empty_like(gates)  # (B, 4H)
        dz[:, :H] = dc * g * i * (1.0 - i)  # through i = s(z_i)
        dz[:, H : 2 * H] = dc * cache_t.c_prev * f * (1.0 - f)  # through f = s(z_f)
        dz[:, 2 * H : 3 * H] = dc * i * (1.0 - g * g)  # through g = tanh(z_g)
        dz[:, 3 * H :] = dh * tanh_c * o * (1.0 - o)  # through o = s(z_o)
        dh_prev = dz @ params.W_h.T  # (B, H)
        dc_prev = dc * f  # (B, H)
        return LSTMCarry(dh_prev, dc_prev), dz, dz

    def weight_grads(
        self, params: LSTMParams, xs: Array, hs_prev: Array, dxp: Array, dhp: Array
    ) -> tuple[LSTMParams, Array]:
        dW_x, dW_h, db, dxs = stacked_grads(params.W_x, xs, hs_prev, dxp, dhp)
        return LSTMParams(dW_x, dW_h, db), dxs
