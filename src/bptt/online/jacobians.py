"""Immediate Jacobians of one step, derived by hand per cell, in the structure RTRL needs.

Every online estimator propagates the influence matrix M_t = d s_t / d theta of the carry s_t
(h for the RNN and GRU, (h, c) for the LSTM) with respect to the cell's parameters,

    M_t = J_t M_{t-1} + I_t,       J_t = d s_t / d s_{t-1},   I_t = d s_t / d theta (immediate)

(Williams & Zipser 1989, "A Learning Algorithm for Continually Running Fully Recurrent Neural
Networks", Neural Computation 1(2)). Both Jacobians come from the same few numbers. Every
parameter reaches the step through a pre-activation, xp = x W_x + b or hp = h_{t-1} W_h (plus
b_hn inside the GRU's reset product), and a pre-activation of unit i moves only the carry of
unit i. So a step is described by ``StepJacobians``:

    dxp[b, f, g, i]      d s_t[f, i] / d xp_t[g, i]    (carry field f, gate block g, unit i)
    dhp[b, f, g, i]      d s_t[f, i] / d hp_t[g, i]    (= dxp except the GRU's n block: * r)
    direct[b, f, k, i]   d s_t[f, i] / d s_{t-1}[k, i] along paths that skip W_h
                         (the LSTM's c_{t-1} -> c_t and -> h_t, the GRU's z * h_{t-1})

from which

    J[b, (f, i), (k, j)] = direct[b, f, k, i] [i = j]
                           + [k = h] sum_g dhp[b, f, g, i] W_h[j, g*H + i]
    I[b, (f, j), W_x[d, g*H + i]] = [i = j] dxp[b, f, g, i] x[b, d]
                        (W_h: dhp and h_{t-1}; b: dxp and 1; b_hn: the n block of dhp and 1)

Each parameter array is viewed as (R, G_p, H): R rows of inputs (D for W_x, H for W_h, 1 for a
bias), G_p gate blocks and H units; its unit is the last axis. The equations per cell are in
``rnn_jacobians``, ``lstm_jacobians`` and ``gru_jacobians``; tests check every entry against
central finite differences in float64 and against ``bptt.diagnostics.jacobians``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from bptt.cells import GRUCell, LSTMCell, RNNCell
from bptt.errors import BpttError
from bptt.types import Array, Carry, Cell, CellParams


class StepJacobians(NamedTuple):
    """The immediate derivatives of one step, unit by unit (see the module docstring).

    Attributes:
        dxp: (B, F, G, H) d s_t[f, i] / d xp_t[g, i].
        dhp: (B, F, G, H) d s_t[f, i] / d hp_t[g, i], hp_t = h_{t-1} W_h.
        direct: (B, F, F, H) d s_t[f, i] / d s_{t-1}[k, i] not through W_h.
    """

    dxp: Array
    dhp: Array
    direct: Array


class Factor(NamedTuple):
    """How one parameter array enters a step: I[b, (f, j), (r, g, i)] = [i = j] deriv u.

    Attributes:
        deriv: (B, F, G_p, H) derivative of the carry with respect to the pre-activation the
            parameter feeds.
        u: (B, R) what multiplies the parameter: x_t for W_x, h_{t-1} for W_h, ones for a bias.
    """

    deriv: Array
    u: Array


JACOBIANS_MSG = (
    "The online estimators need the immediate Jacobians of the cell: they are built in for "
    "RNNCell, LSTMCell and GRUCell; a cell of your own provides "
    "`step_jacobians(params, cache, carry_prev) -> bptt.online.jacobians.StepJacobians`."
)


def _slope(activation: str, h: Array) -> Array:
    """act'(z) from the output h = act(z): 1 - h^2 for tanh, [h > 0] for relu."""
    if activation == "tanh":
        return 1.0 - h * h
    return (h > 0).astype(h.dtype)


def rnn_jacobians(
    cell: RNNCell, params: CellParams, cache: Any, carry_prev: Carry
) -> StepJacobians:
    """h_t = act(z), z = xp + h_{t-1} W_h: d h_t / d z = act'(z); nothing skips W_h."""
    a = _slope(cell.activation, cache.h)  # (B, H)
    d = a[:, None, None, :]  # (B, 1, 1, H)
    B, H = a.shape
    return StepJacobians(d, d, np.zeros((B, 1, 1, H), dtype=a.dtype))


