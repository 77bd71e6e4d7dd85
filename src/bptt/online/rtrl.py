"""Real-Time Recurrent Learning: the exact gradient, carried forward (Williams & Zipser 1989).

RTRL keeps, for every sequence, the influence matrix M_t = d s_t / d theta (N x P, N = F*H
carry values, P parameters) and updates it at every step,

    M_t = J_t M_{t-1} + I_t,          dL_t/dtheta = dL_t/ds_t . M_t

(Williams & Zipser 1989, "A Learning Algorithm for Continually Running Fully Recurrent
Neural Networks", Neural Computation 1(2), 270-280). With P ~ G*H^2 the matrix holds O(n^3)
numbers and the product J_t M_{t-1} costs O(n^4) per step: exact, and only for small H. Summed
over a sequence, the estimates equal full BPTT's gradient (tests: 1e-10 in float64).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from bptt.errors import BpttError
from bptt.online.base import Sizes, StepInput, as_params, zero_rows
from bptt.online.jacobians import carry_jacobian, param_factors, param_views, step_jacobians
from bptt.types import Array, Cell, CellParams

DEFAULT_MAX_BYTES = 2 * 2**30
"""RTRL's largest influence matrix (with the product's temporary), per batch: 2 GiB."""


class RTRLState(NamedTuple):
    """influence: per parameter field, (B, N, R, G_p, H) = d s_t / d theta for each sequence."""

    influence: dict[str, Array]


def influence_bytes(cell: Cell, params: CellParams, batch: int) -> tuple[int, int, int]:
    """(N, P, bytes): RTRL's matrix size for ``batch`` sequences, the product's temporary
    counted (twice B*N*P values)."""
    H = params.W_h.shape[0]
    N = len(cell.carry_type._fields) * H
    P = sum(int(p.size) for p in params)
    return N, P, 2 * batch * N * P * params.W_h.dtype.itemsize


@dataclass(frozen=True)
class RTRL:
    """Exact RTRL; refuses a model whose influence matrix would exceed ``max_bytes``."""

    max_bytes: int = DEFAULT_MAX_BYTES
    name: str = "rtrl"
    stochastic: bool = False

    def init(self, cell: Cell, params: CellParams, sizes: Sizes, rng: np.random.Generator) -> Any:
        """Zero influence (the initial carry does not depend on theta).

        Raises:
            BpttError: the matrix would need more than ``max_bytes``.
        """
        N, P, need = influence_bytes(cell, params, sizes.batch)
        if need > self.max_bytes:
            raise BpttError(
                f"RTRL keeps d(carry)/d(theta) for every sequence: B={sizes.batch} x N={N} x "
                f"P={P:,} values, {need / 2**30:.2f} GiB with the product's temporary, above the "
                f"limit of {self.max_bytes / 2**30:.2f} GiB (`max_bytes`). Use fewer hidden "
                "units or sequences, or an approximation (uoro, snap1)."
            )
        dtype = params.W_h.dtype
        views = param_views(params)
        return RTRLState(
            {name: np.zeros((sizes.batch, N, *view), dtype=dtype) for name, view in views.items()}
        )

    def step(
        self, cell: Cell, params: CellParams, state: RTRLState, inp: StepInput
    ) -> tuple[RTRLState, CellParams]:
        """M_t = J_t M_{t-1} + I_t, then dL_t/dtheta = dL_t/ds_t . M_t."""
        jac = step_jacobians(cell, params, inp.cache, inp.carry_prev)
        J = carry_jacobian(jac, params.W_h)  # (B, N, N)
        factors = param_factors(params, jac, inp.x, inp.carry_prev.h)
        dcarry = np.concatenate(inp.dcarry, axis=1)  # (B, N)
        B, F, _, H = jac.dxp.shape
        units = np.arange(H)
        influence, grads = {}, {}
        for name, M in state.influence.items():
            M = zero_rows(M, inp.resets)
            shape = M.shape
            M = np.matmul(J, M.reshape(B, F * H, -1)).reshape(B, F, H, *shape[2:])
            deriv, u = factors[name]
            # I_t: parameter (r, g, i) moves only unit i's carry, M[:, f, i, r, g, i].
            M[:, :, units, :, :, units] += np.einsum("bfgi,br->ibfrg", deriv, u)
            M = M.reshape(shape)
            influence[name] = M
            grads[name] = np.einsum("bn,bn...->...", dcarry, M)
        return RTRLState(influence), as_params(params, grads)

    def flush(self, cell: Cell, params: CellParams, state: RTRLState) -> tuple[RTRLState, None]:
        """Nothing is buffered: every step's estimate was emitted with it."""
        return state, None
