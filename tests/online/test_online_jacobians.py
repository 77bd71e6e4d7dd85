"""The hand-derived immediate Jacobians of every cell against central finite differences."""

import numpy as np
import pytest

from bptt.cells import make_cell
from bptt.diagnostics import carry_jacobian as diagnostics_carry_jacobian
from bptt.errors import BpttError
from bptt.online.jacobians import (
    carry_jacobian,
    carry_jvp,
    param_factors,
    param_views,
    step_jacobians,
    unit_jacobian,
)

B, D, H = 2, 3, 4
CELLS = ["rnn", "relu", "lstm", "gru", "bptt.online.influence:LinearCell"]
EPS = 1e-6


def _setup(name, seed=0):
    cell = make_cell(name)
    rng = np.random.default_rng(seed)
    params = cell.init_params(rng, D, H, dtype=np.float64)
    x = rng.standard_normal((B, D))
    carry = cell.carry_type(*(rng.standard_normal((B, H)) for _ in cell.carry_type._fields))
    if name == "relu":  # keep pre-activations away from the kink at 0
        carry = cell.carry_type(np.abs(carry.h))
    return cell, params, x, carry


def _step(cell, params, x, carry):
    """The new carry flattened field by field: (B, F*H)."""
    xp = cell.input_projection(params, x[None])[0]
    return np.concatenate(cell.step_forward(params, xp, carry)[0], axis=1)


def _jacobians(cell, params, x, carry):
    xp = cell.input_projection(params, x[None])[0]
    cache = cell.step_forward(params, xp, carry)[1]
    return step_jacobians(cell, params, cache, carry)


@pytest.mark.parametrize("name", CELLS)
def test_carry_jacobian_matches_finite_differences(name):
    cell, params, x, carry = _setup(name)
    J = carry_jacobian(_jacobians(cell, params, x, carry), params.W_h)
    F = len(carry)
    numeric = np.zeros((B, F * H, F * H))
    for f in range(F):
        for j in range(H):
            up = [a.copy() for a in carry]
            down = [a.copy() for a in carry]
            up[f][:, j] += EPS
            down[f][:, j] -= EPS
            diff = _step(cell, params, x, type(carry)(*up)) - _step(
                cell, params, x, type(carry)(*down)
            )
            numeric[:, :, f * H + j] = diff / (2 * EPS)
    np.testing.assert_allclose(J, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", CELLS)
def test_immediate_parameter_jacobian_matches_finite_differences(name):
    cell, params, x, carry = _setup(name, seed=1)
    jac = _jacobians(cell, params, x, carry)
    factors = param_factors(params, jac, x, carry.h)
    views = param_views(params)
    F = len(carry)
    units = np.arange(H)
    for field, value in zip(params._fields, params, strict=True):
        deriv, u = factors[field]
        R, Gp, _ = views[field]
        dense = np.zeros((B, F, H, R, Gp, H))
        dense[:, :, units, :, :, units] = np.einsum("bfgi,br->ibfrg", deriv, u)
        dense = dense.reshape(B, F * H, value.size)
        numeric = np.zeros_like(dense)
        for k in range(value.size):
            up, down = value.copy(), value.copy()
            up.flat[k] += EPS
            down.flat[k] -= EPS
            diff = _step(cell, params._replace(**{field: up}), x, carry) - _step(
                cell, params._replace(**{field: down}), x, carry
            )
            numeric[:, :, k] = diff / (2 * EPS)
        np.testing.assert_allclose(dense, numeric, rtol=1e-6, atol=1e-9, err_msg=field)


@pytest.mark.parametrize("name", CELLS)
def test_carry_jacobian_equals_the_diagnostics_one(name):
    cell, params, x, carry = _setup(name, seed=2)
    xp = cell.input_projection(params, x[None])[0]
    cache = cell.step_forward(params, xp, carry)[1]
    J = carry_jacobian(step_jacobians(cell, params, cache, carry), params.W_h)
    np.testing.assert_allclose(J, diagnostics_carry_jacobian(cell, params, cache), rtol=1e-12)


@pytest.mark.parametrize("name", CELLS)
def test_jvp_and_unit_blocks_read_the_dense_jacobian(name):
    cell, params, x, carry = _setup(name, seed=3)
    jac = _jacobians(cell, params, x, carry)
    J = carry_jacobian(jac, params.W_h)
    F = len(carry)
    v = np.random.default_rng(4).standard_normal((B, F, H))
    expected = np.einsum("bnm,bm->bn", J, v.reshape(B, F * H)).reshape(B, F, H)
    np.testing.assert_allclose(carry_jvp(jac, params.W_h, v), expected, rtol=1e-12, atol=1e-14)
    blocks = J.reshape(B, F, H, F, H)[:, :, np.arange(H), :, np.arange(H)]  # (H, B, F, F)
    np.testing.assert_allclose(unit_jacobian(jac, params.W_h), np.moveaxis(blocks, 0, 3))


def test_a_cell_without_jacobians_is_refused():
    class Mine:
        name = "mine"

    with pytest.raises(BpttError, match="Cell Mine: The online estimators need"):
        step_jacobians(Mine(), None, None, None)


def test_a_cell_may_bring_its_own_jacobians():
    cell, params, x, carry = _setup("rnn")
    jac = _jacobians(cell, params, x, carry)

    class Own:
        def step_jacobians(self, params, cache, carry_prev):
            return jac

    assert step_jacobians(Own(), params, None, carry) is jac
