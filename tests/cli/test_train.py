"""`bptt train`, `bptt sample` and `bptt eval` in-process: results, messages and exit codes."""

import json

import numpy as np
import pytest

from bptt.cli import main
from bptt.train.checkpoint import list_checkpoints, load_checkpoint


def _one_line_error(capsys, code, args, match):
    assert main(args) == code
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert match in err, err
    return err


def test_train_then_sample_and_eval(tmp_path, text_file, fast, capsys):
    out = tmp_path / "run"
    assert main(["train", "--text", str(text_file), "--out", str(out), *fast]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith('# resolved config\ntask = "text"')
    assert "validation bpc" in printed and "checkpoint:" in printed and "sample:" in printed
    assert [p.name for p in list_checkpoints(out / "checkpoints")] == [
        "ckpt-00000000.npz",  # the state before the first update
        "ckpt-00000003.npz",
        "ckpt-00000006.npz",
    ]
    assert main(["sample", str(out), "--length", "40", "--prime", "ROMEO:"]) == 0
    sample = capsys.readouterr().out
    assert sample.startswith("ROMEO:") and len(sample.rstrip("\n")) >= 40
    assert main(["eval", str(out)]) == 0
    assert capsys.readouterr().out.startswith("text test bpc ")


def test_config_file_then_command_line(tmp_path, text_file, fast, capsys):
    config = tmp_path / "run.toml"
    config.write_text(f'text = "{text_file}"\ntask = "text"\ncell = "gru"\nlearning_rate = 0.5\n')
    out = tmp_path / "run"
    args = ["train", "--config", str(config), "--lr", "0.01", "--out", str(out), *fast]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert 'cell = "gru"' in printed and "learning_rate = 0.01" in printed
    saved = load_checkpoint(out).meta["config"]
    assert saved["cell"] == "gru" and saved["learning_rate"] == 0.01


def test_resume_continues_and_refuses_a_changed_architecture(tmp_path, text_file, fast, capsys):
    out = tmp_path / "run"
    assert main(["train", "--text", str(text_file), "--out", str(out), *fast]) == 0
    assert main(["train", "--resume", str(out), "--steps", "9", "--checkpoint-every", "3"]) == 0
    assert load_checkpoint(out).meta["step"] == 9
    capsys.readouterr()
    _one_line_error(
        capsys,
        2,
        ["train", "--resume", str(out), "--cell", "gru"],
        "Incompatible config for resuming",
    )


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "is empty"),
        (b"abc\x00def" * 100, "NUL"),
        (b"caf\xe9 " * 400, "not valid UTF-8"),
        (b"too short", "has 9 characters, too short for 4 streams"),
    ],
    ids=["empty", "binary", "latin-1", "shorter-than-a-batch"],
)
def test_bad_text(tmp_path, fast, capsys, content, match):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    out = tmp_path / "run"
    _one_line_error(capsys, 2, ["train", "--text", str(path), "--out", str(out), *fast], match)
    assert not list_checkpoints(out / "checkpoints")


@pytest.mark.parametrize(
    ("options", "match"),
    [
        (["--k1", "5", "--k2", "3"], "`k1` (5) must not exceed `k2` (3)"),
        (["--k1", "0"], "`k1` must be an integer >= 1"),
        (["--lr", "0"], "`learning_rate` must be a positive number"),
        (["--lr=-1e-3"], "`learning_rate` must be a positive number"),
        (["--k1", "60"], "`k1` (60) must not exceed `k2` (50)"),
        (["--cell", "lstn"], "Unknown cell 'lstn'; expected one of rnn, relu, irnn, lstm, gru"),
        (["--cell", "no_such_module:Cell"], "module 'no_such_module' cannot be imported"),
        (["--optimizer", "adamm"], "invalid choice: 'adamm'"),
        (["--bptt", "5", "--full"], "argument --full: not allowed with argument --bptt"),
        (["--bptt", "5", "--k2", "8"], "gives both `bptt` (5) and `k1`/`k2`"),
        (["--bptt", "0"], "`bptt` must be an integer K >= 1"),
        (["--task", "text", "--full"], "Full BPTT over a text stream"),
    ],
)
def test_bad_options(tmp_path, text_file, capsys, options, match):
    args = ["train", "--text", str(text_file), "--out", str(tmp_path / "run"), *options]
    if match.startswith(("invalid choice", "argument")):
        with pytest.raises(SystemExit) as exit_:
            main(args)
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and match in err
    else:
        _one_line_error(capsys, 2, args, match)


def _trained(tmp_path, text_file, fast):
    out = tmp_path / "run"
    assert main(["train", "--text", str(text_file), "--out", str(out), *fast]) == 0
    return out, list_checkpoints(out / "checkpoints")[-1]


