"""Data safety of a run: no run touches another run's files, nothing is half-written, every
storage failure is one line that names what is intact and how to go on."""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bptt.cli import main
from bptt.train import checkpoint as checkpoint_module
from bptt.train.checkpoint import list_checkpoints, load_checkpoint


def train(argv, capsys):
    code = main(["train", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def checkpoints(run):
    return [p.name for p in list_checkpoints(run / "checkpoints")]


def test_a_resumed_run_writes_where_its_checkpoint_lives(
    tmp_path, text_file, fast, capsys, monkeypatch
):
    """Run A saved out = runs/latest (relative). Copied elsewhere and resumed from another
    directory that holds run B in its own runs/latest, A must not write or prune there."""
    a_home, b_home = tmp_path / "a", tmp_path / "b"
    a_home.mkdir(), b_home.mkdir()
    monkeypatch.chdir(a_home)
    assert train(["--text", str(text_file), *fast, "--out", "runs/latest"], capsys)[0] == 0
    copy = tmp_path / "copy-of-a"
    shutil.copytree(a_home / "runs" / "latest", copy)
    monkeypatch.chdir(b_home)
    assert train(["--text", str(text_file), *fast, "--out", "runs/latest"], capsys)[0] == 0
    b_run = b_home / "runs" / "latest"
    b_before = {p.name: p.read_bytes() for p in (b_run / "checkpoints").iterdir()}
    args = ["--resume", str(copy), "--steps", "12", "--checkpoint-every", "1", "--keep", "1"]
    assert train(args, capsys)[0] == 0
    assert {p.name: p.read_bytes() for p in (b_run / "checkpoints").iterdir()} == b_before
    assert load_checkpoint(copy).meta["step"] == 12


def test_pruning_removes_only_the_same_runs_checkpoints(tmp_path, text_file, fast, capsys):
    run = tmp_path / "run"
    assert train(["--text", str(text_file), *fast, "--out", str(run)], capsys)[0] == 0
    foreign = run / "checkpoints" / "ckpt-00000001.npz"
    other = load_checkpoint(run)
    meta = {**other.meta, "run_id": "someone-else", "step": 1}
    arrays = {f"params/{k}": v for k, v in other.params.items()}
    np.savez(foreign, meta=np.array(json.dumps(meta)), **arrays)
    args = ["--resume", str(run), "--steps", "12", "--checkpoint-every", "1", "--keep", "1"]
    assert train(args, capsys)[0] == 0
    assert foreign.exists()
    assert checkpoints(run) == ["ckpt-00000001.npz", "ckpt-00000012.npz"]


def test_stale_temporaries_go_and_metrics_are_not_repeated(tmp_path, text_file, fast, capsys):
    run = tmp_path / "run"
    assert train(["--text", str(text_file), *fast, "--out", str(run)], capsys)[0] == 0
    stale = run / "checkpoints" / ".ckpt-abc123.tmp"
    stale.write_bytes(b"a checkpoint cut short by SIGKILL")
    metrics = run / "metrics.jsonl"
    # As if killed after logging steps 7 and 8 but before their checkpoint.
    with open(metrics, "a", encoding="utf-8") as f:
        for step in (7, 8):
            f.write(json.dumps({"event": "train", "step": step, "loss": 1.0}) + "\n")
    assert train(["--resume", str(run), "--steps", "9"], capsys)[0] == 0
    assert not stale.exists()
    records = [json.loads(line) for line in metrics.read_text().splitlines()]
    train_steps = [r["step"] for r in records if r["event"] == "train"]
    assert len(train_steps) == len(set(train_steps))
    assert [r for r in records if r["event"] == "resume"] == [{"event": "resume", "step": 6}]


def test_an_empty_out_is_refused(tmp_path, text_file, fast, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = train(["--text", str(text_file), *fast, "--out", ""], capsys)
    assert code == 2 and err.count("\n") == 1 and "`out` must name a directory" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["play.txt"]


@pytest.mark.parametrize(
    ("errno_code", "reason"),
    [(errno.ENOSPC, "No space left on device"), (errno.EROFS, "Read-only file system")],
)
def test_a_failing_disk_is_one_line_that_names_the_intact_checkpoint(
    tmp_path, text_file, fast, capsys, monkeypatch, errno_code, reason
):
    run = tmp_path / "run"
    assert train(["--text", str(text_file), *fast, "--out", str(run)], capsys)[0] == 0
    good = {p.name: p.read_bytes() for p in (run / "checkpoints").iterdir()}
    original = checkpoint_module.np.savez

    def failing(file, **arrays):
        raise OSError(errno_code, reason)

    monkeypatch.setattr(checkpoint_module.np, "savez", failing)
    code, _, err = train(["--resume", str(run), "--steps", "9"], capsys)
    monkeypatch.setattr(checkpoint_module.np, "savez", original)
    errors = [line for line in err.splitlines() if "error" in line]  # progress lines besides
    assert code == 2 and len(errors) == 1 and "Traceback" not in err
    assert reason in errors[0] and "ckpt-00000006.npz is intact" in errors[0]
    assert errors[0].endswith(f"bptt train --resume {run}")
    assert {p.name: p.read_bytes() for p in (run / "checkpoints").iterdir()} == good


def test_a_run_killed_before_its_first_update_can_be_resumed(
    tmp_path, text_file, fast, capsys, monkeypatch
):
    """The state at step 0 is saved before training starts."""
    from bptt.train import trainer as trainer_module

    def killed(self):
        raise SystemExit("killed")

    monkeypatch.setattr(trainer_module.Trainer, "run_windows", killed)
    run = tmp_path / "run"
    with pytest.raises(SystemExit):
        main(["train", "--text", str(text_file), *fast, "--out", str(run)])
    assert checkpoints(run) == ["ckpt-00000000.npz"]
    monkeypatch.undo()
    assert train(["--resume", str(run)], capsys)[0] == 0
    assert load_checkpoint(run).meta["step"] == 6


def test_resuming_a_complete_run_says_so(tmp_path, text_file, fast, capsys):
    run = tmp_path / "run"
    assert train(["--text", str(text_file), *fast, "--out", str(run)], capsys)[0] == 0
    code, out, err = train(["--resume", str(run), "--steps", "6"], capsys)
    assert code == 0 and "validation" not in out
    assert "already reached step 6 of --steps 6" in err and "--steps" in err


def test_the_best_checkpoint_is_kept_and_worsening_is_reported(
    tmp_path, text_file, fast, capsys, monkeypatch
):
    """Validation 3.0, 2.5, then worse three times: best.npz holds step 4, a warning says the
    model may overfit, and sample and eval read best.npz (--last the newest)."""
    from bptt.train import trainer as trainer_module

    values = iter([3.0, 2.5, 2.7, 2.9, 3.1])

    def evaluate(self, split="valid"):
        value = next(values)
        return {"bpc": value, "loss": value}

    monkeypatch.setattr(trainer_module.Trainer, "evaluate", evaluate)
    run = tmp_path / "run"
    argv = ["--text", str(text_file), *fast, "--steps", "10", "--eval-every", "2"]
    code, _, err = train([*argv, "--sample-length", "0", "--out", str(run)], capsys)
    assert code == 0
    assert "has not improved for 3 evaluations (best 2.5000, now 3.1000)" in err
    assert load_checkpoint(run, best=True).meta["step"] == 4
    assert load_checkpoint(run).meta["step"] == 10
    monkeypatch.undo()
    assert main(["eval", str(run)]) == 0
    assert "step 4 (best.npz)" in capsys.readouterr().out
    assert main(["eval", str(run), "--last"]) == 0
    assert "step 10 (ckpt-00000010.npz)" in capsys.readouterr().out


def test_divergence_names_a_checkpoint_that_exists(tmp_path, text_file, fast, capsys):
    run = tmp_path / "run"
    argv = ["--text", str(text_file), *fast, "--lr", "1e30", "--clip", "0", "--steps", "40"]
    with np.errstate(over="ignore", invalid="ignore"):  # NumPy's default only warns
        code, _, err = train([*argv, "--out", str(run)], capsys)
    assert code == 1
    last = err.strip().splitlines()[-1]
    named = Path(last.rsplit("the last good checkpoint is ", 1)[1].rstrip("."))
    assert named.is_file() and named.parent == run / "checkpoints"


def test_the_run_directory_holds_its_config_which_trains_again(tmp_path, text_file, fast, capsys):
    run = tmp_path / "run"
    code, out, _ = train(["--text", str(text_file), *fast, "--out", str(run)], capsys)
    saved = (run / "config.toml").read_text(encoding="utf-8")
    assert code == 0 and saved.strip() in out
    again = tmp_path / "again"
    code, out, _ = train(["--config", str(run / "config.toml"), "--out", str(again)], capsys)
    assert code == 0
    assert (again / "config.toml").read_text().replace(str(again), str(run)) == saved


def test_the_printed_config_shows_what_applies(tmp_path, capsys):
    argv = ["--task", "adding", "--seq-len", "6", "--cell", "gru", "--steps", "2"]
    code, out, _ = train([*argv, "--eval-sequences", "10", "--out", str(tmp_path / "r")], capsys)
    printed = out.split("\n\n")[0]
    keys = {line.split(" = ")[0] for line in printed.splitlines()[1:] if " = " in line}
    assert code == 0 and {"seq_len", "eval_sequences", "cell", "bptt"} <= keys
    assert not keys & {"forget_bias", "carry", "eval_window", "sample_length", "text"}
    assert not keys & {"temperature", "embed_size", "dropout"}


def test_diagnose_without_matplotlib_says_so_before_any_work(tmp_path, capsys, monkeypatch):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "matplotlib" else find_spec(name, *a),
    )
    assert main(["diagnose", "--out", str(tmp_path / "report")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'bptt[plot]'" in err
    assert not (tmp_path / "report").exists()


def test_a_text_without_newlines_trains_and_samples(tmp_path, fast, capsys):
    """The default prime is a newline only where the vocabulary has one."""
    text = tmp_path / "one-line.txt"
    text.write_text("the cat sat on the mat and the dog sat on the log " * 60, encoding="utf-8")
    run = tmp_path / "run"
    code, out, _ = train(["--text", str(text), *fast, "--out", str(run)], capsys)
    assert code == 0 and "sample:" in out
    assert main(["sample", str(run), "--length", "10"]) == 0
    assert len(capsys.readouterr().out.rstrip("\n")) >= 10


def test_resuming_an_earlier_checkpoint_sets_the_later_ones_aside(
    tmp_path, text_file, fast, capsys
):
    """Resume from ckpt-3 of a run that reached 6 with another learning rate: the run's
    newest checkpoint is the new continuation's, the old ones are kept aside, not pruned."""
    run = tmp_path / "run"
    assert train(["--text", str(text_file), *fast, "--out", str(run)], capsys)[0] == 0
    old6 = (run / "checkpoints" / "ckpt-00000006.npz").read_bytes()
    early = run / "checkpoints" / "ckpt-00000003.npz"
    args = ["--resume", str(early), "--steps", "5", "--lr", "1e-4", "--checkpoint-every", "1"]
    assert train([*args, "--keep", "2"], capsys)[0] == 0
    assert checkpoints(run) == ["ckpt-00000004.npz", "ckpt-00000005.npz"]
    newest = load_checkpoint(run)
    assert newest.meta["step"] == 5 and newest.meta["config"]["learning_rate"] == 1e-4
    aside = run / "checkpoints" / "abandoned-00000003"
    assert (aside / "ckpt-00000006.npz").read_bytes() == old6
