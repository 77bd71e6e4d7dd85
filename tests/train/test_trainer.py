"""The trainer: exact resume, checkpoints, non-finite updates, early stopping, learning."""

import io
import json

import numpy as np
import pytest

from bptt.data.synthetic import ADDING_BASELINE_MSE, copy_baseline
from bptt.train.checkpoint import list_checkpoints, load_checkpoint
from bptt.train.resume import resume_config
from bptt.train.trainer import Trainer, TrainingDivergedError


def _fit(config, resume=None):
    trainer = Trainer(config, resume=resume, stream=io.StringIO())
    trainer.fit()
    return trainer


def _assert_same_state(a, b):
    assert a.step == b.step and a.cursor == b.cursor
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])
    from bptt.train.checkpoint import flatten

    for x, y in zip(flatten(a.opt_state), flatten(b.opt_state), strict=True):
        np.testing.assert_array_equal(x, y)
    assert (a.carries is None) == (b.carries is None)
    for ca, cb in zip(a.carries or (), b.carries or (), strict=True):
        for x, y in zip(ca, cb, strict=True):
            np.testing.assert_array_equal(x, y)
    assert a.rng_state == b.rng_state


@pytest.mark.parametrize(
    "changes",
    [
        {"task": "text"},  # stream, carried state, document resets
        {
            "task": "adding",
            "seq_len": 12,
            "k1": 3,
            "k2": 5,
            "dropout": 0.2,
            "num_layers": 2,
            "cell": "gru",
        },  # overlapping windows, dropout RNG, several windows per batch
        {"task": "copy", "seq_len": 4, "k1": 3, "k2": 7},  # windows restarting at step 0
    ],
    ids=["text-stream", "adding-k1<k2-dropout", "copy-k2>=2k1"],
)
def test_resume_is_bit_for_bit(tmp_path, make_config, text_file, changes):
    changes = {**changes, "text": str(text_file) if changes["task"] == "text" else None}
    straight = _fit(make_config("straight", **changes))
    first = _fit(make_config("split", **changes, steps=8, checkpoint_every=8))
    ckpt = load_checkpoint(tmp_path / "split")
    assert ckpt.meta["step"] == 8
    config = resume_config(ckpt, {"steps": 12})
    resumed = _fit(config, resume=ckpt)
    assert first.state.step == 8
    _assert_same_state(resumed.state, straight.state)


def _as_older_versions_saved_it(path):
    """Rewrite a checkpoint's config the way earlier versions spelt full BPTT: k1 = k2 = 0."""
    with np.load(path) as data:
        arrays = {key: data[key] for key in data.files}
    meta = json.loads(str(arrays["meta"]))
    assert meta["config"].pop("bptt") == "full"
    meta["config"].update(k1=0, k2=0)
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)


def test_a_checkpoint_of_an_older_version_resumes_bit_for_bit(tmp_path, make_config):
    changes = {"task": "adding", "seq_len": 6, "bptt": "full", "dropout": 0.1}
    straight = _fit(make_config("straight", **changes))
    _fit(make_config("split", **changes, steps=8, checkpoint_every=8))
    path = list_checkpoints(tmp_path / "split" / "checkpoints")[-1]
    _as_older_versions_saved_it(path)
    ckpt = load_checkpoint(path)
    assert (ckpt.meta["config"]["k1"], ckpt.meta["config"]["k2"]) == (0, 0)
    config = resume_config(ckpt, {"steps": 12})
    assert config.full_bptt
    resumed = _fit(config, resume=ckpt)
    _assert_same_state(resumed.state, straight.state)


def test_resuming_refuses_another_truncation(tmp_path, make_config):
    _fit(make_config("run", task="adding", seq_len=6, steps=4))
    ckpt = load_checkpoint(tmp_path / "run")
    assert resume_config(ckpt, {"k1": 8, "k2": None, "bptt": None}).truncation == (8, 8)
    with pytest.raises(ValueError, match=r"truncation=Truncation\(k1=8, k2=8\) in the checkpoint"):
        resume_config(ckpt, {"k2": 9})


