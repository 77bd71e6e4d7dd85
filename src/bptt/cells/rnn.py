"""Vanilla (Elman) RNN cell with tanh or ReLU, and the IRNN initialisation.

Equations, per step (G = 1):

    h_t = act(x_t W_x + b + h_{t-1} W_h)          act = tanh or relu

Efficient implementation equivalent to the following plain loop::

    for t in range(T):
        h = act(xs[t] @ W_x + b + h @ W_h)

here split into one input projection for all steps (``input_projection``) and the
recurrent product ``h_prev @ W_h`` inside the loop (``step_forward``).

IRNN (Le, Jaitly & Hinton 2015, arXiv:1504.00941): ReLU activation, W_h = identity, b = 0 and
small Gaussian input weights, so that at initialisation the state is copied from step to step.

The fused loop over a whole sequence is ``bptt.kernels.rnn``, tested equal to these steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from bptt.cells.base import check_sizes, gate_sizes, project_inputs, stacked_grads, uniform_init
from bptt.errors import BpttError
from bptt.types import Array

ACTIVATIONS = ("tanh", "relu")


class RNNParams(NamedTuple):
    W_x: Array  # (D, H)
    W_h: Array  # (H, H)
    b: Array  # (H,)


class RNNCarry(NamedTuple):
    h: Array  # (B, H)


class RNNCache(NamedTuple):
    h: Array  # (B, H) post-activation output of the step


@dataclass(frozen=True)
class RNNCell:
    """Elman RNN cell; ``activation`` is "tanh" (default) or "relu"."""

    activation: str = "tanh"
    name: str = "rnn"
    num_gates: int = 1
    params_type: type = RNNParams
    carry_type: type = RNNCarry

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise BpttError(f"`activation` must be one of {ACTIVATIONS}, got {self.activation!r}.")

    def init_params(
        self,
        rng: np.random.Generator,
        input_size: int,
        hidden_size: int,
        *,
        dtype: Any = np.float32,
    ) -> RNNParams:
        """U(-1/sqrt(H), 1/sqrt(H)) for every weight and bias, as PyTorch does."""
        dt = check_sizes(input_size, hidden_size, dtype)
        H = hidden_size
        return RNNParams(
            W_x=uniform_init(rng, (input_size, H), H, dt),
            W_h=uniform_init(rng, (H, H), H, dt),
            b=uniform_init(rng, (H,), H, dt),
        )

    def init_irnn(
        self,
        rng: np.random.Generator,
        input_size: int,
        hidden_size: int,
        *,
        input_scale: float = 0.001,
        dtype: Any = np.float32,
    ) -> RNNParams:
        """IRNN initialisation: W_h = I, b = 0, W_x ~ N(0, input_scale^2) (Le et al. 2015)."""
        dt = check_sizes(input_size, hidden_size, dtype)
        H = hidden_size
        return RNNParams(
            W_x=(rng.standard_normal((input_size, H)) * input_scale).astype(dt),
            W_h=np.eye(H, dtype=dt),
            b=np.zeros(H, dtype=dt),
        )

    def sizes(self, params: RNNParams) -> tuple[int, int]:
        """(D, H): the input and hidden sizes of W_x (D, H), W_h (H, H), b (H,)."""
        return gate_sizes(self.name, self.num_gates, params)

    def input_projection(self, params: RNNParams, xs: Array) -> Array:
        return project_inputs(params.W_x, params.b, xs)  # (T, B, H)

    def step_forward(
        self, params: RNNParams, xp_t: Array, carry: RNNCarry
    ) -> tuple[RNNCarry, RNNCache]:
        h = carry.h @ params.W_h  # (B, H)
        h += xp_t
        if self.activation == "tanh":
            np.tanh(h, out=h)
        else:
            np.maximum(h, 0.0, out=h)
        return RNNCarry(h), RNNCache(h)

    def step_backward(
        self, params: RNNParams, cache_t: RNNCache, dcarry: RNNCarry
    ) -> tuple[RNNCarry, Array, Array]:
        h = cache_t.h
        # tanh' = 1 - h^2; relu' = 1 where the output is positive.
        slope = 1.0 - h * h if self.activation == "tanh" else h > 0
        dz = dcarry.h * slope  # (B, H)
        dh_prev = dz @ params.W_h.T  # (B, H)
        return RNNCarry(dh_prev), dz, dz

    def weight_grads(
        self, params: RNNParams, xs: Array, hs_prev: Array, dxp: Array, dhp: Array
    ) -> tuple[RNNParams, Array]:
        dW_x, dW_h, db, dxs = stacked_grads(params.W_x, xs, hs_prev, dxp, dhp)
        return RNNParams(dW_x, dW_h, db), dxs
