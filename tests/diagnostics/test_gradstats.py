"""Per-step gradient norms, gradient-norm statistics and update ratios, against brute force."""

import math

import numpy as np
import pytest
from diagnostics_reference import fd_step_gradient_norms

from bptt.diagnostics import batch_gradient, gradient_norm_stats, update_ratios
from bptt.engine.truncated import Window
from bptt.model import Model, ModelConfig
from bptt.window import Batch, window_gradients

T, B, D, H = 5, 3, 4, 6


def _setup(cell, seed=0):
    rng = np.random.default_rng(seed)
    model = Model(ModelConfig(cell=cell, input_size=D, hidden_size=H, num_layers=2, output_size=2))
    params = model.init(rng, dtype=np.float64)
    loss_mask = rng.random((T, B)) < 0.7
    batch = Batch(rng.standard_normal((T, B, D)), rng.standard_normal((T, B, 2)), loss_mask)
    return model, params, batch


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_step_norms_match_finite_differences(cell):
    model, params, batch = _setup(cell)
    flow = batch_gradient(model, params, batch, loss="mse")
    reference = fd_step_gradient_norms(model, params, batch, "mse")
    for name in model.layer_prefixes():
        np.testing.assert_allclose(flow.step_norms[name], reference[name], rtol=1e-6, atol=1e-12)


def test_batch_gradient_is_the_full_bptt_window_gradient():
    model, params, batch = _setup("lstm", seed=1)
    flow = batch_gradient(model, params, batch, loss="mse")
    window = window_gradients(model, params, batch, Window(0, 0, T, T), loss="mse")
    assert flow.loss == pytest.approx(window.loss) and flow.count == window.count
    for name in params:
        np.testing.assert_allclose(flow.grads[name], window.grads[name], rtol=1e-12)


def test_batch_gradient_of_a_nan_model_is_nan():
    model, params, batch = _setup("gru")
    params["layers.1.W_h"][0, 0] = np.nan
    flow = batch_gradient(model, params, batch, loss="mse")
    assert all(np.isnan(g).all() for g in flow.grads.values())
    assert np.isnan(flow.step_norms["layers.0"]).all()


def _grads(scale, rng):
    return {"a": scale * rng.standard_normal((3, 2)), "b": scale * rng.standard_normal(4)}


def test_gradient_norm_stats_against_brute_force():
    rng = np.random.default_rng(0)
    grads = [_grads(s, rng) for s in (1.0, 1.2, 0.9, 8.0, 1.1)]
    stats = gradient_norm_stats(grads)
    norms = np.array([math.sqrt(sum(np.sum(v**2) for v in g.values())) for g in grads])
    np.testing.assert_allclose(stats.norms, norms, rtol=1e-12)
    np.testing.assert_allclose(stats.param_norms["a"], [np.linalg.norm(g["a"]) for g in grads])
    for q in (5, 25, 50, 75, 95):
        assert stats.percentiles[f"p{q}"] == pytest.approx(np.percentile(norms, q))
    assert stats.percentiles["max"] == pytest.approx(norms.max())
    assert stats.mean == pytest.approx(norms.mean())
    median = np.median(norms)
    assert stats.spikes.tolist() == np.flatnonzero(norms > 3 * median).tolist() == [3]
    assert stats.clip_threshold == pytest.approx(2 * median)
    assert stats.nonfinite.size == 0


def test_gradient_norm_stats_leave_out_nonfinite_batches():
    rng = np.random.default_rng(1)
    grads = [_grads(1.0, rng) for _ in range(4)]
    grads[2]["b"][0] = np.inf
    grads[3]["a"][1, 1] = np.nan
    stats = gradient_norm_stats(grads)
    assert stats.nonfinite.tolist() == [2, 3]
    finite = stats.norms[:2]
    assert stats.percentiles["p50"] == pytest.approx(np.median(finite))
    assert stats.clip_threshold == pytest.approx(2 * np.median(finite))
    all_bad = gradient_norm_stats([grads[3]])
    assert math.isnan(all_bad.clip_threshold) and all_bad.spikes.size == 0
    with pytest.raises(ValueError, match="`grads` is empty"):
        gradient_norm_stats([])


def test_update_ratios():
    rng = np.random.default_rng(2)
    params = {"W": rng.standard_normal((4, 3)), "b": np.zeros(3)}
    updates = {"W": 1e-3 * rng.standard_normal((4, 3)), "b": 1e-3 * rng.standard_normal(3)}
    ratios = update_ratios(updates, params)
    expected = math.log10(np.std(updates["W"]) / np.std(params["W"]))
    assert ratios["W"] == pytest.approx(expected)
    assert math.isnan(ratios["b"])  # a constant array has no spread to compare with
    with pytest.raises(ValueError, match="`updates` lacks"):
        update_ratios({"W": updates["W"]}, params)