def test_checkpoints_hold_everything_and_keep_the_last_k(make_config, text_file):
    trainer = _fit(make_config(task="text", text=str(text_file), keep_checkpoints=2))
    paths = list_checkpoints(trainer.checkpoints)
    assert [p.name for p in paths] == ["ckpt-00000008.npz", "ckpt-00000012.npz"]
    ckpt = load_checkpoint(paths[-1])
    for key in ("step", "cursor", "rng_state", "config", "vocab", "format_version", "model_config"):
        assert key in ckpt.meta
    assert ckpt.meta["vocab"] == trainer.task.vocab.to_list()
    assert ckpt.carries is not None and set(ckpt.carries[0]) == {"h", "c"}
    records = [
        json.loads(line) for line in (trainer.out / "metrics.jsonl").read_text().splitlines()
    ]
    assert {r["event"] for r in records} == {"train", "eval"}
    assert [r["step"] for r in records if r["event"] == "eval"] == [6, 12]


def test_nonfinite_updates_are_skipped_then_stop_the_run(make_config):
    config = make_config(
        task="adding",
        seq_len=10,
        learning_rate=1e30,
        clip=0.0,
        optimizer="sgd",
        cell="relu",
        max_nonfinite=3,
        steps=50,
    )
    trainer = Trainer(config, stream=io.StringIO())
    with (
        pytest.raises(TrainingDivergedError, match="3 non-finite updates in a row at step"),
        np.errstate(over="ignore", invalid="ignore"),
    ):
        trainer.fit()
    assert trainer.state.nonfinite_total == 3
    records = (trainer.out / "metrics.jsonl").read_text().splitlines()
    assert sum('"nonfinite"' in r for r in records) == 3


def test_early_stopping(make_config, monkeypatch):
    config = make_config(task="adding", seq_len=10, patience=2, eval_every=2, steps=40)
    trainer = Trainer(config, stream=io.StringIO())
    scores = iter([0.5, 0.4, 0.45, 0.41, 0.3])  # best at step 4, then two without a gain
    monkeypatch.setattr(trainer, "evaluate", lambda split="valid": {"mse": next(scores), "loss": 0})
    summary = trainer.fit()
    assert summary["stopped_early"] and trainer.state.step == 8
    assert trainer.best == 0.4
    assert list_checkpoints(trainer.checkpoints)[-1].name == "ckpt-00000008.npz"


def test_adding_learns_well_below_the_baseline(make_config):
    config = make_config(
        task="adding",
        seq_len=10,
        bptt="full",
        hidden_size=32,
        batch_size=32,
        steps=400,
        learning_rate=5e-3,
        clip=1.0,
        eval_every=400,
        eval_sequences=500,
    )
    result = _fit(config).evaluate("valid")
    assert result["mse"] < 0.2 * ADDING_BASELINE_MSE


def test_copy_learns_below_the_memoryless_baseline(make_config):
    config = make_config(
        task="copy",
        seq_len=5,
        bptt="full",
        hidden_size=64,
        batch_size=32,
        steps=400,
        learning_rate=1e-2,
        clip=1.0,
        eval_every=400,
        eval_sequences=200,
    )
    result = _fit(config).evaluate("valid")
    assert result["nats"] < 0.85 * copy_baseline(5)


def test_temporal_order_learns_above_chance(make_config):
    config = make_config(
        task="temporal",
        seq_len=12,
        bptt="full",
        hidden_size=32,
        batch_size=32,
        steps=300,
        learning_rate=1e-2,
        eval_every=300,
        eval_sequences=400,
    )
    result = _fit(config).evaluate("valid")
    assert result["accuracy"] > 0.9


def test_text_learns_below_the_unigram_baseline(make_config, text_file):
    config = make_config(
        task="text",
        text=str(text_file),
        hidden_size=64,
        batch_size=8,
        k1=16,
        k2=16,
        steps=150,
        learning_rate=1e-2,
        eval_every=150,
    )
    trainer = _fit(config)
    assert trainer.evaluate("valid")["bpc"] < trainer.task.metric.baseline - 0.7
