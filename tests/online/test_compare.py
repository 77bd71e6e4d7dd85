"""compare_estimators: exact ones at cosine 1, random ones averaged, costs of the right order."""

import json

import numpy as np
import pytest
from online_reference import make

from bptt.errors import BpttError
from bptt.model import Model, ModelConfig
from bptt.online import make_estimator
from bptt.online.compare import compare_estimators, record_steps, run_estimator
from bptt.window import Batch


def test_exact_estimators_agree_and_random_ones_are_averaged():
    model, params, batch = make("lstm")
    names = ["bptt", "rtrl", "snap2", "tbptt:2", "uoro", "artbp:3"]
    result = compare_estimators(model, params, batch, names, loss="mse", draws=5)
    reports = {r.name: r for r in result.reports}
    assert list(reports) == names and result.steps == 5 and result.batch_size == 3
    for name in ("bptt", "rtrl", "snap2"):
        r = reports[name]
        assert r.draws == 1 and r.bias < 1e-10 and r.variance == 0.0
        assert r.cosine == pytest.approx(1.0, abs=1e-12)
        assert r.field_cosine["W_h"] == pytest.approx(1.0, abs=1e-12)
    assert 0.0 < reports["tbptt:2"].cosine < 1.0 and reports["tbptt:2"].bias > 1e-3
    for name in ("uoro", "artbp:3"):
        r = reports[name]
        assert r.draws == 5 and r.variance > 0 and r.bias_stderr > 0
    assert all(r.seconds_per_step > 0 and r.state_bytes > 0 for r in result.reports)
    json.dumps(result.to_dict())  # the JSON report holds plain values only


def _state_bytes(spec, cell, hidden):
    model = Model(ModelConfig(cell=cell, input_size=1, hidden_size=hidden, output_size=1))
    params = model.init(np.random.default_rng(0), dtype=np.float64)
    batch = Batch(np.ones((4, 1, 1)), np.ones((4, 1, 1)))
    recorded = record_steps(model, params, batch, loss="mse")
    estimator = make_estimator(spec)
    return run_estimator(model, params, recorded, estimator, np.random.default_rng(0))[2]


@pytest.mark.parametrize(
    ("spec", "cell", "low", "high"),
    [  # memory order in H: RTRL n^3, UORO / SnAp-1 / e-prop n^2, a K-step buffer n
        ("rtrl", "rnn", 2.7, 3.0),
        ("rtrl", "lstm", 2.7, 3.0),
        ("uoro", "gru", 1.7, 2.0),
        ("snap1", "lstm", 1.7, 2.0),
        ("eprop", "lstm", 1.7, 2.0),
        ("tbptt:8", "rnn", 0.7, 1.0),
    ],
)
def test_memory_per_sequence_grows_with_its_stated_order(spec, cell, low, high):
    exponent = np.log2(_state_bytes(spec, cell, 32) / _state_bytes(spec, cell, 16))
    assert low <= exponent <= high


def test_token_ids_are_one_hot_inputs():
    model = Model(ModelConfig(cell="gru", input_size=5, hidden_size=4, output_size=3))
    params = model.init(np.random.default_rng(0), dtype=np.float64)
    rng = np.random.default_rng(1)
    ids, targets = rng.integers(0, 5, (6, 2)), rng.integers(0, 3, (6, 2))
    floats = Batch(np.eye(5)[ids], targets)
    a = compare_estimators(model, params, Batch(ids, targets), ["rtrl"], loss="xent")
    b = compare_estimators(model, params, floats, ["rtrl"], loss="xent")
    assert a.exact_norm == b.exact_norm and a.loss == b.loss


def test_bad_requests():
    model, params, batch = make("rnn")
    with pytest.raises(BpttError, match="`draws` must be an integer >= 2"):
        compare_estimators(model, params, batch, ["uoro"], loss="mse", draws=1)
    padded = batch._replace(mask=np.arange(5)[:, None] < np.array([5, 3, 4]))
    with pytest.raises(BpttError, match="this batch has padded steps"):
        compare_estimators(model, params, padded, ["uoro"], loss="mse")
    silent = batch._replace(loss_mask=np.zeros((5, 3), dtype=bool))
    with pytest.raises(BpttError, match="no loss position"):
        compare_estimators(model, params, silent, ["uoro"], loss="mse")
    two_layers = Model(
        ModelConfig(cell="rnn", input_size=4, hidden_size=6, output_size=2, num_layers=2)
    )
    with pytest.raises(BpttError, match=r"one unidirectional recurrent layer.*num_layers=2"):
        compare_estimators(
            two_layers, two_layers.init(np.random.default_rng(0)), batch, [], loss="mse"
        )
