"""Lag profiles and input influence: against central differences, equivalences, known curves."""

import math

import numpy as np
import pytest
from diagnostics_reference import fd_hidden_lag_norms, fd_input_lag_norms

from bptt.diagnostics import input_influence, lag_profile, last_step_sensitivity
from bptt.model import Model, ModelConfig
from bptt.window import Batch

T, B, D, H, OUT = 6, 3, 4, 5, 2


def _model(cell, **config):
    settings = {"input_size": D, "hidden_size": H, "output_size": OUT} | config
    model = Model(ModelConfig(cell=cell, **settings))
    return model, model.init(np.random.default_rng(0), dtype=np.float64)


def _batch(xs, mask=None):
    return Batch(xs, np.zeros((*xs.shape[:2], OUT)), mask=mask)


def _xs(seed=1, shape=(T, B, D)):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("cell", ["rnn", "relu", "lstm", "gru"])
def test_hidden_lag_norms_match_finite_differences(cell):
    model, params = _model(cell, num_layers=2)
    xs = _xs()
    sens = last_step_sensitivity(model, params, _batch(xs))
    reference = fd_hidden_lag_norms(model, params, xs)
    for name in model.layer_prefixes():
        assert sens.hidden[name].shape == (T,)
        np.testing.assert_allclose(sens.hidden[name], reference[name], rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_input_influence_matches_finite_differences(cell):
    model, params = _model(cell, num_layers=2)
    xs = _xs(2)
    sens = last_step_sensitivity(model, params, _batch(xs))
    np.testing.assert_allclose(sens.inputs, fd_input_lag_norms(model, params, xs), rtol=1e-6)


def test_token_inputs_use_the_embedding_output():
    V = 7
    model, params = _model("lstm", vocab_size=V, embed_size=D, num_layers=2)
    ids = np.random.default_rng(3).integers(0, V, (T, B))
    sens = last_step_sensitivity(model, params, Batch(ids, np.zeros((T, B), dtype=int)))
    floats, fparams = _model("lstm", num_layers=2)
    fparams = {k: params[k] for k in fparams}
    xs = params["embedding.W"][ids]  # (T, B, E): what the first layer reads
    np.testing.assert_allclose(sens.inputs, fd_input_lag_norms(floats, fparams, xs), rtol=1e-6)
    reference = fd_hidden_lag_norms(floats, fparams, xs)
    for name in model.layer_prefixes():
        np.testing.assert_allclose(sens.hidden[name], reference[name], rtol=1e-6, atol=1e-10)


def test_bidirectional_directions_equal_their_unidirectional_twins():
    """The forward direction reads dy_last/dh; the reverse one, in its own time, dy_first/dh,
    exactly what a one-way model with the reverse weights gives on the reversed sequence."""
    model, params = _model("gru", bidirectional=True)
    xs = _xs(4)
    sens = last_step_sensitivity(model, params, _batch(xs))
    one_way, _ = _model("gru")
    for name, reverse, inputs in (("layers.0", False, xs), ("layers.0.reverse", True, xs[::-1])):
        twin = {f"layers.0.{f}": params[f"{name}.{f}"] for f in ("W_x", "W_h", "b", "b_hn")}
        rows = slice(H, 2 * H) if reverse else slice(0, H)
        twin |= {"readout.W": params["readout.W"][rows], "readout.b": params["readout.b"]}
        expected = last_step_sensitivity(one_way, twin, _batch(inputs.copy()))
        np.testing.assert_allclose(sens.hidden[name], expected.hidden["layers.0"], rtol=1e-12)


def test_masked_batch_is_the_rms_of_each_sequence_alone():
    model, params = _model("lstm", num_layers=2)
    lengths = np.array([6, 4, 5])
    xs = _xs(5)
    mask = np.arange(T)[:, None] < lengths[None, :]
    sens = last_step_sensitivity(model, params, _batch(xs, mask))
    L = lengths.min()
    alone = [
        last_step_sensitivity(model, params, _batch(xs[: lengths[b], b : b + 1])) for b in range(B)
    ]
    for name in model.layer_prefixes():
        rms = np.sqrt(np.mean([a.hidden[name][:L] ** 2 for a in alone], axis=0))
        np.testing.assert_allclose(sens.hidden[name], rms, rtol=1e-12)
    rms = np.sqrt(np.mean([a.inputs[:L] ** 2 for a in alone], axis=0))
    np.testing.assert_allclose(sens.inputs, rms, rtol=1e-12)


def test_lag_profile_of_a_geometric_curve():
    profile = lag_profile(3.0 * 0.5 ** np.arange(30))
    assert profile.decay_factor == pytest.approx(0.5, rel=1e-12)
    assert profile.horizon == 9  # 0.5**9 = 2.0e-3 >= 1e-3 > 0.5**10
    assert not profile.reaches_start
    np.testing.assert_allclose(profile.ratios, 0.5 ** np.arange(30))


def test_lag_profile_horizon_is_the_first_crossing_and_bounds():
    profile = lag_profile(np.array([2.0, 1.0, 1e-4, 1.0, 0.0]), epsilon=1e-3)
    assert profile.horizon == 1 and not profile.reaches_start
    growing = lag_profile(1.1 ** np.arange(20))
    assert growing.decay_factor == pytest.approx(1.1, rel=1e-12)
    assert growing.horizon == 19 and growing.reaches_start


def test_lag_profile_fits_only_positive_finite_ratios():
    norms = 0.1 ** np.arange(8.0)
    norms[5:] = 0.0  # underflowed to zero: left out of the fit
    assert lag_profile(norms).decay_factor == pytest.approx(0.1, rel=1e-12)


def test_lag_profile_without_a_lag_zero_gradient():
    for first in (0.0, math.nan):
        profile = lag_profile(np.array([first, 1.0, 2.0]))
        assert profile.horizon == 0 and math.isnan(profile.decay_factor)
        assert np.isnan(profile.ratios).all()


def test_lag_profile_rejects_a_bad_epsilon():
    with pytest.raises(ValueError, match="`epsilon` must be in"):
        lag_profile(np.ones(3), epsilon=1.5)


def test_input_influence_recent_share():
    influence = input_influence(np.array([4.0, 3.0, 2.0, 1.0] + [0.0] * 16))
    assert influence.recent_steps == 2  # ceil(0.1 * 20)
    assert influence.recent_share == pytest.approx(0.7)
    assert math.isnan(input_influence(np.zeros(5)).recent_share)
