"""SnAp-n: RTRL restricted to the carry units a parameter reaches within n steps.

The Sparse n-step Approximation (Menick, Elsen, Evci, Osindero, Simonyan & Graves 2021,
"Practical Real Time Recurrent Learning with a Sparse Approximation", ICLR,
arXiv:2006.07232). A parameter of unit i (a column of W_x, W_h or b) moves only unit i's
carry in one step, then the units unit i feeds through W_h in the next, and so on. SnAp-n
keeps the entries of the influence matrix M_t = d s_t / d theta on the units reached within
n steps and drops the rest after every update:

    M_t = (J_t M_{t-1}) restricted to the pattern + I_t

SnAp-1 keeps one unit per parameter (every carry field of it: h, and c for the LSTM) and
only the diagonal blocks of J_t: O(P) memory and time, like BPTT per step. SnAp-2 follows
the structural non-zeros of W_h (``mask``): for a dense W_h it reaches every unit and is
RTRL exactly; for a W_h of density d it keeps about d*H units per parameter and costs
O(d^2 n^4). Menick et al. use it with sparse networks, as ``bptt.online.train`` can.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from bptt.errors import BpttError
from bptt.online.base import Sizes, StepInput, as_params, zero_rows
from bptt.online.jacobians import (
    carry_jacobian,
    param_factors,
    param_views,
    step_jacobians,
    unit_jacobian,
)
from bptt.online.rtrl import DEFAULT_MAX_BYTES
from bptt.types import Array, Cell, CellParams


class SnApState(NamedTuple):
    """The sparse influence matrix.

    Attributes:
        index: (H, F*S) the carry entries (f*H + unit) kept for the parameters of each unit.
        valid: (H, F*S) bool, False for padding (units with fewer than S reached units).
        own: (F, H) position in ``index[i]`` of unit i's own field-f entry.
        influence: per field (B, F*S, R, G_p, H): [b, a, r, g, i] = d s[index[i, a]] /
            d theta[r, g, i].
    """

    index: np.ndarray
    valid: np.ndarray
    own: np.ndarray
    influence: dict[str, Array]


def sparse_mask(rng: np.random.Generator, shape: tuple[int, int], density: float) -> np.ndarray:
    """A random sparsity pattern for W_h (H, G*H): each weight kept with probability
    ``density``, and every gate block's diagonal always (a unit keeps its own memory).

    Raises:
        BpttError: a density outside (0, 1].
    """
    if not 0.0 < density <= 1.0:
        raise BpttError(f"`density` must be in (0, 1], got {density!r}.")
    H, GH = shape
    mask = rng.random((H, GH)) < density
    mask |= np.tile(np.eye(H, dtype=bool), (1, GH // H))
    return mask


def reach(mask: np.ndarray, n: int) -> np.ndarray:
    """(H, H) bool: [i, k] = unit k's carry depends on unit i's parameters within n steps.

    Args:
        mask: (H, G*H) bool, the structural non-zeros of W_h: unit j feeds unit k when
            mask[j, g*H + k] for some gate block g (or j = k: every unit keeps itself).
        n: steps, >= 1.
    """
    H = mask.shape[0]
    adjacency = mask.reshape(H, -1, H).any(axis=1) | np.eye(H, dtype=bool)
    reached = np.eye(H, dtype=bool)
    for _ in range(n - 1):
        reached = (reached.astype(np.int64) @ adjacency.astype(np.int64)) > 0
    return reached


def pattern(mask: np.ndarray, n: int, fields: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(index, valid, own) of SnApState for a W_h mask, n steps and F carry fields."""
    reached = reach(mask, n)
    H = reached.shape[0]
    S = int(reached.sum(axis=1).max())
    units = np.tile(np.arange(H)[:, None], (1, S))  # padding repeats the unit itself
    valid_units = np.zeros((H, S), dtype=bool)
    for i in range(H):
        found = np.flatnonzero(reached[i])
        units[i, : found.size] = found
        valid_units[i, : found.size] = True
    index = np.concatenate([f * H + units for f in range(fields)], axis=1)  # (H, F*S)
    valid = np.tile(valid_units, (1, fields))
    own_unit = np.argmax(units == np.arange(H)[:, None], axis=1)  # first hit is the real one
    own = np.stack([f * S + own_unit for f in range(fields)])  # (F, H)
    return index, valid, own


