"""Config layers: merged first, checked once; the one truncation value and its spellings."""

import pytest

from bptt.engine.truncated import Truncation
from bptt.train.config import (
    SETTINGS,
    Layer,
    TrainConfig,
    format_config,
    load_toml,
    resolve_config,
)
from bptt.train.real_tasks import DEFAULTS


@pytest.mark.parametrize(
    ("layers", "expected"),
    [
        ([], Truncation(50, 50)),  # the first layer's
        ([{"k1": 10}, {"k2": 20}], Truncation(10, 20)),  # each key keeps the other's value
        ([{"k2": 20}, {"k1": 10}], Truncation(10, 20)),
        ([{"k1": 10}], Truncation(10, 50)),  # k1 alone keeps the default k2
        ([{"k1": 80}, {"k2": 90}], Truncation(80, 90)),  # checked only after merging
        ([{"bptt": 25}], Truncation(25, 25)),
        ([{"k1": 10, "k2": 20}, {"bptt": 30}], Truncation(30, 30)),
        ([{"bptt": "full"}], None),
        ([{"k1": 0, "k2": 0}], None),  # how older configs and checkpoints spell full BPTT
        ([{"bptt": "full"}, {"k1": 4, "k2": 6}], Truncation(4, 6)),
        ([{"k1": 4, "k2": 6}, {"k1": None, "k2": None, "bptt": None}], Truncation(4, 6)),
    ],
)
def test_truncation_layers(layers, expected):
    # adding defaults to full BPTT; this first layer puts BPTT(50, 50) below the others.
    config = resolve_config(*({"task": "adding", "k1": 50, "k2": 50}, *layers))
    assert config.truncation == expected
    assert config.full_bptt == (expected is None)


@pytest.mark.parametrize(
    ("layers", "match"),
    [
        ([{"k1": 60}], r"`k1` \(60\) must not exceed `k2` \(50\)"),
        ([{"k2": 20}, {"k1": 30}], r"`k1` \(30\) must not exceed `k2` \(20\)"),
        ([{"k1": 0}], "`k1` must be an integer >= 1, got 0"),
        ([{"bptt": 0}], r"`bptt` must be an integer K >= 1 \(BPTT\(K, K\)\) or \"full\", got 0"),
        ([{"bptt": "none"}], "`bptt` must be an integer K >= 1"),
        ([{"bptt": True}], "`bptt` must be an integer K >= 1"),
        ([{"bptt": 5, "k2": 8}], r"gives both `bptt` \(5\) and `k1`/`k2`"),
        ([{"bptt": "full"}, {"k2": 8}], "sets `k2` alone, over full BPTT: there is no `k1`"),
        ([{"bptt": "full"}, {"k1": 8}], "sets `k1` alone, over full BPTT: there is no `k2`"),
    ],
)
def test_bad_truncations(layers, match):
    with pytest.raises(ValueError, match=match):
        resolve_config({"task": "adding", "k1": 50, "k2": 50}, *layers)


def test_layer_sources_name_the_file_in_messages():
    with pytest.raises(ValueError, match=r"Unknown setting\(s\) \['k3'\] in the config file x"):
        resolve_config(Layer("config file x.toml", {"k3": 1}))
    with pytest.raises(ValueError, match="The command line gives both `bptt`"):
        resolve_config(Layer("command line", {"bptt": "full", "k1": 3}))


def test_full_bptt_is_refused_for_streams():
    with pytest.raises(ValueError, match="Full BPTT over a text stream"):
        resolve_config({"bptt": "full"})
    with pytest.raises(ValueError, match="Full BPTT over a forecast series"):
        resolve_config({"task": "co2", "bptt": "full"})
    with pytest.raises(ValueError, match="Full BPTT over a text stream"):
        TrainConfig(truncation=None)


def test_the_dataclass_checks_its_truncation():
    assert TrainConfig(truncation=(5, 8)).truncation == Truncation(5, 8)
    with pytest.raises(ValueError, match=r"`k1` \(5\) must not exceed `k2` \(3\)"):
        TrainConfig(truncation=Truncation(5, 3))
    with pytest.raises(ValueError, match="`truncation` must be a Truncation"):
        TrainConfig(truncation=5)


def test_task_defaults_sit_between_the_command_defaults_and_the_layers():
    name = "ucr:GunPoint"
    config = resolve_config({"task": name}, defaults={"cell": "lstm", "hidden_size": 64})
    assert (config.cell, config.hidden_size) == (DEFAULTS[name]["cell"], 32)
    assert config.full_bptt  # the task's bptt = "full" over the dataclass BPTT(50, 50)
    config = resolve_config({"task": name, "hidden_size": 8}, defaults={"hidden_size": 64})
    assert config.hidden_size == 8
    assert resolve_config({"task": "adding"}, defaults={"hidden_size": 64}).hidden_size == 64
    assert resolve_config({"task": "co2", "k2": 60}).truncation == Truncation(52, 60)
    with pytest.raises(ValueError, match="sets `k2` alone, over full BPTT"):
        resolve_config({"task": name, "k2": 60})


@pytest.mark.parametrize("changes", [{"k1": 7, "k2": 9}, {"task": "copy", "bptt": "full"}])
def test_saved_settings_resolve_to_the_same_config(tmp_path, changes):
    config = resolve_config(changes)
    assert set(config.to_dict()) <= set(SETTINGS)
    assert resolve_config(config.to_dict()) == config
    path = tmp_path / "run.toml"
    path.write_text(format_config(config) + "\n", encoding="utf-8")
    assert resolve_config(Layer(f"config file {path}", load_toml(path))) == config


def test_an_unreadable_config_file_is_a_user_error(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_toml(tmp_path / "none.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("k1 = = 3\n")
    with pytest.raises(ValueError, match="is not valid TOML"):
        load_toml(bad)


@pytest.mark.parametrize("task", ["adding", "copy", "temporal"])
def test_synthetic_tasks_default_to_full_bptt_with_the_settings_that_learned_them(task):
    """BPTT(50, 50) over the adding problem's T = 100 never saw the first half of a sequence
    (it ended at MSE 0.174, worse than predicting 1: 0.167)."""
    config = resolve_config({"task": task})
    assert config.truncation is None and config.clip == 1.0
    assert config.optimizer == "adam"
    assert (config.cell, config.learning_rate) == (
        ("gru", 3e-3) if task == "temporal" else ("lstm", 1e-3)
    )


def test_format_config_escapes_strings_so_the_file_reads_back(tmp_path):
    config = resolve_config({"task": "adding", "out": 'runs\\new "one"'})
    path = tmp_path / "config.toml"
    path.write_text(format_config(config) + "\n", encoding="utf-8")
    assert resolve_config(load_toml(path)) == config
