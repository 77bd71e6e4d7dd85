"""A user-defined cell (tests/linear_cell.py) through every path a built-in cell takes: Model,
full, truncated and checkpointed BPTT, train_step, the Trainer and the command line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bptt.engine.truncated import truncation, windows
from bptt.kernels import StepKernel, kernel_for
from bptt.model import Model, ModelConfig
from bptt.optim import adam
from bptt.testing import check_model_gradients
from bptt.train.state import init_state, train_step
from bptt.window import Batch, window_gradients

SPEC = "linear_cell:LinearCell"


@pytest.fixture(autouse=True)
def _importable(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parent))


def model(**changes):
    config = {"cell": SPEC, "input_size": 3, "hidden_size": 5, "output_size": 2, **changes}
    return Model(ModelConfig(**config))


def batch(T=9, B=4, seed=0):
    rng = np.random.default_rng(seed)
    return Batch(rng.standard_normal((T, B, 3)), rng.standard_normal((T, B, 2)))


def test_the_cell_runs_through_the_per_step_loop():
    m = model()
    assert type(m.cell).__name__ == "LinearCell"
    assert isinstance(kernel_for(m.cell, np.float64), StepKernel)
    params = m.init(np.random.default_rng(0), dtype=np.float64)
    assert {"layers.0.U", "layers.0.V", "layers.0.c", "readout.W"} <= set(params)


@pytest.mark.parametrize("layout", [{}, {"num_layers": 2, "bidirectional": True}])
def test_model_gradients_match_finite_differences(layout):
    errors = check_model_gradients(ModelConfig(cell=SPEC, input_size=3, hidden_size=4, **layout))
    assert max(errors.values()) < 1e-6


def test_checkpointed_and_truncated_with_k2_at_least_T_equal_full_bptt():
    m = model(num_layers=2)
    params = m.init(np.random.default_rng(1), dtype=np.float64)
    b = batch()
    T = b.inputs.shape[0]
    (full,) = windows(T, None)
    want = window_gradients(m, params, b, full, loss="mse")
    budgeted = window_gradients(m, params, b, full, loss="mse", memory_policy=2)
    (window,) = windows(T, truncation(T + 3))
    truncated = window_gradients(m, params, b, window, loss="mse")
    for name in params:
        np.testing.assert_allclose(budgeted.grads[name], want.grads[name], rtol=1e-10)
        np.testing.assert_allclose(truncated.grads[name], want.grads[name], rtol=1e-12)


def test_train_step_over_truncated_windows_lowers_the_loss():
    m = model()
    optimizer = adam(1e-2)
    state = init_state(m, optimizer, seed=0, dtype=np.float64)
    b = batch(T=12)
    losses = []
    for _ in range(30):  # passes over the sequence, the state carried from window to window
        state, total = state._replace(carries=None), 0.0
        for w in windows(12, truncation(4, 6)):
            state, metrics = train_step(state, b, w, model=m, optimizer=optimizer, loss="mse")
            total += metrics.loss
        losses.append(total)
    assert state.step == 90 and losses[-1] < 0.9 * losses[0]


def test_the_trainer_trains_and_resumes_the_user_cell_bit_for_bit(tmp_path):
    """Truncated BPTT on a text stream with checkpointed BPTT inside each window, resumed."""
    from bptt.train.checkpoint import load_checkpoint
    from bptt.train.config import resolve_config
    from bptt.train.trainer import Trainer, resume_config

    text = tmp_path / "notes.txt"
    text.write_text("the cat sat on the mat; the dog sat on the log.\n" * 40, encoding="utf-8")
    settings = {
        "task": "text",
        "text": str(text),
        "cell": SPEC,
        "hidden_size": 8,
        "embed_size": 4,
        "batch_size": 4,
        "k1": 5,
        "k2": 7,
        "steps": 12,
        "eval_every": 6,
        "checkpoint_every": 6,
        "memory_budget": "4KiB",  # a few stored states of this small model
        "sample_length": 0,
    }
    whole = Trainer(resolve_config(None, {**settings, "out": str(tmp_path / "whole")}))
    summary = whole.fit()
    assert summary["step"] == 12 and np.isfinite(summary["valid"]["bpc"])
    first = Trainer(resolve_config(None, {**settings, "steps": 6, "out": str(tmp_path / "a")}))
    first.fit()
    ckpt = load_checkpoint(tmp_path / "a")
    resumed = Trainer(resume_config(ckpt, {"steps": 12}), resume=ckpt)
    resumed.fit()
    for name, value in whole.state.params.items():
        np.testing.assert_array_equal(resumed.state.params[name], value)


def test_the_command_line_takes_the_user_cell(tmp_path, capsys):
    from bptt.cli import main

    out = tmp_path / "run"
    argv = ["train", "--task", "adding", "--seq-len", "12", "--cell", SPEC, "--hidden", "6"]
    argv += ["--steps", "4", "--eval-every", "2", "--eval-sequences", "20", "--out", str(out)]
    assert main(argv) == 0
    assert "validation mse" in capsys.readouterr().out
    assert main(["train", "--cell", "linear_cell:NoSuchCell", "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has no class 'NoSuchCell'" in err
