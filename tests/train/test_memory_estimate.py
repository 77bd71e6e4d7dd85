"""Memory estimates: ordinary runs fit with room to spare, absurd ones do not, and
checkpointed BPTT is counted as what it keeps."""

import pytest

from bptt.model import Model
from bptt.train.config import resolve_config
from bptt.train.factories import make_task, model_config_for
from bptt.train.memory import check_training_fits, training_bytes

GiB = 1 << 30


def estimate(**settings):
    config = resolve_config(settings)
    task = make_task(config)
    model = Model(model_config_for(config, task))
    return training_bytes(config, model.config, task, model.cell)


def test_the_default_run_is_estimated_well_under_a_gigabyte():
    """Measured: the default `bptt train` peaks at about 300 MB of resident memory."""
    assert estimate() < GiB / 2


@pytest.mark.parametrize(
    "settings",
    [{"task": "ucr:OSULeaf"}, {"num_layers": 3, "hidden_size": 512}, {"task": "copy"}],
    ids=["OSULeaf", "3x512", "copy"],
)
def test_ordinary_runs_fit(settings):
    assert estimate(**settings) < 2 * GiB


def test_checkpointed_bptt_is_counted_as_what_it_keeps():
    """(An evaluation batch of 250 such sequences would need more than either: a long run
    evaluates fewer sequences.)"""
    long = {"task": "adding", "seq_len": 100_000, "bptt": "full", "eval_sequences": 10}
    assert estimate(**long, memory_budget="sqrt") < estimate(**long) / 4


def test_an_absurd_size_is_refused_with_the_estimate(monkeypatch):
    import bptt.train.memory as memory

    monkeypatch.setattr(memory, "available_bytes", lambda: 16 * GiB)
    config = resolve_config({"task": "adding", "hidden_size": 30_000})
    task = make_task(config)
    model = Model(model_config_for(config, task))
    with pytest.raises(ValueError, match=r"needs about .* GiB of memory, more than the 16 GiB"):
        check_training_fits(config, model.config, task, model.cell)