@dataclass(frozen=True)
class SnAp:
    """SnAp-n; ``mask`` (H, G*H) bool is W_h's sparsity pattern (None: W_h != 0 at init)."""

    n: int = 1
    mask: np.ndarray | None = None
    max_bytes: int = DEFAULT_MAX_BYTES
    stochastic: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 1:
            raise BpttError(f"`n` of SnAp-n must be an integer >= 1, got {self.n!r}.")

    @property
    def name(self) -> str:
        return f"snap{self.n}"

    def init(self, cell: Cell, params: CellParams, sizes: Sizes, rng: np.random.Generator) -> Any:
        """The pattern of kept entries and a zero influence.

        Raises:
            BpttError: a mask of the wrong shape, or a matrix above ``max_bytes``.
        """
        mask = params.W_h != 0 if self.mask is None else np.asarray(self.mask, dtype=bool)
        if mask.shape != params.W_h.shape:
            raise BpttError(
                f"`mask` has shape {mask.shape} but W_h has {params.W_h.shape}; give the "
                "sparsity pattern of the recurrent weights."
            )
        F = len(cell.carry_type._fields)
        index, valid, own = pattern(mask, self.n, F)
        views = param_views(params)
        P = sum(int(np.prod(v)) for v in views.values())
        need = 2 * sizes.batch * index.shape[1] * P * params.W_h.dtype.itemsize
        if need > self.max_bytes:
            raise BpttError(
                f"SnAp-{self.n} keeps {index.shape[1]} carry entries per parameter: "
                f"{need / 2**30:.2f} GiB for B={sizes.batch}, P={P:,}, above `max_bytes` "
                f"({self.max_bytes / 2**30:.2f} GiB). Use a sparser W_h, a smaller n or snap1."
            )
        dtype = params.W_h.dtype
        influence = {
            name: np.zeros((sizes.batch, index.shape[1], *view), dtype=dtype)
            for name, view in views.items()
        }
        return SnApState(index, valid, own, influence)

    def step(
        self, cell: Cell, params: CellParams, state: SnApState, inp: StepInput
    ) -> tuple[SnApState, CellParams]:
        """Propagate the kept entries one step, add I_t, read out dL_t/dtheta."""
        jac = step_jacobians(cell, params, inp.cache, inp.carry_prev)
        Jk = self._kept_jacobian(jac, params.W_h, state)  # (B, H, F*S, F*S) or J (B, N, N)
        factors = param_factors(params, jac, inp.x, inp.carry_prev.h)
        dcarry = np.concatenate(inp.dcarry, axis=1)[:, state.index] * state.valid  # (B, H, F*S)
        units = np.arange(jac.dxp.shape[3])
        influence, grads = {}, {}
        for name, M in state.influence.items():
            M = _propagate(Jk, zero_rows(M, inp.resets))
            deriv, u = factors[name]
            # I_t: parameter (r, g, i) moves unit i's own entry of each carry field f.
            if M.shape[1] == deriv.shape[1]:  # SnAp-1: the own entries are all there is
                M += deriv[:, :, None, :, :] * u[:, None, :, None, None]
            else:
                M[:, state.own, :, :, units[None, :]] += np.einsum("bfgi,br->fibrg", deriv, u)
            influence[name] = M
            grads[name] = np.einsum("bia,bargi->rgi", dcarry, M)
        return state._replace(influence=influence), as_params(params, grads)

    def _kept_jacobian(self, jac: Any, W_h: Array, state: SnApState) -> Array:
        """(B, H, F*S, F*S): J_t among the entries kept for each unit's parameters; J_t
        itself, (B, N, N), when every unit keeps every entry (then SnAp-n is RTRL)."""
        index, valid = state.index, state.valid
        F, _, H = jac.dxp.shape[1:]
        if index.shape[1] == F:  # S = 1: the diagonal blocks, never all of J
            Jk = np.moveaxis(unit_jacobian(jac, W_h), 3, 1)  # (B, H, F, F)
            return Jk * (valid[:, :, None] & valid[:, None, :])
        J = carry_jacobian(jac, W_h)  # (B, N, N)
        if index.shape[1] == F * H and valid.all():  # the full pattern: index[i] = 0..N-1
            return J
        Jk = J[:, index[:, :, None], index[:, None, :]]  # (B, H, F*S, F*S)
        return Jk * (valid[:, :, None] & valid[:, None, :])

    def flush(self, cell: Cell, params: CellParams, state: SnApState) -> tuple[SnApState, None]:
        """Nothing is buffered."""
        return state, None


def _propagate(Jk: Array, M: Array) -> Array:
    """M'[b, a, r, g, i] = sum_c Jk[b, i, a, c] M[b, c, r, g, i], as the cheapest product.

    With one kept entry per field (SnAp-1) the sum has F <= 2 terms, done element-wise; with
    the full pattern (Jk is J, (B, N, N)) one product as in RTRL; otherwise one batched
    matrix product per unit, (F*S, F*S) x (F*S, R*G_p).
    """
    B, A = M.shape[:2]
    if Jk.ndim == 3:
        return np.matmul(Jk, M.reshape(B, A, -1)).reshape(M.shape)
    if A <= 2:
        Jt = np.moveaxis(Jk, 1, 3)  # (B, A, A, H)
        out = np.zeros_like(M)
        for a in range(A):
            for c in range(A):
                out[:, a] += Jt[:, a, c][:, None, None, :] * M[:, c]
        return out
    H = M.shape[-1]
    Mi = np.moveaxis(M, -1, 1).reshape(B, H, A, -1)  # (B, H, F*S, R*G_p)
    out = np.matmul(Jk, Mi).reshape(B, H, *M.shape[1:-1])  # (B, H, F*S, R, G_p)
    return np.moveaxis(out, 1, -1)
