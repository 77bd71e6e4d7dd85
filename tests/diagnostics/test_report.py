"""diagnose, compare and the report files: HTML, JSON, PNG, the terminal table, bad input."""

import base64
import json
import re

import numpy as np
import pytest
from matplotlib.image import imread

from bptt.diagnostics import (
    NONFINITE,
    compare,
    diagnose,
    report_data,
    summary_table,
    write_report,
)
from bptt.model import Model, ModelConfig
from bptt.train.tasks import sequence_task

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _adding_models(*cells, seq_len=30):
    task = sequence_task("adding", seq_len)
    models = {}
    for cell in cells:
        model = Model(ModelConfig(cell=cell, hidden_size=8, **task.model_io()))
        models[cell] = (model, model.init(np.random.default_rng(0), dtype=np.float64))
    batches = [task.draw(np.random.default_rng(i), 4) for i in range(3)]
    return models, batches, task.loss


@pytest.fixture(scope="module")
def two_models():
    models, batches, loss = _adding_models("rnn", "lstm")
    return compare(models, batches, loss=loss)


@pytest.fixture(scope="module")
def report(two_models, tmp_path_factory):
    return write_report(two_models, tmp_path_factory.mktemp("report") / "new" / "folder")


def test_report_files_are_self_contained(report):
    paths = report
    page = paths.html.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == len(paths.figures) == 7
    assert all(base64.b64decode(i).startswith(PNG_SIGNATURE) for i in images)
    for external in ("http://", "https://", "<link", "<script", "url(", 'src="/', 'src="file'):
        assert external not in page
    # The summary comes first, then the recommendations, then the figures with captions.
    assert page.index("<h2>Summary</h2>") < page.index("<h2>Recommendations</h2>")
    assert page.index("<h2>Recommendations</h2>") < page.index("<h2>Figures</h2>")
    assert page.count("<figcaption>") == 7
    assert "vanishing" in page and "Switch from rnn to lstm or gru" in page
    for png in paths.figures.values():
        assert png.read_bytes().startswith(PNG_SIGNATURE)
        image = imread(png)
        assert image.ndim == 3 and min(image.shape[:2]) > 100


def test_json_holds_every_number(two_models, report):
    data = json.loads(report.json.read_text(encoding="utf-8"))
    assert data["format"] == "bptt-diagnosis" and set(data["models"]) == {"rnn", "lstm"}
    lstm = data["models"]["lstm"]
    assert lstm["lags"]["layers.0"]["horizon"] == two_models["lstm"].lags["layers.0"].horizon
    assert len(lstm["truncation"]["cosine"]) == len(two_models["lstm"].truncation.ks)
    assert lstm["saturation"]["layers.0"]["f"]["kind"] == "sigmoid"
    figures = data["figures"]
    assert set(figures) == set(report.figures)
    lag = figures["gradient_vs_lag"]["series"]
    assert {s["model"] for s in lag} == {"rnn", "lstm"} and len(lag[0]["y"]) == 30
    assert data == json.loads(json.dumps(report_data(two_models), allow_nan=False))


def test_summary_table(two_models):
    text = summary_table(two_models)
    header, rule, *rows = text.splitlines()[:4]
    assert header.split()[:3] == ["model", "layer", "verdict"] and set(rule) <= {"-", " "}
    assert rows[0].split()[:3] == ["rnn", "layers.0", "vanishing"]
    assert rows[1].split()[:2] == ["lstm", "layers.0"]
    assert "Recommendations:" in text and "Clip the global gradient norm at" in text


def test_nan_gradients_are_a_finding_not_a_crash(tmp_path):
    models, batches, loss = _adding_models("gru")
    model, params = models["gru"]
    params["layers.0.W_h"][2, 3] = np.nan
    diagnosis = diagnose(model, params, batches, loss=loss)
    assert not diagnosis.finite
    assert diagnosis.findings[0].startswith("parameters are not finite: layers.0.W_h (1 of")
    assert diagnosis.findings[1].startswith("gradients are not finite: 3 of 3 batches")
    assert diagnosis.verdicts["layers.0"].verdict == NONFINITE
    assert diagnosis.recommendations[0].startswith("Gradients are not finite")
    assert diagnosis.lags is None and diagnosis.truncation is None
    assert "non-finite" in summary_table(diagnosis)
    paths = write_report(diagnosis, tmp_path)
    assert "gradients are not finite" in paths.html.read_text(encoding="utf-8")
    json.loads(paths.json.read_text(encoding="utf-8"))


def test_bad_sweep_raises_before_any_work():
    models, batches, loss = _adding_models("rnn")
    model, params = models["rnn"]
    with pytest.raises(ValueError, match=r"`sweep` holds 31, longer than the sequence \(T=30"):
        diagnose(model, params, batches, loss=loss, sweep=[5, 31])


def test_models_without_per_step_outputs_are_refused():
    model = Model(
        ModelConfig(cell="lstm", input_size=2, hidden_size=4, output_size=1, readout="last")
    )
    params = model.init(np.random.default_rng(0), dtype=np.float64)
    batch = sequence_task("adding", 10).draw(np.random.default_rng(0), 2)
    with pytest.raises(ValueError, match="readout='last'"):
        diagnose(model, params, batch, loss="mse")


def test_token_bidirectional_masked_model(tmp_path):
    """The temporal-order task: token ids, padded sequences, a two-layer bidirectional GRU."""
    task = sequence_task("temporal", 10)  # lengths 10 or 11
    config = ModelConfig(
        cell="gru", hidden_size=6, embed_size=5, num_layers=2, bidirectional=True, **task.model_io()
    )
    model = Model(config)
    params = model.init(np.random.default_rng(0), dtype=np.float64)
    batch = task.draw(np.random.default_rng(3), 4)
    diagnosis = diagnose(model, params, [batch], loss=task.loss, sweep=[3])
    shortest = int(batch.mask.sum(axis=0).min())
    assert set(diagnosis.lags) == set(model.layer_prefixes())
    assert all(len(p.norms) == shortest for p in diagnosis.lags.values())
    assert len(diagnosis.influence.norms) == shortest
    assert diagnosis.truncation.ks.tolist() == [3, batch.inputs.shape[0]]
    write_report(diagnosis, tmp_path)
