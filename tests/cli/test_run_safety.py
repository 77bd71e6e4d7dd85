"""Data safety of a run: no run touches another run's files, nothing is half-written, every
storage failure is one line that names what is intact and how to go on."""

from __future__ import annotations

import errno
import json
import shutil

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