def lstm_jacobians(
    cell: LSTMCell, params: CellParams, cache: Any, carry_prev: Carry
) -> StepJacobians:
    """The LSTM's step, carry (h, c), gates i, f, g, o with z = xp + h_{t-1} W_h:

    c = f c_{t-1} + i g          dc/dz_i = g i (1 - i)    dc/dz_f = c_{t-1} f (1 - f)
                                 dc/dz_g = i (1 - g^2)    dc/dz_o = 0
    h = o tanh(c)                dh/dz_k = o (1 - tanh(c)^2) dc/dz_k (k = i, f, g)
                                 dh/dz_o = tanh(c) o (1 - o)
    direct: dc/dc_{t-1} = f, dh/dc_{t-1} = o (1 - tanh(c)^2) f; h_{t-1} acts only via W_h.
    """
    gates, tc, c_prev = cache.gates, cache.tanh_c, cache.c_prev
    B, H = tc.shape
    i, f, g, o = (gates[:, k * H : (k + 1) * H] for k in range(4))
    dtanh = o * (1.0 - tc * tc)  # dh/dc, (B, H)
    d = np.zeros((B, 2, 4, H), dtype=tc.dtype)
    d[:, 1, 0] = g * i * (1.0 - i)
    d[:, 1, 1] = c_prev * f * (1.0 - f)
    d[:, 1, 2] = i * (1.0 - g * g)
    d[:, 0, :3] = dtanh[:, None, :] * d[:, 1, :3]
    d[:, 0, 3] = tc * o * (1.0 - o)
    direct = np.zeros((B, 2, 2, H), dtype=tc.dtype)
    direct[:, 1, 1] = f
    direct[:, 0, 1] = dtanh * f
    return StepJacobians(d, d, direct)


def gru_jacobians(
    cell: GRUCell, params: CellParams, cache: Any, carry_prev: Carry
) -> StepJacobians:
    """The GRU's step, gates r, z, n, with hn = h_{t-1} W_hn + b_hn:

    h = (1 - z) n + z h_{t-1}    dh/dn_pre = (1 - z)(1 - n^2)
    n = tanh(xp_n + r hn)        dh/dxp_n = dh/dn_pre       dh/dhp_n = dh/dn_pre r
    r = s(xp_r + hp_r)           dh/dxp_r = dh/dhp_r = dh/dn_pre hn r (1 - r)
    z = s(xp_z + hp_z)           dh/dxp_z = dh/dhp_z = (h_{t-1} - n) z (1 - z)
    direct: dh/dh_{t-1} = z (the update gate's copy of the old state).
    """
    r, z, n, hn, h_prev = cache
    dn = (1.0 - z) * (1.0 - n * n)  # (B, H)
    B, H = r.shape
    dxp = np.empty((B, 1, 3, H), dtype=r.dtype)
    dxp[:, 0, 0] = dn * hn * r * (1.0 - r)
    dxp[:, 0, 1] = (h_prev - n) * z * (1.0 - z)
    dxp[:, 0, 2] = dn
    dhp = dxp.copy()
    dhp[:, 0, 2] *= r
    return StepJacobians(dxp, dhp, z[:, None, None, :].copy())


def step_jacobians(cell: Cell, params: CellParams, cache: Any, carry_prev: Carry) -> StepJacobians:
    """The StepJacobians of one step, from the cache ``cell.step_forward`` returned.

    Built in for RNNCell, LSTMCell and GRUCell (looked up by exact type, like the kernels);
    any other cell must define ``step_jacobians(params, cache, carry_prev)``.

    Raises:
        BpttError: a cell with no known Jacobians.
    """
    own = getattr(cell, "step_jacobians", None)
    if callable(own):
        return own(params, cache, carry_prev)
    builders = {RNNCell: rnn_jacobians, LSTMCell: lstm_jacobians, GRUCell: gru_jacobians}
    builder = builders.get(type(cell))
    if builder is None:
        raise BpttError(f"Cell {type(cell).__name__}: {JACOBIANS_MSG}")
    return builder(cell, params, cache, carry_prev)


