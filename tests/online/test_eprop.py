"""e-prop: exact where nothing recurrent is dropped; random feedback is feedback swapped."""

import numpy as np
import pytest
from online_reference import LAYER, assert_layer_close, exact, make, summed

from bptt.errors import BpttError
from bptt.online import EProp, Sizes, make_estimator
from bptt.online.base import add_params
from bptt.online.compare import record_steps
from bptt.online.stepper import cell_params


@pytest.mark.parametrize("cell", ["rnn", "relu", "lstm"])
def test_eprop_is_exact_without_recurrent_weights(cell):
    # No W_h: the loss depends on a unit's past only through the unit's own state (the LSTM's
    # cell), which the eligibility traces follow; nothing is dropped.
    model, params, batch = make(cell, resets=True)
    params = params | {f"{LAYER}.W_h": np.zeros_like(params[f"{LAYER}.W_h"])}
    assert_layer_close(summed(model, params, batch, EProp()), exact(model, params, batch))


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_eprop_drops_the_paths_through_other_units(cell):
    model, params, batch = make(cell)
    total = summed(model, params, batch, EProp())
    assert not np.allclose(total.W_h, exact(model, params, batch)[f"{LAYER}.W_h"])


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_random_feedback_with_the_readout_weights_is_symmetric_eprop(cell):
    model, params, batch = make(cell)
    p = cell_params(model, params)
    recorded = record_steps(model, params, batch, loss="mse")
    rng = np.random.default_rng(0)
    random_state = EProp("random").init(model.cell, p, recorded.sizes, rng)
    assert random_state.feedback.shape == (2, 6)
    states = [
        EProp().init(model.cell, p, recorded.sizes, rng),
        random_state._replace(feedback=params["readout.W"].T),
    ]
    totals = [None, None]
    for inp in recorded.steps:
        for k, estimator in enumerate((EProp(), EProp("random"))):
            states[k], g = estimator.step(model.cell, p, states[k], inp)
            totals[k] = add_params(totals[k], g)
    for a, b in zip(*totals, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    assert make_estimator("eprop-random").stochastic and not make_estimator("eprop").stochastic


def test_eprop_refuses_the_gru():
    model, params, _ = make("gru")
    with pytest.raises(BpttError, match="e-prop is defined for the vanilla RNN and the LSTM"):
        EProp().init(model.cell, cell_params(model, params), Sizes(3, 4, 6, 2), None)
    with pytest.raises(BpttError, match="`feedback` must be one of"):
        EProp("transpose")
