"""The classification recipe in the Trainer: readouts over time, bidirectional layers,
patches, augmentation and the cosine schedule; exact resume; the settings it refuses."""

import importlib.util
import io

import numpy as np
import pytest

from bptt.engine.truncated import windows
from bptt.losses import softmax_cross_entropy
from bptt.model import Model, ModelConfig
from bptt.train.checkpoint import load_checkpoint
from bptt.train.classification import ClassificationTask, sequence_split, with_recipe
from bptt.train.config import resolve_config
from bptt.train.evaluate import loss_sums
from bptt.train.resume import resume_config
from bptt.train.tasks import Metric
from bptt.train.trainer import Trainer
from bptt.window import window_gradients

needs_aeon = pytest.mark.skipif(
    importlib.util.find_spec("aeon") is None, reason="pip install 'bptt[timeseries]'"
)
RECIPE = {
    "readout": "meanmax",
    "bidirectional": True,
    "readout_dropout": 0.2,
    "max_steps": 8,
    "jitter": 0.05,
    "crop": 0.8,
    "lr_schedule": "cosine",
    "hidden_size": 8,
    "eval_every": 3,
    "log_every": 100,
    "sample_length": 0,
}


def _toy_task(T=10, n=12, D=2):
    rng = np.random.default_rng(0)
    lengths = rng.integers(4, T + 1, n)
    labels = np.arange(n) % 3
    sequences = [rng.standard_normal((L, D)) + c for L, c in zip(lengths, labels, strict=True)]
    split = sequence_split(sequences, labels)
    metric = Metric("accuracy", 1 / 3, "chance", False)
    return ClassificationTask("toy", {"train": split, "valid": split, "test": split},
                              ("a", "b", "c"), metric)  # fmt: skip


@pytest.mark.parametrize("readout", ["last", "mean", "max", "meanmax", "attention"])
def test_a_sequence_readout_trains_on_its_loss_positions(readout):
    """window_gradients on a readout per sequence equals the loss of the (B, O) outputs."""
    task = _toy_task()
    batch = task.train_batch(seed=0, index=0, batch_size=5)
    cfg = ModelConfig(cell="gru", input_size=2, hidden_size=5, output_size=3, readout=readout,
                      bidirectional=True)  # fmt: skip
    model = Model(cfg)
    params = model.init(np.random.default_rng(1), dtype=np.float64)
    (window,) = windows(batch.inputs.shape[0], None)
    result = window_gradients(model, params, batch, window, loss="xent")
    logits, _, cache = model.forward(params, batch.inputs.astype(np.float64), mask=batch.mask)
    assert batch.loss_mask.sum(axis=0).tolist() == [1] * 5  # one loss position per sequence
    labels = batch.targets.T[batch.loss_mask.T]  # (B,) in column order
    value, dlogits = softmax_cross_entropy(logits, labels)
    grads, _, _ = model.backward(params, cache, dlogits)
    assert result.loss == pytest.approx(value, rel=1e-12)
    for name, g in grads.items():
        np.testing.assert_allclose(result.grads[name], g, rtol=1e-10, atol=1e-14)
    summed, count, _ = loss_sums("xent", result.outputs, batch)
    assert count == 5 and summed / count == pytest.approx(value, rel=1e-12)


def test_patches_and_augmentation_are_pure_functions_of_seed_and_index():
    task = with_recipe(_toy_task(), type("C", (), {"max_steps": 4, "jitter": 0.1, "crop": 0.5}))
    assert task.patch == 3 and task.model_io()["input_size"] == 6 and task.steps(4) == 4
    a = task.train_batch(seed=1, index=2, batch_size=4)
    b = task.train_batch(seed=1, index=2, batch_size=4)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    plain = with_recipe(_toy_task(), object())  # a config without the settings: all off
    assert (plain.patch, plain.jitter, plain.crop) == (1, 0.0, 1.0)
    (test,) = task.eval_batches("test", seed=0, batch_size=250, num_sequences=1)
    assert test.inputs.shape == (4, 12, 6)  # patched, not augmented


def _fit(tmp_path, out, *, resume=None, **changes):
    settings = {"task": "ucr:ItalyPowerDemand", "out": str(tmp_path / out), **RECIPE}
    settings.update({"checkpoint_every": 10_000, **changes})
    config = resolve_config(settings)
    if resume is not None:
        config = resume_config(resume, {"steps": changes["steps"]})
    trainer = Trainer(config, resume=resume, stream=io.StringIO())
    trainer.fit()
    return trainer


@needs_aeon
def test_recipe_run_resumes_bit_for_bit(tmp_path):
    """Interrupted at step 5 of 8 (the cosine schedule spans the 8 steps in both runs)."""
    straight = _fit(tmp_path, "straight", steps=8)
    assert straight.model.config.readout == "meanmax" and straight.model.config.bidirectional
    _fit(tmp_path, "split", steps=8, checkpoint_every=5)
    ckpt = load_checkpoint(tmp_path / "split" / "checkpoints" / "ckpt-00000005.npz")
    resumed = _fit(tmp_path, "split", resume=ckpt, steps=8)
    assert resumed.state.step == straight.state.step == 8
    for key, value in straight.state.params.items():
        np.testing.assert_array_equal(resumed.state.params[key], value)
    assert 0.0 <= straight.evaluate("test")["accuracy"] <= 1.0


@needs_aeon
def test_defaults_unchanged():
    config = resolve_config({"task": "ucr:GunPoint"})
    assert (config.readout, config.bidirectional, config.max_steps) == ("all", False, 0)
    assert (config.jitter, config.crop, config.lr_schedule) == (0.0, 1.0, "constant")


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"task": "co2", "readout": "mean"}, "apply to classification tasks"),
        ({"task": "adding", "max_steps": 4}, "apply to classification tasks"),
        ({"task": "shakespeare", "bidirectional": True}, "reads each sequence whole"),
        ({"task": "digits", "readout": "mean", "diagnose_every": 5}, "Drop --diagnose-every"),
        ({"task": "digits", "readout": "median"}, "`readout` must be one of"),
        ({"task": "digits", "lr_schedule": "step"}, "`lr_schedule` must be one of"),
        ({"task": "digits", "crop": 0.0}, r"`crop` in \(0, 1\]"),
    ],
)
def test_refused_settings(settings, match):
    with pytest.raises(ValueError, match=match):
        resolve_config(settings)


def test_audio_task_names_are_accepted():
    from bptt.train.config import FULL_BPTT_TASKS, TASKS

    assert "audio:some/folder" in TASKS and "audio:x" in FULL_BPTT_TASKS
    assert "audio:" not in TASKS and "ucr:Nope" not in TASKS
    config = resolve_config({"task": "audio:clips"})
    assert config.readout == "meanmax" and config.bidirectional and config.full_bptt
