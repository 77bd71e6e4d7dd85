"""Verdicts and recommendations: the adding task at initialisation and synthetic curves."""

import math

import numpy as np
import pytest

from bptt.diagnostics import (
    EXPLODING,
    HEALTHY,
    NONFINITE,
    VANISHING,
    VerdictRules,
    diagnose,
    lag_profile,
    layer_verdict,
    recommendations,
)
from bptt.diagnostics.truncation import TruncationBias
from bptt.diagnostics.verdict import Verdict
from bptt.model import Model, ModelConfig
from bptt.train.tasks import sequence_task

SEQ_LEN = 100


def _adding(cell, *, radius=None, **config):
    task = sequence_task("adding", SEQ_LEN)
    model = Model(ModelConfig(cell=cell, hidden_size=16, **task.model_io(), **config))
    params = model.init(np.random.default_rng(1), dtype=np.float64)
    if radius is not None:
        W_h = params["layers.0.W_h"]
        params["layers.0.W_h"] = W_h * (radius / np.abs(np.linalg.eigvals(W_h)).max())
    batches = [task.draw(np.random.default_rng(i), 8) for i in range(3)]
    return diagnose(model, params, batches, loss=task.loss, sweep=[10, 50])


def test_tanh_rnn_forgets_sooner_than_lstm_with_forget_bias_one():
    rnn = _adding("rnn")
    lstm = _adding("lstm", forget_bias=1.0)
    rnn_lag, lstm_lag = rnn.lags["layers.0"], lstm.lags["layers.0"]
    assert rnn_lag.horizon < lstm_lag.horizon
    assert rnn_lag.decay_factor < lstm_lag.decay_factor < 1.0
    assert rnn.verdicts["layers.0"].verdict == VANISHING
    assert "Switch from rnn to lstm or gru" in rnn.recommendations[0]


def test_rnn_with_large_recurrent_weights_explodes():
    diagnosis = _adding("rnn", radius=3.0)
    verdict = diagnosis.verdicts["layers.0"]
    assert verdict.verdict == EXPLODING, verdict.evidence
    assert diagnosis.lags["layers.0"].decay_factor > 1.05
    assert diagnosis.weight_norms["layers.0"]["all"] >= 3.0  # sigma_max >= spectral radius
    assert "times the last step's" in verdict.evidence
    advice = diagnosis.recommendations
    assert advice[0].startswith("Exploding gradients in layers.0: shrink the recurrent weights")
    assert "these norms come from exploding gradients" in advice[-1]


def _profile(norms, epsilon=1e-3):
    return lag_profile(np.asarray(norms, dtype=np.float64), epsilon=epsilon)


def test_vanishing_verdict_quotes_the_numbers():
    verdict = layer_verdict("layers.0", _profile(0.7 ** np.arange(51)))
    assert verdict.verdict == VANISHING
    assert "the gradient reaching 50 steps back is 1.8e-08 of the last step's" in verdict.evidence
    assert "shrinks by a factor 0.7 per step" in verdict.evidence
    assert "for 19 of 50 steps (memory horizon 19, shorter than 0.5" in verdict.evidence


def test_exploding_by_factor_or_by_peak():
    assert layer_verdict("l", _profile(1.06 ** np.arange(20))).verdict == EXPLODING
    bump = np.ones(40)
    bump[5] = 12.0  # one lag at 12 times lag 0, no trend
    assert layer_verdict("l", _profile(bump)).verdict == EXPLODING
    strict = VerdictRules(explode_ratio=20.0)
    assert layer_verdict("l", _profile(bump), strict).verdict == HEALTHY


def test_healthy_and_the_vanishing_fraction():
    slow = _profile(0.99 ** np.arange(101))  # horizon >= 100: never below 1e-3
    verdict = layer_verdict("l", slow)
    assert verdict.verdict == HEALTHY and "the whole sequence: a lower bound" in verdict.evidence
    middling = _profile(0.9 ** np.arange(101))  # horizon 65 of 100
    assert layer_verdict("l", middling).verdict == HEALTHY
    assert layer_verdict("l", middling, VerdictRules(vanishing_fraction=0.8)).verdict == VANISHING


def test_nonfinite_and_absent_gradients():
    assert layer_verdict("l", _profile([1.0, np.nan, 0.5])).verdict == NONFINITE
    assert layer_verdict("l", _profile([1.0, np.inf])).verdict == NONFINITE
    absent = layer_verdict("l", _profile([0.0, 0.0, 0.0]))
    assert absent.verdict == VANISHING and "no gradient" in absent.evidence


def test_recommendations_per_cell():
    lags = {"layers.0": _profile(0.7 ** np.arange(100))}
    verdicts = {"layers.0": layer_verdict("layers.0", lags["layers.0"])}
    rnn = recommendations("rnn", verdicts, seq_len=100, epsilon=1e-3, lags=lags)
    assert rnn == [
        "Switch from rnn to lstm or gru: the memory horizon of layers.0 is 19 of 99 steps."
    ]
    healthy = {"layers.0": layer_verdict("layers.0", _profile(np.ones(100)))}
    assert recommendations("gru", healthy, seq_len=100, epsilon=1e-3)[0].startswith(
        "Architecture: no change needed"
    )
    nan = {"layers.0": layer_verdict("layers.0", _profile([1.0, math.nan]))}
    assert recommendations("lstm", nan, seq_len=2, epsilon=1e-3)[0].startswith(
        "Gradients are not finite"
    )


def _bias(k=1, T=100):
    ks = np.array([1, 5, 25, T])
    cosine = np.array([0.95, 0.97, 0.99, 1.0])
    return TruncationBias(ks, cosine, np.ones(4), {}, 0.9, k)


def test_the_window_is_never_advised_below_the_tasks_span_or_a_vanishing_current_one():
    vanishing = {"layers.0": Verdict("layers.0", VANISHING, "")}
    common = {"seq_len": 100, "epsilon": 1e-3, "truncation": _bias()}
    plain = recommendations("lstm", vanishing, **common)
    assert any(a.startswith("Truncate BPTT at k = 1 ") for a in plain)
    adding = recommendations("lstm", vanishing, dependency_span=100, **common)
    assert not any("Truncate BPTT at k = 1" in a for a in adding)
    window = next(a for a in adding if a.startswith("Keep"))
    assert window.startswith("Keep full BPTT: the task's targets depend on inputs up to 100")
    assert "bptt diagnose --checkpoint" in window
    trained = recommendations("lstm", vanishing, current_window=50, **common)
    assert any(a.startswith("Keep BPTT over at least 50 steps") for a in trained)
    healthy = {"layers.0": Verdict("layers.0", HEALTHY, "")}
    assert any(
        a.startswith("Truncate BPTT at k = 1 ")
        for a in recommendations("lstm", healthy, current_window=50, **common)
    )


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_diagnose_on_a_synthetic_task_keeps_its_span(cell, tmp_path, capsys):
    from bptt.cli import main

    argv = ["diagnose", "--task", "adding", "--seq-len", "30", "--cell", cell, "--batches", "1"]
    assert main([*argv, "--out", str(tmp_path / "report")]) == 0
    out = capsys.readouterr().out
    assert "Truncate BPTT at k" not in out and "Keep full BPTT" in out
