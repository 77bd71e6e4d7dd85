"""Influence balancing: a linear system where truncated BPTT gets the gradient's sign wrong.

Tallec & Ollivier 2017, "Unbiased Online Recurrent Optimization", arXiv:1702.05043,
Sec. 6.1. n = 23 units follow the linear dynamics

    s_t = A s_{t-1} + theta v,      A = 0.5 I + 0.5 (superdiagonal),  v = (+1 x 10, -1 x 13)

with one scalar parameter theta and the loss (s_t[0] - 1)^2 at every step. Unit 0 hears unit
k after k steps, so theta's effect on s[0] is positive over the first 10 steps and negative
beyond: the long-run response is s*[0] = theta [(I - A)^-1 v]_0 = -6 theta. A truncation
shorter than the balance point sees only the positive part and moves theta the wrong way,
and the error grows without bound; RTRL and UORO see all of it.

Here the system is a one-layer model: ``LinearCell`` (h_t = x_t W_x + b + h_{t-1} W_h, no
activation) with one constant input x_t = 1, W_x = theta v, W_h = A^T, b = 0 and a readout
of unit 0. Every estimator gives dL/dW_x; dL/dtheta = v . dL/dW_x (``theta_gradient``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bptt.cells import RNNCarry, RNNCell, RNNParams
from bptt.cells.rnn import RNNCache
from bptt.online.jacobians import StepJacobians
from bptt.types import Array, Carry, Params

UNITS = 23
POSITIVE = 10


@dataclass(frozen=True)
class LinearCell(RNNCell):
    """A vanilla RNN without activation: h_t = x_t W_x + b + h_{t-1} W_h.

    It brings its own (constant) immediate Jacobians, so every online estimator runs on it;
    as a subclass of RNNCell it has no fused kernel and runs through the per-step loop.
    """

    activation: str = "linear"
    name: str = "linear"

    def __post_init__(self) -> None:
        """No activation to check."""

    def step_forward(self, params: RNNParams, xp_t: Array, carry: RNNCarry) -> tuple[Any, Any]:
        h = carry.h @ params.W_h  # (B, H)
        h += xp_t
        return RNNCarry(h), RNNCache(h)

    def step_backward(
        self, params: RNNParams, cache_t: RNNCache, dcarry: RNNCarry
    ) -> tuple[RNNCarry, Array, Array]:
        dz = dcarry.h.copy()  # (B, H): the identity's slope is 1
        return RNNCarry(dz @ params.W_h.T), dz, dz

    def step_jacobians(self, params: RNNParams, cache: RNNCache, carry_prev: Carry) -> Any:
        """d h_t / d z = 1 for every unit; nothing skips W_h."""
        ones = np.ones((cache.h.shape[0], 1, 1, cache.h.shape[1]), dtype=cache.h.dtype)
        return StepJacobians(ones, ones, np.zeros_like(ones))


def dynamics(units: int = UNITS) -> Array:
    """A = 0.5 I + 0.5 superdiagonal, (units, units)."""
    return 0.5 * (np.eye(units) + np.eye(units, k=1))


def signs(units: int = UNITS, positive: int = POSITIVE) -> Array:
    """v: +1 for the first ``positive`` units, -1 for the rest."""
    return np.where(np.arange(units) < positive, 1.0, -1.0)


def influence_params(theta: float, units: int = UNITS, positive: int = POSITIVE) -> Params:
    """The model's parameters for a value of theta (float64)."""
    readout = np.zeros((units, 1))
    readout[0, 0] = 1.0
    return {
        "layers.0.W_x": theta * signs(units, positive)[None, :],
        "layers.0.W_h": dynamics(units).T.copy(),
        "layers.0.b": np.zeros(units),
        "readout.W": readout,
        "readout.b": np.zeros(1),
    }


def theta_gradient(dW_x: Array, units: int = UNITS, positive: int = POSITIVE) -> float:
    """dL/dtheta = v . dL/dW_x[0] (W_x = theta v)."""
    return float(signs(units, positive) @ np.ravel(dW_x))


def steady_state_loss(theta: float, units: int = UNITS, positive: int = POSITIVE) -> float:
    """(s*[0] - 1)^2 at the fixed point s* = (I - A)^-1 theta v: the loss in the long run."""
    fixed = np.linalg.solve(np.eye(units) - dynamics(units), theta * signs(units, positive))
    return float((fixed[0] - 1.0) ** 2)
