"""Real-data tasks: batch shapes and masks, splits, baselines, tiny runs that beat them."""

import functools
import importlib.util
import io
from types import SimpleNamespace

import numpy as np
import pytest

from bptt.data.timeseries import check_horizon
from bptt.model import Model, ModelConfig
from bptt.train.checkpoint import load_checkpoint
from bptt.train.config import resolve_config
from bptt.train.real_tasks import (
    DEFAULTS,
    REAL_TASKS,
    ClassificationTask,
    ForecastTask,
    forecast_report,
    majority_rate,
    real_task,
    stratified_holdout,
)
from bptt.train.resume import resume_config
from bptt.train.trainer import Trainer

needs_aeon = pytest.mark.skipif(
    importlib.util.find_spec("aeon") is None, reason="pip install 'bptt[timeseries]'"
)
needs_statsmodels = pytest.mark.skipif(
    importlib.util.find_spec("statsmodels") is None, reason="pip install 'bptt[timeseries]'"
)


@functools.cache
def task(name, batch_size=1, transform=None):
    return real_task(name, SimpleNamespace(batch_size=batch_size), transform=transform)


def _eval(t, split):
    return t.eval_batches(split, seed=0, batch_size=250, num_sequences=1)


def _fit(tmp_path, name, *, out="run", resume=None, **changes):
    settings = {"task": name, "out": str(tmp_path / out), "sample_length": 0}
    settings.update({"checkpoint_every": 10_000, **changes})
    config = resolve_config(settings)  # over the task's own DEFAULTS
    if resume is not None:
        config = resume_config(resume, {"steps": changes["steps"]})
    trainer = Trainer(config, resume=resume, stream=io.StringIO())
    trainer.fit()
    return trainer


def test_unknown_names_list_the_known_ones():
    for name in ("ucr:NoSuchSet", "weather", "ucr:", 3):
        with pytest.raises(ValueError, match=r"Unknown real-data task .*ucr:GunPoint"):
            real_task(name, SimpleNamespace(batch_size=1))


def test_every_task_has_defaults_that_make_a_valid_config():
    assert set(DEFAULTS) == set(REAL_TASKS)
    for name in REAL_TASKS:
        config = resolve_config({"task": name})
        assert config.task == name
        assert config.cell == DEFAULTS[name]["cell"]
        assert config.full_bptt == (DEFAULTS[name].get("bptt") == "full")


def test_stratified_holdout_is_seeded_disjoint_and_per_class():
    labels = np.array([0] * 10 + [1] * 5 + [2] * 2)
    keep, held = stratified_holdout(labels, 0.2, seed=3)
    assert np.intersect1d(keep, held).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([keep, held])), np.arange(17))
    assert np.bincount(labels[held], minlength=3).tolist() == [2, 1, 1]
    again, _ = stratified_holdout(labels, 0.2, seed=3)
    np.testing.assert_array_equal(keep, again)
    with pytest.raises(ValueError, match="`fraction` must be in"):
        stratified_holdout(labels, 1.0, seed=0)


@needs_aeon
def test_italy_power_demand_splits_and_published_baseline():
    t = task("ucr:italypowerdemand")
    assert isinstance(t, ClassificationTask) and t.name == "ucr:ItalyPowerDemand"
    sizes = {k: v.labels.size for k, v in t.splits.items()}
    assert sizes == {"train": 53, "valid": 14, "test": 1029}  # 67 = 53 + 14 official train
    assert t.metric.baseline == pytest.approx(1 - 0.0447)
    assert "Dau et al. 2018" in t.metric.baseline_source and not t.metric.lower_is_better
    assert t.model_io() == {"input_size": 1, "output_size": 2}
    test = list(_eval(t, "test"))
    assert sum(b.inputs.shape[1] for b in test) == 1029
    with pytest.raises(ValueError, match="`split` must be one of"):
        next(_eval(t, "dev"))


@needs_aeon
def test_japanese_vowels_batches_read_the_last_valid_step():
    t = task("ucr:JapaneseVowels")
    assert t.metric.baseline == pytest.approx(majority_rate(t))
    assert t.metric.baseline == pytest.approx(88 / 370)  # class 3 of the test split
    assert "majority class" in t.metric.baseline_source
    train = t.splits["train"]
    batch = t.train_batch(seed=5, index=3, batch_size=8)
    T, B, D = batch.inputs.shape
    assert (B, D) == (8, 12) and batch.inputs.dtype == np.float32
    lengths = batch.mask.sum(axis=0)
    assert lengths.max() == T and lengths.min() < T  # cut to the batch's longest sequence
    assert (batch.loss_mask.sum(axis=0) == 1).all()
    np.testing.assert_array_equal(batch.loss_mask.argmax(axis=0), lengths - 1)
    assert not (batch.loss_mask & ~batch.mask).any()
    assert np.isfinite(batch.inputs).all() and (batch.inputs[~batch.mask] == 0).all()
    assert set(batch.targets[batch.loss_mask]) <= set(range(9))
    # One epoch visits every training sequence once, in a seeded order.
    n = t.batches_per_epoch(8)
    epoch = np.concatenate([t.train_batch(5, n + j, 8).targets.max(axis=0) for j in range(n)])
    np.testing.assert_array_equal(np.sort(epoch), np.sort(train.labels))
    again = t.train_batch(seed=5, index=3, batch_size=8)
    np.testing.assert_array_equal(again.inputs, batch.inputs)
    other = t.train_batch(seed=6, index=3, batch_size=8)
    assert other.inputs.shape != batch.inputs.shape or not np.array_equal(
        other.inputs, batch.inputs
    )


