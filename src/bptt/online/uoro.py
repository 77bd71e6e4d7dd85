"""UORO: an unbiased rank-one estimate of the RTRL influence matrix, O(n^2) per step.

Unbiased Online Recurrent Optimization (Tallec & Ollivier 2017, arXiv:1702.05043, Alg. 1).
For every sequence, M_t = d s_t / d theta is replaced by s~_t theta~_t^T, updated with a fresh
vector nu of independent random signs:

    s~_t     = rho0 J_t s~_{t-1} + rho1 nu
    theta~_t = theta~_{t-1} / rho0 + (nu^T I_t) / rho1
    dL_t/dtheta ~= (dL_t/ds_t . s~_t) theta~_t

E[nu nu^T] = identity makes E[s~_t theta~_t^T] = M_t at every step, whatever the positive
factors rho0, rho1; the paper's variance reduction picks the ones that minimise the
variance of the new term, rho0 = sqrt(|theta~| / |J s~|) and rho1 = sqrt(|nu^T I| / |nu|),
each with eps = 1e-7 added to numerator and denominator. J s~ is a Jacobian-vector product
and nu^T I a vector-Jacobian product, so nothing of size N x P is ever formed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from bptt.online.base import Sizes, StepInput, as_params, zero_rows
from bptt.online.jacobians import carry_jvp, param_factors, param_views, step_jacobians
from bptt.types import Array, Cell, CellParams


class UOROState(NamedTuple):
    """s_tilde: (B, F, H); theta_tilde: per field (B, R, G_p, H); rng: draws nu."""

    s_tilde: Array
    theta_tilde: dict[str, Array]
    rng: np.random.Generator


@dataclass(frozen=True)
class UORO:
    """UORO with the paper's variance-reduction factors (``epsilon`` their stabiliser)."""

    epsilon: float = 1e-7
    name: str = "uoro"
    stochastic: bool = True

    def init(self, cell: Cell, params: CellParams, sizes: Sizes, rng: np.random.Generator) -> Any:
        dtype = params.W_h.dtype
        F = len(cell.carry_type._fields)
        views = param_views(params)
        return UOROState(
            np.zeros((sizes.batch, F, sizes.hidden), dtype=dtype),
            {name: np.zeros((sizes.batch, *view), dtype=dtype) for name, view in views.items()},
            rng,
        )

    def step(
        self, cell: Cell, params: CellParams, state: UOROState, inp: StepInput
    ) -> tuple[UOROState, CellParams]:
        """One rank-one update (see the module docstring), then the estimate."""
        s_tilde = zero_rows(state.s_tilde, inp.resets)
        theta_tilde = {k: zero_rows(v, inp.resets) for k, v in state.theta_tilde.items()}
        jac = step_jacobians(cell, params, inp.cache, inp.carry_prev)
        js = carry_jvp(jac, params.W_h, s_tilde)  # (B, F, H)
        nu = state.rng.integers(0, 2, size=js.shape).astype(js.dtype) * 2.0 - 1.0
        factors = param_factors(params, jac, inp.x, inp.carry_prev.h)
        nu_i = {
            name: np.einsum("bfi,bfgi,br->brgi", nu, f.deriv, f.u) for name, f in factors.items()
        }
        eps = self.epsilon
        rho0 = np.sqrt((_norms(theta_tilde) + eps) / (_norms({"s": js}) + eps))  # (B,)
        rho1 = np.sqrt((_norms(nu_i) + eps) / (_norms({"nu": nu}) + eps))  # (B,)
        s_tilde = rho0[:, None, None] * js + rho1[:, None, None] * nu
        theta_tilde = {
            k: theta_tilde[k] / rho0[:, None, None, None] + nu_i[k] / rho1[:, None, None, None]
            for k in theta_tilde
        }
        dcarry = np.stack(inp.dcarry, axis=1)  # (B, F, H)
        weight = np.einsum("bfi,bfi->b", dcarry, s_tilde)  # dL_t/ds_t . s~_t
        grads = {k: np.einsum("b,b...->...", weight, v) for k, v in theta_tilde.items()}
        return UOROState(s_tilde, theta_tilde, state.rng), as_params(params, grads)

    def flush(self, cell: Cell, params: CellParams, state: UOROState) -> tuple[UOROState, None]:
        """Nothing is buffered."""
        return state, None


def _norms(arrays: dict[str, Array]) -> Array:
    """(B,) the Euclidean norm of each sequence's slice across all the arrays."""
    total = sum(np.sum(a.reshape(a.shape[0], -1) ** 2, axis=1) for a in arrays.values())
    return np.sqrt(total)
