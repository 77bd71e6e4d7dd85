"""Data-parallel training with real processes: ``mpiexec -n W`` against one process.

- W = 2 and 3 processes with B/W columns each end 20 updates with the parameters of one
  process with B columns, in float64 within 1e-12 relative (measured about 2e-16), for a text
  stream with BPTT(5, 8) and global-norm clipping that clips, a padded classification (the
  loss at each sequence's last step, shards of 3 and 4 sequences), JapaneseVowels with the
  readout at each sequence's last real step, checkpointed BPTT and dropout; in float32
  within the float32 rounding of one process (its distance to float64). Every process's
  state stays bitwise identical; the sharded validation loss matches.
- SIGTERM to one process: every process stops after the same window with one checkpoint and
  exit 130; resuming with W = 2 is bit for bit, with W = 3 and W = 1 exact to rounding.
- A process killed outright, one raising an error, or a second signal ends the run within
  seconds; W = 3 processes over B = 2 streams (one process without a column) train as one.

The tests need mpiexec and mpi4py (``pip install 'bptt[mpi]'``); without them they are
skipped, unless BPTT_REQUIRE_MPI=1 (set by CI), which makes them fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest

from bptt.cli import main
from bptt.train.checkpoint import list_checkpoints, load_checkpoint

HERE = Path(__file__).resolve().parent


def _mpiexec() -> str | None:
    beside = Path(sys.executable).parent / "mpiexec"  # the one of the installed mpich wheel
    return str(beside) if beside.exists() else shutil.which("mpiexec")


MISSING = None if _mpiexec() and find_spec("mpi4py") else "mpiexec or mpi4py is not installed"
if MISSING and os.environ.get("BPTT_REQUIRE_MPI") == "1":
    raise RuntimeError(f"BPTT_REQUIRE_MPI=1 but {MISSING}: pip install -e '.[test]'")
pytestmark = pytest.mark.skipif(MISSING is not None, reason=f"{MISSING}: pip install 'bptt[mpi]'")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI", "OMPI", "BPTT_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    return {**env, "OPENBLAS_NUM_THREADS": "1", **extra}


def mpiexec(n: int, *args: str, timeout: float = 120, **extra: str):
    """Run ``args`` under ``mpiexec -n n``; returns (completed process, seconds)."""
    t0 = time.monotonic()
    done = subprocess.run(
        [_mpiexec(), "-n", str(n), *args],
        env=_env(**extra),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return done, time.monotonic() - t0


def _relative(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


# -- equivalence -------------------------------------------------------------------------------
SMALL = {"hidden_size": 8, "embed_size": 4, "steps": 20, "learning_rate": 1e-2}
SMALL.update(eval_sequences=30, eval_window=16)
CASES = {
    "text": {"task": "text", "batch_size": 6, "k1": 5, "k2": 8, "clip": 0.1},
    "padded": {"task": "temporal", "seq_len": 10, "cell": "gru", "batch_size": 7},
    "checkpointed": {"task": "copy", "seq_len": 5, "batch_size": 6, "memory_budget": "sqrt"},
    "dropout": {"task": "text", "batch_size": 6, "bptt": 6, "num_layers": 2, "dropout": 0.3},
    "empty-shard": {"task": "text", "batch_size": 2, "k1": 5, "k2": 8},  # W = 3 > B = 2
    # Real padded sequences (lengths 7 to 26) read at their last real step by the readout.
    "last-step-readout": {"task": "ucr:JapaneseVowels", "batch_size": 7, "readout": "last"},
}


@pytest.fixture(scope="module")
def jobs(tmp_path_factory):
    from bptt.data.shakespeare import load_plays

    folder = tmp_path_factory.mktemp("equivalence")
    text = folder / "play.txt"
    text.write_text(load_plays()[0].text[:6000], encoding="utf-8")
    jobs = {}
    for name, case in CASES.items():
        settings = {**SMALL, **case, "out": str(folder / "unused")}
        if case["task"] == "text":
            settings["text"] = str(text)
        for dtype in ("float64", "float32"):
            jobs[f"{name}-{dtype}"] = {"settings": settings, "dtype": dtype}
    path = folder / "jobs.json"
    path.write_text(json.dumps(jobs), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def one_process(jobs):
    """Every job trained in this process alone (the reference)."""
    sys.path.insert(0, str(HERE))
    try:
        from mpi_worker import train
    finally:
        sys.path.remove(str(HERE))
    old = np.seterr(all="raise", under="ignore")
    try:
        results = {}
        for name, job in json.loads(jobs.read_text()).items():
            trainer = train(job["settings"], job["dtype"])
            results[name] = (dict(trainer.state.params), trainer.evaluate("valid")["loss"])
        return results
    finally:
        np.seterr(**old)


@pytest.mark.parametrize("W", [2, 3])
def test_w_processes_train_as_one(jobs, one_process, tmp_path, W):
    out = tmp_path / f"w{W}.npz"
    done, _ = mpiexec(W, sys.executable, str(HERE / "mpi_worker.py"), str(jobs), str(out))
    assert done.returncode == 0, done.stderr
    got = np.load(out)
    for name, (params, valid_loss) in one_process.items():
        assert got[f"{name}/identical"], f"{name}: the processes' states differ"
        errors = {k: _relative(got[f"{name}/{k}"], v) for k, v in params.items()}
        if name.endswith("float64"):
            assert max(errors.values()) <= 1e-12, (name, errors)
            assert abs(float(got[f"{name}/valid_loss"]) - valid_loss) <= 1e-12 * valid_loss
            continue
        # float32: within the rounding of one process, measured as its distance to float64
        exact = one_process[name.replace("float32", "float64")][0]
        rounding = max(_relative(params[k], exact[k]) for k in params)
        assert max(errors.values()) <= 2 * rounding, (name, errors, rounding)
        assert abs(float(got[f"{name}/valid_loss"]) - valid_loss) <= 1e-6 * valid_loss


# -- the command line: signals, resume, failures ------------------------------------------------
TRAIN = ["-m", "bptt", "train", "--cell", "faulty_cell:FaultyRNN", "--hidden", "8"]
TRAIN += ["--embed", "4", "--batch", "6", "--k1", "5", "--k2", "8", "--steps", "16"]
TRAIN += ["--eval-every", "8", "--checkpoint-every", "4", "--log-every", "8"]
TRAIN += ["--eval-window", "16", "--sample-length", "0"]


def _train(n, out, text_file, **extra):
    return mpiexec(n, sys.executable, *TRAIN, "--text", str(text_file), "--out", str(out), **extra)


def _same_checkpoint(a, b, *, exact=True):
    assert a.meta["step"] == b.meta["step"] and a.meta["cursor"] == b.meta["cursor"]
    assert a.meta["rng_state"] == b.meta["rng_state"]
    pairs = [(a.params[k], b.params[k]) for k in a.params]
    pairs += list(zip(a.opt_leaves, b.opt_leaves, strict=True))
    pairs += [(x[f], y[f]) for x, y in zip(a.carries, b.carries, strict=True) for f in x]
    for x, y in pairs:
        if exact:
            np.testing.assert_array_equal(x, y)
        else:
            np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-6)


def test_sigterm_to_one_process_stops_all_with_one_checkpoint_and_resumes_exactly(
    tmp_path, text_file, capsys
):
    done, _ = _train(2, tmp_path / "straight", text_file)
    assert done.returncode == 0, done.stderr
    straight = load_checkpoint(tmp_path / "straight")
    assert straight.meta["world_size"] == 2 and straight.meta["shards"] == [[0, 3], [3, 6]]
    assert straight.carries[0]["h"].shape == (6, 8)  # both processes' streams

    split = tmp_path / "split"
    done, _ = _train(2, split, text_file, BPTT_TEST_FAULT="term:1:60")
    assert done.returncode == 130, done.stderr
    assert done.stderr.count("interrupted at step") == 1  # process 0 says it, once
    stopped = load_checkpoint(split)
    assert 0 < stopped.meta["step"] < 16
    assert not list(split.glob("checkpoints/.ckpt-*"))
    for W in (1, 3):
        shutil.copytree(split, tmp_path / f"split-w{W}")

    done, _ = mpiexec(
        2, sys.executable, "-m", "bptt", "train", "--resume", str(split), "--steps", "16"
    )
    assert done.returncode == 0, done.stderr
    _same_checkpoint(load_checkpoint(split), straight)  # W = 2 again: bit for bit

    done, _ = mpiexec(
        3, sys.executable, "-m", "bptt", "train", "--resume", str(tmp_path / "split-w3"),
        "--steps", "16",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("was written by 2 process(es) and 3 go on") == 1
    _same_checkpoint(load_checkpoint(tmp_path / "split-w3"), straight, exact=False)

    sys.path.insert(0, str(HERE))
    try:
        code = main(["train", "--resume", str(tmp_path / "split-w1"), "--steps", "16"])
    finally:
        sys.path.remove(str(HERE))
    assert code == 0
    _same_checkpoint(load_checkpoint(tmp_path / "split-w1"), straight, exact=False)


@pytest.mark.parametrize("fault", ["kill", "raise", "term2"])
def test_a_failing_process_ends_every_process_within_seconds(tmp_path, text_file, fault):
    out = tmp_path / "run"
    done, seconds = _train(2, out, text_file, BPTT_TEST_FAULT=f"{fault}:1:60", timeout=60)
    assert done.returncode != 0
    assert seconds < 30, f"the run took {seconds:.0f} s to end"
    if fault == "raise":
        assert "RuntimeError: injected failure at call 60; ending every process" in done.stderr
    if fault == "term2":  # a second signal: every process ends at once, exit 130
        assert done.returncode == 130 and "second interrupt" in done.stderr
    for path in list_checkpoints(out / "checkpoints"):
        load_checkpoint(path)  # every checkpoint written is whole


def test_a_users_mistake_is_one_line_from_process_0(tmp_path, text_file):
    done, _ = mpiexec(
        2, sys.executable, "-m", "bptt", "train", "--text", str(text_file), "--lr", "-1",
        "--out", str(tmp_path / "run"),
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "bptt train: error: `learning_rate` must be a positive number, got -1.0 (e.g. 2e-3 "
        "for Adam, 0.1 for SGD)."
    ]


def test_the_stream_is_quiet_on_other_processes(tmp_path, text_file):
    done, _ = _train(2, tmp_path / "run", text_file)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("# resolved config") == 1
    assert done.stderr.count("step 16: validation") == 1
    records = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(r)["step"] for r in records] == [8, 8, 16, 16]  # written once


def test_sweep_spreads_runs_over_processes(tmp_path):
    grid = tmp_path / "grid.toml"
    runs = (tmp_path / "runs").as_posix()
    grid.write_text(
        f'[sweep]\nout = "{runs}"\n[base]\ntask = "adding"\nseq_len = 6\nhidden_size = 6\n'
        "batch_size = 6\nsteps = 6\neval_every = 6\neval_sequences = 20\n"
        '[grid]\ncell = ["rnn", "gru"]\nseed = [0, 1]\n'
    )
    done, _ = mpiexec(2, sys.executable, "-m", "bptt", "sweep", str(grid))
    assert done.returncode == 0, done.stderr
    spread = (tmp_path / "runs" / "summary.csv").read_text()
    done, _ = mpiexec(
        2, sys.executable, "-m", "bptt", "sweep", str(grid), "--procs-per-run", "2",
        "--out", str(tmp_path / "parallel"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert main(["sweep", str(grid), "--out", str(tmp_path / "alone")]) == 0
    alone = (tmp_path / "alone" / "summary.csv").read_text()
    assert _figures(spread) == _figures(alone)  # one process per run: the same runs
    parallel = _figures((tmp_path / "parallel" / "summary.csv").read_text())
    for a, b in zip(parallel, _figures(alone), strict=True):
        assert a[:3] == b[:3] and abs(a[3] - b[3]) <= 1e-5 * abs(b[3])


def _figures(text):
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(text)))
    return [(r["run"], r["status"], r["step"], float(r["valid_mse"])) for r in rows]
