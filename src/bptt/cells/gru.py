"""GRU cell (Cho et al. 2014) with the reset gate inside the hidden product, as PyTorch does.

Gate blocks along the last axis follow PyTorch's order r, z, n (G = 3):

    xp = x_t W_x + b                     hp = h_{t-1} W_h                 (B, 3H)
    r = s(xp_r + hp_r)
    z = s(xp_z + hp_z)
    n = tanh(xp_n + r * (hp_n + b_hn))
    h_t = (1 - z) * n + z * h_{t-1}

Efficient implementation equivalent to the following plain loop::

    for t in range(T):
        xp, hp = xs[t] @ W_x + b, h @ W_h
        r = sigmoid(xp_r + hp_r)
        z = sigmoid(xp_z + hp_z)
        n = tanh(xp_n + r * (hp_n + b_hn))
        h = (1 - z) * n + z * h

Because r multiplies the hidden product of the n block, the gradient of the hidden-projection
pre-activation differs from the input one in that block: dhp_n = r * dxp_n. ``b_hn`` is PyTorch's
``bias_hh`` n block (equinox calls it ``bias_n``).

The fused loop over a whole sequence is ``bptt.kernels.gru``, tested equal to these steps.
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


class GRUParams(NamedTuple):
    W_x: Array  # (D, 3H)
    W_h: Array  # (H, 3H)
    b: Array  # (3H,)
    b_hn: Array  # (H,)


class GRUCarry(NamedTuple):
    h: Array  # (B, H)


class GRUCache(NamedTuple):
    r: Array  # (B, H)
    z: Array  # (B, H)
    n: Array  # (B, H)
    hn: Array  # (B, H) hp_n + b_hn, the term the reset gate multiplies
    h_prev: Array  # (B, H)


@dataclass(frozen=True)
class GRUCell:
    """GRU cell with PyTorch's placement of the reset gate."""

    name: str = "gru"
    num_gates: int = 3
    params_type: type = GRUParams
    carry_type: type = GRUCarry

    def init_params(
        self,
        rng: np.random.Generator,
        input_size: int,
        hidden_size: int,
        *,
        dtype: Any = np.float32,
    ) -> GRUParams:
        """U(-1/sqrt(H), 1/sqrt(H)) for every weight and bias, as PyTorch does."""
        dt = check_sizes(input_size, hidden_size, dtype)
        H = hidden_size
        return GRUParams(
            W_x=uniform_init(rng, (input_size, 3 * H), H, dt),
            W_h=uniform_init(rng, (H, 3 * H), H, dt),
            b=uniform_init(rng, (3 * H,), H, dt),
            b_hn=uniform_init(rng, (H,), H, dt),
        )

    def sizes(self, params: GRUParams) -> tuple[int, int]:
        """(D, H): the input and hidden sizes of W_x (D, 3H), W_h (H, 3H), b (3H,), b_hn (H,)."""
        return gate_sizes(self.name, self.num_gates, params)

    def input_projection(self, params: GRUParams, xs: Array) -> Array:
        return project_inputs(params.W_x, params.b, xs)  # (T, B, 3H)

    def step_forward(
        self, params: GRUParams, xp_t: Array, carry: GRUCarry
    ) -> tuple[GRUCarry, GRUCache]:
        h_prev = carry.h
        H = h_prev.shape[1]
        hp = h_prev @ params.W_h  # (B, 3H)
        rz = hp[:, : 2 * H]
        rz += xp_t[:, : 2 * H]
        sigmoid(rz, out=rz)
        r, z = rz[:, :H], rz[:, H:]
        hn = hp[:, 2 * H :]
        hn += params.b_hn
        n = r * hn  # (B, H)
        n += xp_t[:, 2 * H :]
        np.tanh(n, out=n)
        h = n - z * (n - h_prev)  # (1 - z) * n + z * h_prev
        return GRUCarry(h), GRUCache(r, z, n, hn, h_prev)

    def step_backward(
        self, params: GRUParams, cache_t: GRUCache, dcarry: GRUCarry
    ) -> tuple[GRUCarry, Array, Array]:
        r, z, n, hn, h_prev = cache_t
        H = r.shape[1]
        dh = dcarry.h
        dxp = np.empty((dh.shape[0], 3 * H), dtype=dh.dtype)  # (B, 3H)
        dn = dh * (1.0 - z) * (1.0 - n * n)  # gradient of the n pre-activation
        dxp[:, 2 * H :] = dn
        dxp[:, :H] = dn * hn * r * (1.0 - r)  # through r = s(.)
        dxp[:, H : 2 * H] = dh * (h_prev - n) * z * (1.0 - z)  # through z = s(.)
        dhp = dxp.copy()
        dhp[:, 2 * H :] *= r  # the reset gate sits inside the hidden product
        dh_prev = dhp @ params.W_h.T  # (B, H)
        dh_prev += dh * z
        return GRUCarry(dh_prev), dxp, dhp

    def weight_grads(
        self, params: GRUParams, xs: Array, hs_prev: Array, dxp: Array, dhp: Array
    ) -> tuple[GRUParams, Array]:
        dW_x, dW_h, db, dxs = stacked_grads(params.W_x, xs, hs_prev, dxp, dhp)
        H = params.b_hn.shape[0]
        db_hn = dhp[..., 2 * H :].reshape(-1, H).sum(axis=0)  # (H,)
        return GRUParams(dW_x, dW_h, db, db_hn), dxs
