"""Interrupting `bptt train` in a real subprocess leaves the last checkpoint intact."""

import signal
import subprocess
import sys
import time

import pytest

from bptt.cli import main
from bptt.train.checkpoint import list_checkpoints, load_checkpoint

ENTRY = "import sys; from bptt.cli import main; sys.exit(main(sys.argv[1:]))"


def _start(out, text_file, log_every=1000000):
    args = [
        "train",
        "--text",
        str(text_file),
        "--out",
        str(out),
        "--hidden",
        "16",
        "--embed",
        "8",
        "--batch",
        "4",
        "--bptt",
        "8",
        "--steps",
        "1000000",
        "--checkpoint-every",
        "2",
        "--eval-every",
        "1000000",
        "--log-every",
        str(log_every),
    ]
    proc = subprocess.Popen(
        [sys.executable, "-c", ENTRY, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while len(list_checkpoints(out / "checkpoints")) < 3:  # steps 0, 2 and 4
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no checkpoint within 60 s"
        time.sleep(0.05)
    return proc


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupt_saves_and_resumes(tmp_path, text_file, sig, capsys):
    out = tmp_path / "run"
    proc = _start(out, text_file)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "interrupted at step" in err and f"--resume {out}" in err
    step = load_checkpoint(out).meta["step"]
    assert step >= 4
    assert main(["train", "--resume", str(out), "--steps", str(step + 2)]) == 0
    assert load_checkpoint(out).meta["step"] == step + 2


def test_kill_keeps_every_checkpoint_readable(tmp_path, text_file):
    out = tmp_path / "run"
    proc = _start(out, text_file)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    paths = list_checkpoints(out / "checkpoints")
    assert paths
    for path in paths:
        load_checkpoint(path)  # none is half-written: each was renamed into place whole


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_signal_while_the_command_starts_is_one_line_and_exit_130(sig, monkeypatch, capsys):
    """While the subcommands (and with them NumPy and the library) are imported."""
    import os

    import bptt.cli

    build = bptt.cli.build_parser

    def interrupted_while_importing():
        os.kill(os.getpid(), sig)
        return build()

    monkeypatch.setattr(bptt.cli, "build_parser", interrupted_while_importing)
    assert main(["train", "--task", "adding"]) == 130
    assert capsys.readouterr().err == "bptt: interrupted\n"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_signal_soon_after_the_start_is_one_line_and_exit_130(tmp_path, sig):
    """A real process, interrupted while it starts, loads the data or trains."""
    args = ["train", "--task", "adding", "--seq-len", "10", "--out", str(tmp_path / "run")]
    proc = subprocess.Popen(
        [sys.executable, "-m", "bptt", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.5)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err.splitlines()[-1]


def test_interrupted_before_the_first_checkpoint_claims_none(tmp_path, monkeypatch, capsys):
    """Ctrl-C while the trainer starts (before step 0 is saved): the line says nothing can be
    resumed rather than pointing at a checkpoint that was never written."""
    from bptt.train.trainer import Trainer

    def interrupted_start(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "_start", interrupted_start)
    out = tmp_path / "run"
    assert main(["train", "--task", "adding", "--seq-len", "10", "--out", str(out)]) == 130
    err = capsys.readouterr().err
    assert "before the first checkpoint; nothing to resume" in err
    assert "--resume" not in err and not list_checkpoints(out / "checkpoints")


def test_version_and_python_dash_m(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.startswith("bptt ")
    done = subprocess.run([sys.executable, "-m", "bptt", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "train" in done.stdout


def test_an_interrupted_run_resumed_logs_every_step_once(tmp_path, text_file):
    """Ctrl-C after some updates, then --resume: every step's train record appears once."""
    import json

    out = tmp_path / "run"
    proc = _start(out, text_file, log_every=1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    step = load_checkpoint(out).meta["step"]
    assert main(["train", "--resume", str(out), "--steps", str(step + 3)]) == 0
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in records if r["event"] == "train"]
    assert steps == list(range(1, step + 4))


def test_a_second_signal_interrupts_at_once():
    from bptt.train.trainer import _StopRequest

    stop = _StopRequest()
    stop.handle(signal.SIGINT, None)
    assert stop.requested
    with pytest.raises(KeyboardInterrupt):
        stop.handle(signal.SIGTERM, None)


def test_a_second_process_on_the_same_run_is_refused(tmp_path, text_file, capsys):
    out = tmp_path / "run"
    proc = _start(out, text_file)
    try:
        assert main(["train", "--resume", str(out), "--steps", "2000000"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Another `bptt train` process is writing" in err
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    step = load_checkpoint(out).meta["step"]
    assert main(["train", "--resume", str(out), "--steps", str(step + 1)]) == 0  # lock gone