@needs_aeon
def test_tiny_run_beats_the_majority_class_on_italy_power_demand(tmp_path):
    trainer = _fit(
        tmp_path, "ucr:ItalyPowerDemand", hidden_size=16, steps=150, eval_every=150, log_every=50
    )
    assert trainer.config.full_bptt
    test = trainer.evaluate("test")
    assert test["accuracy"] > majority_rate(trainer.task) + 0.3  # majority: 0.50


@needs_statsmodels
def test_forecast_batches_streams_and_masks():
    t = task("co2", batch_size=4)
    assert isinstance(t, ForecastTask) and t.transform == "diff" and t.offset == 1
    batch = t.train_batch(seed=0, index=7, batch_size=4)
    L = (1598 - 1 - 1) // 4  # 1,597 changes in the training part, 4 streams
    assert batch.inputs.shape == batch.targets.shape == (L, 4, 1)
    np.testing.assert_array_equal(batch.inputs[1:], batch.targets[:-1])
    np.testing.assert_array_equal(batch.inputs[:, 1, 0], t.series[L : 2 * L, 0].astype(np.float32))
    # A change touching a filled (interpolated) week carries no loss.
    assert (~batch.loss_mask).sum() > 0
    assert not batch.loss_mask[~t.observed[1 : 4 * L + 1].reshape(4, L).T].any()
    (valid,) = _eval(t, "valid")
    assert valid.inputs.shape == (1941 - 1 - 1, 1, 1)
    steps = np.flatnonzero(valid.loss_mask[:, 0]) + 1 + t.offset  # original step of each target
    assert steps.min() >= 1598 and steps.max() == 1940
    assert valid.loss_mask.sum() == t.observed[1598 - 1 : 1941 - 1].sum()


@needs_statsmodels
def test_level_and_diff_give_the_same_original_values():
    level, diff = task("sunspots", transform="level"), task("sunspots", transform="diff")
    y = level.data.values
    np.testing.assert_allclose(
        level.to_original(level.series[217:220], 217, cumulative=False), y[217:220]
    )
    changes = diff.series[216:219]  # the changes into steps 217, 218, 219
    np.testing.assert_allclose(diff.to_original(changes, 217, cumulative=True), y[217:220])
    np.testing.assert_allclose(diff.to_original(changes, 217, cumulative=False), y[217:220])


@needs_statsmodels
def test_tiny_forecaster_beats_the_last_value(tmp_path):
    trainer = _fit(tmp_path, "sunspots", hidden_size=16, steps=150, eval_every=150, log_every=50)
    valid = trainer.evaluate("valid")["mse"]
    assert valid < trainer.task.metric.baseline
    report = forecast_report(trainer.task, trainer.model, trainer.state.params)
    assert report.truth.shape == report.multi_step.shape == report.one_step.shape == (46, 1)
    scores = report.scores
    assert scores["model_one_step"].mase < scores["last_value_one_step"].mase
    assert scores["model"].mase < scores["last_value"].mase
    short = forecast_report(trainer.task, trainer.model, trainer.state.params, horizon=5)
    np.testing.assert_allclose(short.multi_step, report.multi_step[:5], rtol=1e-6)


@needs_statsmodels
def test_a_horizon_longer_than_the_test_part_is_refused():
    t = task("sunspots")
    model = Model(ModelConfig(input_size=1, output_size=1))
    params = model.init(np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"`horizon`=47 is longer than the test part \(46"):
        forecast_report(t, model, params, horizon=47)
    assert check_horizon(46, 46) == 46


@needs_statsmodels
def test_too_many_streams_for_a_short_series():
    with pytest.raises(ValueError, match="too short for 200 streams"):
        real_task("sunspots", SimpleNamespace(batch_size=200))


@pytest.mark.parametrize(
    ("name", "small"),
    [
        ("ucr:JapaneseVowels", {"hidden_size": 8, "batch_size": 64}),  # 4 batches an epoch
        ("co2", {"hidden_size": 8, "k1": 100, "k2": 150}),  # 8 streams of 199: 2 windows a pass
    ],
)
def test_resume_is_bit_for_bit(tmp_path, name, small):
    """Batch i is a pure function of (seed, i), so a resumed run continues exactly."""
    needed = "aeon" if name.startswith("ucr:") else "statsmodels"
    if importlib.util.find_spec(needed) is None:
        pytest.skip("pip install 'bptt[timeseries]'")
    common = {**small, "eval_every": 100, "log_every": 100}
    straight = _fit(tmp_path, name, out="straight", steps=7, **common)
    _fit(tmp_path, name, out="split", steps=5, **{**common, "checkpoint_every": 5})
    ckpt = load_checkpoint(tmp_path / "split")
    resumed = _fit(tmp_path, name, out="split", resume=ckpt, steps=7, **common)
    assert resumed.state.step == straight.state.step == 7
    assert resumed.state.cursor == straight.state.cursor
    for key, value in straight.state.params.items():
        np.testing.assert_array_equal(resumed.state.params[key], value)
