"""Online training: when updates happen, what they apply, and the loop over a task."""

import numpy as np
import pytest
from online_reference import LAYER, exact, make

from bptt.errors import BpttError
from bptt.model import Model, ModelConfig
from bptt.online import make_estimator
from bptt.online.tasks import for_online
from bptt.online.train import init_online, online_sequence, start_sequence, train_online
from bptt.optim import adam, sgd
from bptt.train.tasks import sequence_task, text_file_task


def _run(spec, every=1, optimizer=None, limit=None, masks=None, cell="rnn", params=None):
    model, default, batch = make(cell)
    batch = batch._replace(loss_mask=None)  # a loss at every step
    params = default if params is None else params
    optimizer = optimizer or sgd(0.1)
    estimator = make_estimator(spec)
    state = init_online(model, params, estimator, optimizer, 3, np.random.default_rng(0))
    state, metrics = online_sequence(
        model, estimator, optimizer, state, batch, loss="mse", every=every, masks=masks, limit=limit
    )
    return model, params, batch, state, metrics


@pytest.mark.parametrize(
    ("spec", "every", "updates"),
    [
        ("rtrl", 1, 5),
        ("uoro", 2, 3),
        ("snap1", 3, 2),
        ("tbptt:2", 1, 3),
        ("tbptt:2", 3, 2),
        ("bptt", 1, 1),
    ],
)
def test_updates_come_every_k_steps_once_the_estimator_has_emitted(spec, every, updates):
    state, metrics = _run(spec, every=every)[3:]
    assert state.updates == metrics.updates == updates and state.time_steps == 5
    assert metrics.count == 15 and np.isfinite(metrics.loss_sum)


def test_the_first_online_update_is_a_step_along_the_first_steps_exact_gradient():
    model, params, batch, state, _ = _run("rtrl", limit=1)
    g = exact(model, params, batch.slice(0, 1))
    for name, value in params.items():
        np.testing.assert_allclose(state.params[name], value - 0.1 * g[name], rtol=1e-12)


def test_bptt_online_is_one_step_along_the_sequences_exact_gradient():
    model, params, batch, state, _ = _run("bptt")
    g = exact(model, params, batch)
    for name, value in params.items():
        np.testing.assert_allclose(state.params[name], value - 0.1 * g[name], rtol=1e-12)


@pytest.mark.parametrize(("spec", "cell"), [("rtrl", "gru"), ("snap2", "lstm"), ("bptt", "rnn")])
def test_a_new_sequence_starts_the_estimator_afresh(spec, cell):
    # Two sequences in a row, one update at the end of each: the second is along the second
    # sequence's exact gradient at the parameters the first one left: nothing carried over.
    model, params, batch = make(cell)
    other = make(cell, seed=4)[2]
    estimator, optimizer = make_estimator(spec), sgd(0.1)
    state = init_online(model, params, estimator, optimizer, 3, np.random.default_rng(0))
    state = online_sequence(model, estimator, optimizer, state, batch, loss="mse", every=99)[0]
    middle = state.params
    state = start_sequence(model, estimator, state, 3)
    state = online_sequence(model, estimator, optimizer, state, other, loss="mse", every=99)[0]
    g = exact(model, middle, other)
    for name, value in middle.items():
        np.testing.assert_allclose(state.params[name], value - 0.1 * g[name], rtol=1e-10)


def test_random_feedback_is_drawn_once_per_run():
    model, params, batch = make("lstm")
    estimator, optimizer = make_estimator("eprop-random"), sgd(0.1)
    state = init_online(model, params, estimator, optimizer, 3, np.random.default_rng(0))
    first = state.estimator_state.feedback
    for _ in range(2):
        state = start_sequence(model, estimator, state, 3)
        state = online_sequence(model, estimator, optimizer, state, batch, loss="mse")[0]
    assert state.estimator_state.feedback is first


def test_masks_keep_a_sparse_recurrent_matrix_sparse():
    params = make("rnn")[1]
    mask = np.random.default_rng(3).random(params[f"{LAYER}.W_h"].shape) < 0.5
    params = params | {f"{LAYER}.W_h": params[f"{LAYER}.W_h"] * mask}
    masks = {f"{LAYER}.W_h": mask.astype(float)}
    state = _run("snap2", optimizer=adam(0.1), masks=masks, params=params)[3]
    W_h = state.params[f"{LAYER}.W_h"]
    assert np.all(W_h[~mask] == 0) and not np.allclose(W_h[mask], params[f"{LAYER}.W_h"][mask])


def test_train_online_on_a_sequence_task_learns_and_reports():
    task = for_online(sequence_task("copy", 2))
    model = Model(ModelConfig(cell="gru", hidden_size=8, **task.model_io()))
    params = model.init(np.random.default_rng(0), dtype=np.float64)
    seen = []
    trained, records = train_online(
        model,
        params,
        task,
        make_estimator("rtrl"),
        adam(0.02),
        updates=60,
        batch_size=4,
        evaluate=lambda p: {"calls": 1.0},
        eval_every=30,
        on_record=seen.append,
    )
    assert records == seen
    train = [r for r in records if r["kind"] == "train"]
    evals = [r for r in records if r["kind"] == "eval"]
    # Evaluated at the end of the sequence (22 steps) in which the 30th update happened.
    assert train[-1]["update"] == 60 and [r["update"] for r in evals] == [44, 60]
    assert np.mean([r["loss"] for r in train[-3:]]) < train[0]["loss"]
    assert not np.allclose(trained[f"{LAYER}.W_h"], params[f"{LAYER}.W_h"])


def test_train_online_reads_a_text_in_chunks(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("to be or not to be, that is the question. " * 30, encoding="utf-8")
    task = for_online(text_file_task(path, 2))

    model = Model(ModelConfig(cell="lstm", hidden_size=4, **task.model_io()))
    params = model.init(np.random.default_rng(0), dtype=np.float64)
    _, records = train_online(
        model,
        params,
        task,
        make_estimator("tbptt:5"),
        adam(0.01),
        updates=12,
        batch_size=2,
        chunk=20,
    )
    steps = [r["time_steps"] for r in records]
    assert steps[:3] == [20, 40, 60] and records[-1]["update"] == 12


def test_bad_settings():
    with pytest.raises(BpttError, match="`every` must be an integer >= 1"):
        _run("rtrl", every=0)
    model, params, _ = make("rnn")
    with pytest.raises(BpttError, match="`updates` must be an integer >= 1"):
        train_online(model, params, None, make_estimator("rtrl"), sgd(0.1), updates=0, batch_size=1)