def test_bad_checkpoints(tmp_path, text_file, fast, capsys):
    _, latest = _trained(tmp_path, text_file, fast)
    capsys.readouterr()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(latest.read_bytes()[:300])
    _one_line_error(capsys, 2, ["train", "--resume", str(truncated)], "truncated or corrupted")
    corrupted = tmp_path / "corrupted.npz"
    corrupted.write_bytes(b"PK" + bytes(range(256)) * 4)
    _one_line_error(capsys, 2, ["eval", str(corrupted)], "is not a bptt checkpoint")
    ckpt = load_checkpoint(latest)
    arrays = {f"params/{k}": v for k, v in ckpt.params.items()}
    newer = tmp_path / "newer.npz"
    np.savez(newer, **arrays, meta=np.array(json.dumps({**ckpt.meta, "format_version": 99})))
    _one_line_error(capsys, 2, ["sample", str(newer)], "format version 99")
    _one_line_error(capsys, 2, ["sample", str(tmp_path / "missing.npz")], "does not exist")


def test_existing_checkpoints_are_never_overwritten(tmp_path, text_file, fast, capsys):
    out, _ = _trained(tmp_path, text_file, fast)
    before = {p.name: p.read_bytes() for p in list_checkpoints(out / "checkpoints")}
    capsys.readouterr()
    args = ["train", "--text", str(text_file), "--out", str(out), *fast]
    _one_line_error(capsys, 2, args, "already holds checkpoints of another run")
    after = {p.name: p.read_bytes() for p in list_checkpoints(out / "checkpoints")}
    assert after == before


def test_unwritable_output_directory(tmp_path, text_file, fast, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    args = ["train", "--text", str(text_file), "--out", str(blocker / "run"), *fast]
    _one_line_error(capsys, 2, args, "which is a file")


def test_sample_needs_a_text_model(tmp_path, capsys):
    out = tmp_path / "adding"
    args = [
        "train",
        "--task",
        "adding",
        "--seq-len",
        "8",
        "--full",
        "--hidden",
        "8",
        "--steps",
        "2",
        "--eval-every",
        "2",
        "--eval-sequences",
        "10",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    capsys.readouterr()
    _one_line_error(capsys, 2, ["sample", str(out)], "has no text vocabulary")


def test_every_setting_has_an_option():
    from bptt.cli.train import OPTIONS
    from bptt.train.config import SETTINGS

    assert {*OPTIONS.values(), "bptt"} == set(SETTINGS)  # --bptt K and --full give "bptt"


def test_diagnose_every_logs_horizon_and_verdict(tmp_path):
    out = tmp_path / "run"
    args = [
        "train",
        "--task",
        "adding",
        "--seq-len",
        "12",
        "--full",
        "--hidden",
        "8",
        "--steps",
        "4",
        "--eval-every",
        "4",
        "--eval-sequences",
        "10",
        "--diagnose-every",
        "2",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    diagnosed = [r for r in records if r["event"] == "diagnose"]
    assert [r["step"] for r in diagnosed] == [2, 4]
    assert set(diagnosed[0]["horizon"]) == {"layers.0"} and diagnosed[0]["global_norm"] > 0
    assert diagnosed[0]["verdict"]["layers.0"] in ("vanishing", "exploding", "healthy")


def test_memory_budget_option(tmp_path, text_file, fast, capsys):
    out = tmp_path / "run"
    args = ["train", "--text", str(text_file), "--out", str(out), "--memory-budget", "3", *fast]
    assert main(args) == 0
    assert 'memory_budget = "3"' in capsys.readouterr().out
    _one_line_error(
        capsys, 2, [*args[: -len(fast)], "--memory-budget", "lots", *fast], "is not a budget"
    )


def _without_bptt(fast):
    i = fast.index("--bptt")
    return fast[:i] + fast[i + 2 :]


def test_k2_on_the_command_line_keeps_the_k1_of_the_config_file(tmp_path, text_file, fast, capsys):
    """Layers merge first, then the truncation is checked: k1 from the file, k2 from a flag."""
    config = tmp_path / "run.toml"
    config.write_text(f'task = "text"\ntext = "{text_file}"\nk1 = 10\n')
    out = tmp_path / "run"
    args = ["train", "--config", str(config), "--k2", "20", "--out", str(out)]
    assert main([*args, *_without_bptt(fast)]) == 0
    assert "k1 = 10\nk2 = 20\n" in capsys.readouterr().out
    saved = load_checkpoint(out).meta["config"]
    assert (saved["k1"], saved["k2"]) == (10, 20)
