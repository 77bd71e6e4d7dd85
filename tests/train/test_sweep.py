"""Sweeps in one process: the grid, the checks before any run, the summary, going on after a
stop. tests/train/test_distributed.py spreads a sweep over processes."""

from __future__ import annotations

import csv
import json

import pytest

from bptt.cli import main
from bptt.errors import BpttError
from bptt.train.sweep import (
    RESULT,
    grid_runs,
    load_sweep,
    run_name,
    run_sweep,
    summary_tables,
    train_run,
)

BASE = {"task": "adding", "seq_len": 6, "hidden_size": 6, "batch_size": 6, "steps": 6}
BASE.update(eval_every=6, eval_sequences=20, checkpoint_every=3)


def _write(path, grid, base=BASE, head=""):
    lines = [f"[sweep]\nout = {json.dumps((path.parent / 'runs').as_posix())}\n{head}[base]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in base.items()]
    lines += ["[grid]"] + [f"{k} = {json.dumps(v)}" for k, v in grid.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_grid_in_order_last_key_fastest(tmp_path):
    runs = grid_runs(BASE, {"cell": ["rnn", "gru"], "seed": [0, 1, 2]}, tmp_path)
    assert [r.name for r in runs] == [
        f"cell-{c}_seed-{s}" for c in ("rnn", "gru") for s in (0, 1, 2)
    ]
    assert runs[4].settings == {
        **BASE,
        "cell": "gru",
        "seed": 1,
        "out": str(runs[4].settings["out"]),
    }
    assert runs[4].settings["out"] == str(tmp_path / "cell-gru_seed-1")
    assert run_name({"text": "a/b c.txt"}) == "text-a-b-c.txt"


@pytest.mark.parametrize(
    "grid, message",
    [
        ({"seed": 3}, r"\[grid\] seed must be a non-empty list"),
        ({"sed": [1]}, r"Unknown setting\(s\) \['sed'\]"),
        ({"out": ["a"]}, r"`out` goes in the \[sweep\] table"),
        ({"cell": ["lstm", "nope"]}, r"Unknown cell 'nope'"),  # every run checked first
    ],
)
def test_mistakes_are_found_before_any_run(tmp_path, grid, message):
    with pytest.raises(BpttError, match=message):
        grid_runs(BASE, grid, tmp_path)


def test_a_sweep_file_holds_three_tables(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text('[sweep]\nout = "x"\n[grids]\nseed = [1]\n')
    with pytest.raises(BpttError, match=r"has \['grids'\]"):
        load_sweep(path)
    path.write_text('[sweep]\nouts = "x"\n')
    with pytest.raises(BpttError, match=r"\[sweep\] in .* has \['outs'\]"):
        load_sweep(path)


def test_one_process_runs_every_run_in_turn():
    order = []
    rows = run_sweep(
        ["a", "b", "c"], lambda run, group: order.append(run) or {"run": run}, world=None
    )
    assert order == ["a", "b", "c"] and rows == [{"run": "a"}, {"run": "b"}, {"run": "c"}]
    with pytest.raises(BpttError, match="--procs-per-run 2 needs 2 processes"):
        run_sweep(["a"], lambda run, group: {}, procs_per_run=2, world=None)


def test_bptt_sweep_trains_summarises_and_goes_on(tmp_path, capsys):
    path = _write(tmp_path / "grid.toml", {"cell": ["rnn", "gru"], "seed": [0, 1]})
    assert main(["sweep", str(path), "--test"]) == 0
    out = capsys.readouterr().out
    assert "| cell-gru_seed-1 | gru | 1 | ok |" in out and "Over seeds (mean ± std):" in out
    runs = tmp_path / "runs"
    rows = list(csv.DictReader((runs / "summary.csv").open()))
    assert [r["run"] for r in rows] == ["cell-rnn_seed-0", "cell-rnn_seed-1", "cell-gru_seed-0",
                                        "cell-gru_seed-1"]  # fmt: skip
    assert all(r["step"] == "6" and float(r["test_mse"]) > 0 for r in rows)
    assert (runs / "summary.md").read_text().startswith("| run | cell | seed |")
    # Run again: each finished run is read back, not trained again.
    stamp = (runs / "cell-rnn_seed-0" / RESULT).stat().st_mtime_ns
    assert main(["sweep", str(path), "--test"]) == 0
    assert (runs / "cell-rnn_seed-0" / RESULT).stat().st_mtime_ns == stamp
    assert list(csv.DictReader((runs / "summary.csv").open())) == rows


def test_an_interrupted_run_resumes_to_the_same_result(tmp_path):
    run = grid_runs(BASE, {"seed": [4]}, tmp_path / "a")[0]
    straight = train_run(run, None)
    stopped = grid_runs({**BASE, "steps": 3}, {"seed": [4]}, tmp_path / "b")[0]
    train_run(stopped, None)  # leaves a checkpoint at step 3
    (tmp_path / "b" / stopped.name / RESULT).unlink()
    resumed = train_run(stopped._replace(settings={**stopped.settings, "steps": 6}), None)
    assert resumed["step"] == 6 and resumed["valid_mse"] == straight["valid_mse"]


def test_a_run_that_cannot_start_is_a_row_not_the_end(tmp_path):
    run = grid_runs({**BASE, "task": "text", "text": "missing.txt"}, {"seed": [0]}, tmp_path)[0]
    row = train_run(run, None)
    assert row["status"].startswith("failed: ") and "missing.txt" in row["status"]


def test_the_summary_of_seeds(tmp_path):
    rows = [
        {"run": f"r{s}", "cell": c, "seed": s, "status": "ok", "step": 6, "valid_mse": v}
        for c, s, v in [("rnn", 0, 1.0), ("rnn", 1, 3.0), ("gru", 0, 0.5), ("gru", 1, 0.5)]
    ]
    text = summary_tables(rows)
    assert "| rnn | 2 | 2 ± 1.4 |" in text and "| gru | 2 | 0.5 ± 0 |" in text
