"""Influence balancing: the linear cell, and truncation's wrong sign (its Jacobians are
checked with the other cells' in test_jacobians)."""

import numpy as np
import pytest
from online_reference import assert_layer_close, exact, summed

from bptt.model import Model, ModelConfig
from bptt.online import RTRL, make_estimator
from bptt.online.influence import (
    UNITS,
    dynamics,
    influence_params,
    signs,
    steady_state_loss,
    theta_gradient,
)
from bptt.online.stepper import cell_params
from bptt.window import Batch

T = 300  # long enough to see past theta's positive short-term effect (40 steps)


def _problem(theta=0.5):
    model = Model(
        ModelConfig(
            cell="bptt.online.influence:LinearCell", input_size=1, hidden_size=UNITS, output_size=1
        )
    )
    params = influence_params(theta)
    fixed = np.linalg.solve(np.eye(UNITS) - dynamics(), theta * signs())
    carry0 = model.cell.carry_type(fixed[None, :].copy())  # start at the fixed point
    return model, params, Batch(np.ones((T, 1, 1)), np.ones((T, 1, 1))), carry0


def test_the_fixed_point_and_the_optimum():
    assert steady_state_loss(-1 / 6) == pytest.approx(0.0, abs=1e-24)
    assert steady_state_loss(0.5) == pytest.approx(16.0)  # s*[0] = -6 theta = -3


def test_linear_cell_steps_and_jacobians_are_consistent():
    model, params, batch, carry0 = _problem()
    p = cell_params(model, params)
    xp = model.cell.input_projection(p, np.ones((1, 1, 1)))[0]
    carry = model.cell.step_forward(p, xp, carry0)[0]
    np.testing.assert_allclose(carry.h[0], dynamics() @ carry0.h[0] + 0.5 * signs())
    g = exact(model, params, batch, carry0=carry0)
    assert_layer_close(summed(model, params, batch, RTRL(), carry0=carry0), g)


def test_short_truncations_get_the_sign_of_theta_s_gradient_wrong():
    model, params, batch, carry0 = _problem()
    true = theta_gradient(exact(model, params, batch, carry0=carry0)["layers.0.W_x"])
    assert true > 0  # s[0] = -3 < 1, and over 300 steps s[0] falls as theta grows
    for spec in ("tbptt:1", "tbptt:10", "tbptt:30", "snap1"):
        estimate = theta_gradient(
            summed(model, params, batch, make_estimator(spec), carry0=carry0).W_x
        )
        assert estimate < 0, spec
