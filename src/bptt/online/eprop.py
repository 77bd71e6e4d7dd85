"""e-prop: eligibility traces times a learning signal, for the vanilla RNN and the LSTM.

Bellec, Scherr, Subramoney, Hajek, Salaj, Legenstein & Maass 2020, "A solution to the
learning dilemma for recurrent networks of spiking neurons", Nature Communications 11, 3625.
e-prop factorises the gradient as

    dL/dtheta_ji ~= sum_t L_j^t e_ji^t

where L_j^t is a learning signal for unit j, the gradient of the step's loss on h_j^t
through the readout alone (symmetric feedback: the readout's own weights; random feedback:
a fixed random matrix in their place), and e_ji^t the eligibility trace of the weight from
input i to unit j: its effect on unit j's output through unit j's own internal state only.
Every path through the other units' outputs (h_{t-1} through W_h) is dropped.

- Vanilla RNN: a unit has no internal state beside its output, so the trace is the
  immediate term, e_ji^t = act'(z_j^t) u_i^t (u = x_t, h_{t-1} or 1).
- LSTM: the internal state is the cell c_j. The eligibility vector follows it,
  eps^t = f_j^t eps^{t-1} + d c_j^t / d theta (h_{t-1} held fixed), and the trace is
  e^t = o_j^t (1 - tanh(c_j^t)^2) eps^t + d h_j^t / d theta through the output gate
  (Bellec et al. 2020, Supplementary, "e-prop for LSTM").

With no recurrent weights (W_h = 0) nothing is dropped, and symmetric e-prop is exact for
every parameter; the tests check this. SnAp-1 keeps the diagonal of J as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from bptt.cells import LSTMCell, RNNCell
from bptt.errors import BpttError
from bptt.online.base import Sizes, StepInput, as_params, zero_rows
from bptt.online.jacobians import param_factors, param_views, step_jacobians
from bptt.types import Array, Cell, CellParams

FEEDBACKS = ("symmetric", "random")


class EPropState(NamedTuple):
    """eligibility: per field (B, R, G_p, H), the LSTM's eps (empty for the RNN);
    feedback: (O, H) the random feedback weights, or None for symmetric feedback."""

    eligibility: dict[str, Array]
    feedback: Array | None


@dataclass(frozen=True)
class EProp:
    """e-prop with ``feedback`` "symmetric" (the readout's weights) or "random"."""

    feedback: str = "symmetric"

    def __post_init__(self) -> None:
        if self.feedback not in FEEDBACKS:
            raise BpttError(f"`feedback` must be one of {FEEDBACKS}, got {self.feedback!r}.")

    @property
    def name(self) -> str:
        return "eprop" if self.feedback == "symmetric" else "eprop-random"

    @property
    def stochastic(self) -> bool:
        return self.feedback == "random"

    def init(self, cell: Cell, params: CellParams, sizes: Sizes, rng: np.random.Generator) -> Any:
        """Zero eligibility; random feedback weights U(-1/sqrt(H), 1/sqrt(H)), (O, H).

        Raises:
            BpttError: a cell other than the vanilla RNN and the LSTM.
        """
        if not isinstance(cell, RNNCell | LSTMCell):
            raise BpttError(
                f"e-prop is defined for the vanilla RNN and the LSTM (Bellec et al. 2020), not "
                f"for a {type(cell).__name__}; use snap1, its closest relative, instead."
            )
        dtype = params.W_h.dtype
        feedback = None
        if self.feedback == "random":
            bound = 1.0 / np.sqrt(sizes.hidden)
            feedback = rng.uniform(-bound, bound, (sizes.outputs, sizes.hidden)).astype(dtype)
        eligibility = {}
        if isinstance(cell, LSTMCell):
            views = param_views(params)
            eligibility = {k: np.zeros((sizes.batch, *v), dtype=dtype) for k, v in views.items()}
        return EPropState(eligibility, feedback)

    def step(
        self, cell: Cell, params: CellParams, state: EPropState, inp: StepInput
    ) -> tuple[EPropState, CellParams]:
        """Update the eligibility, form the traces, multiply by the learning signal."""
        feedback = state.feedback
        signal = inp.dcarry.h if feedback is None else inp.doutputs @ feedback  # (B, H)
        jac = step_jacobians(cell, params, inp.cache, inp.carry_prev)
        factors = param_factors(params, jac, inp.x, inp.carry_prev.h)
        if not state.eligibility:  # vanilla RNN: the immediate term
            grads = {
                k: np.einsum("bi,bgi,br->rgi", signal, f.deriv[:, 0], f.u)
                for k, f in factors.items()
            }
            return state, as_params(params, grads)
        H = signal.shape[1]
        gates, tanh_c = inp.cache.gates, inp.cache.tanh_c
        forget = gates[:, H : 2 * H]  # (B, H)
        dh_dc = gates[:, 3 * H :] * (1.0 - tanh_c * tanh_c)  # o (1 - tanh(c)^2)
        eligibility, grads = {}, {}
        for k, f in factors.items():
            eps = zero_rows(state.eligibility[k], inp.resets)
            eps = forget[:, None, None, :] * eps
            eps += np.einsum("bgi,br->brgi", f.deriv[:, 1], f.u)  # d c_t / d theta
            trace = dh_dc[:, None, None, :] * eps
            if f.deriv.shape[2] == 4:  # the output gate reaches h_t without c_t
                trace[:, :, 3] += np.einsum("bi,br->bri", f.deriv[:, 0, 3], f.u)
            eligibility[k] = eps
            grads[k] = np.einsum("bi,brgi->rgi", signal, trace)
        return EPropState(eligibility, state.feedback), as_params(params, grads)

    def flush(self, cell: Cell, params: CellParams, state: EPropState) -> tuple[EPropState, None]:
        """Nothing is buffered."""
        return state, None