def gate_view(W_h: Array, G: int) -> Array:
    """W_h (H, G*H) as (H, G, H): [j, g, i] is the weight from h_{t-1}[j] to gate g of unit i."""
    H = W_h.shape[0]
    return W_h.reshape(H, G, H)


def carry_jacobian(jac: StepJacobians, W_h: Array) -> Array:
    """The dense one-step Jacobian J[b, (f, i), (k, j)] = d s_t[f, i] / d s_{t-1}[k, j].

    Args:
        jac: the step's StepJacobians.
        W_h: (H, G*H) the recurrent weights.

    Returns:
        (B, N, N) with N = F*H, the carry flattened field by field ((h, c) for the LSTM).
    """
    B, F, G, H = jac.dhp.shape
    J = np.zeros((B, F, H, F, H), dtype=jac.dhp.dtype)
    J[:, :, :, 0, :] = np.einsum("bfgi,jgi->bfij", jac.dhp, gate_view(W_h, G))
    units = np.arange(H)
    # J[:, f, i, k, i] += direct[:, f, k, i]; the advanced indices put the unit axis first.
    J[:, :, units, :, units] += np.moveaxis(jac.direct, 3, 0)
    return J.reshape(B, F * H, F * H)


def carry_jvp(jac: StepJacobians, W_h: Array, v: Array) -> Array:
    """J v without forming J: v (B, F, H) -> (B, F, H), O(B G H^2)."""
    B, _, G, H = jac.dhp.shape
    hp = (v[:, 0] @ W_h).reshape(B, G, H)  # the tangent of hp = h_{t-1} W_h
    out = np.einsum("bfgi,bgi->bfi", jac.dhp, hp)
    out += np.einsum("bfki,bki->bfi", jac.direct, v)
    return out


def unit_jacobian(jac: StepJacobians, W_h: Array) -> Array:
    """The diagonal blocks of J, unit by unit: (B, F, F, H), [b, f, k, i] = J[b, (f,i), (k,i)].

    SnAp-1 keeps exactly these entries (Menick et al. 2021, arXiv:2006.07232, Sec. 3).
    """
    G, H = jac.dhp.shape[2:]
    units = np.arange(H)
    self_weights = gate_view(W_h, G)[units, :, units].T  # (G, H): W_h[i, g*H + i]
    out = jac.direct.copy()
    out[:, :, 0, :] += np.einsum("bfgi,gi->bfi", jac.dhp, self_weights)
    return out


PARAM_ROLES = {"W_x": ("x", "xp"), "W_h": ("h", "hp"), "b": ("1", "xp"), "b_hn": ("1", "hp_n")}
"""How each parameter field enters a step: (what multiplies it, which pre-activation)."""


def param_factors(
    params: CellParams, jac: StepJacobians, x: Array, h_prev: Array
) -> dict[str, Factor]:
    """The Factor of every parameter field of a cell (see ``Factor``).

    Args:
        params: the cell's NamedTuple of parameters, fields among W_x, W_h, b, b_hn.
        jac: the step's StepJacobians.
        x: (B, D) the step's input.
        h_prev: (B, H) the carried h entering the step.

    Raises:
        BpttError: a parameter field that does not enter through a pre-activation.
    """
    ones = np.ones((x.shape[0], 1), dtype=jac.dxp.dtype)
    inputs = {"x": x, "h": h_prev, "1": ones}
    derivs = {"xp": jac.dxp, "hp": jac.dhp, "hp_n": jac.dhp[:, :, 2:3]}
    factors = {}
    for name in params._fields:
        if name not in PARAM_ROLES:
            raise BpttError(
                f"Parameter field {name!r}: the online estimators know W_x, W_h, b and b_hn, "
                "the fields that enter a step through its pre-activations."
            )
        source, pre = PARAM_ROLES[name]
        factors[name] = Factor(derivs[pre], inputs[source])
    return factors


def param_views(params: CellParams) -> dict[str, tuple[int, int, int]]:
    """(R, G_p, H) of every parameter field: W_x (D, G, H), W_h (H, G, H), b (1, G, H),
    b_hn (1, 1, H); the view of a field is a reshape of its array (gate-major columns)."""
    H = params.W_h.shape[0]
    G = params.W_h.shape[1] // H
    return {
        name: (1, 1, H) if name == "b_hn" else (p.size // (G * H), G, H)
        for name, p in zip(params._fields, params, strict=True)
    }
