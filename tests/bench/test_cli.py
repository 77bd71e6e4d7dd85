"""`bptt bench` in-process: exit codes, tables, JSON files and one-line user errors."""

import json
import sys

import pytest

from bptt.bench import memory
from bptt.cli import main


def test_bptt_bench_command(tmp_path, capsys):
    out = tmp_path / "bench.json"
    args = [
        "bench",
        "--config",
        "2,3,4,5",
        "--cell",
        "gru",
        "--repeats",
        "1",
        "--run-seconds",
        "0",
        "--no-memory",
        "--no-torch",
        "--json",
        str(out),
    ]
    assert main(args) == 0
    assert "gru" in capsys.readouterr().out
    assert json.loads(out.read_text())
    assert main(["bench", "--repeats", "0"]) == 2


def test_bptt_bench_long_command(tmp_path, capsys):
    out = tmp_path / "long.json"
    args = ["bench", "--long", "--long-steps", "40", "--long-budgets", "sqrt,5"]
    assert (
        main([*args, "--cell", "gru", "--repeats", "1", "--threads", "1", "--json", str(out)]) == 0
    )
    table = capsys.readouterr().out
    assert "one training step of gru with B=16, T=40, D=64, H=256" in table
    rows = json.loads(out.read_text())
    assert [r["kind"] for r in rows] == ["environment", "long", "long", "long"]
    assert rows[0]["threads"] == 1
    assert [(r["policy"], r["T"], len(r["time_runs_s"])) for r in rows[1:]] == [
        ("full", 40, 1),
        ("sqrt", 40, 1),
        ("5", 40, 1),
    ]
    assert all(f"| {r['policy']} | {r['stored_states']} |" in table for r in rows[1:])
    if sys.platform.startswith("linux"):  # resident-set growth of a step in a fresh process
        full = rows[1]
        assert all(r["rss_mib"] > 0 for r in rows[1:])
        assert all(r["rss_ratio"] == full["rss_mib"] / r["rss_mib"] for r in rows[1:])


def test_bptt_bench_long_readout_command(tmp_path, capsys, monkeypatch):
    calls = []  # the fresh processes' RSS measurements, recorded instead of run (slow)

    def rss_growth(framework, cell, config, output_size, threads, policy=None, readout="all"):
        calls.append((readout, policy))
        return 2**20

    monkeypatch.setattr(memory, "rss_growth", rss_growth)
    out = tmp_path / "long.json"
    args = ["bench", "--long", "--long-steps", "20", "--long-budgets", "sqrt", "--repeats", "1"]
    readouts = ["--long-readout", "last", "--long-readout", "all", "--long-readout", "last"]
    assert main([*args, *readouts, "--threads", "1", "--json", str(out)]) == 0
    table = capsys.readouterr().out
    rows = [r for r in json.loads(out.read_text()) if r["kind"] == "long"]
    expected = [("last", "full"), ("last", "sqrt"), ("all", "full"), ("all", "sqrt")]
    assert [(r["readout"], r["policy"]) for r in rows] == expected
    assert calls == [("last", None), ("last", "sqrt"), ("all", None), ("all", "sqrt")]
    assert all(r["rss_mib"] == 1.0 for r in rows)
    last = table.index("T=20, D=64, H=256 (readout and MSE of the last step): full versus")
    assert last < table.index("T=20, D=64, H=256 (per-step readout and MSE): full versus")


def test_bptt_bench_long_bad_readout(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        main(["bench", "--long", "--long-readout", "first", "--json", str(tmp_path / "x.json")])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "invalid choice: 'first'" in err
    assert not (tmp_path / "x.json").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--long-steps", "0"], "`--long-steps` must be >= 1, got 0."),
        (["--long-budgets", "sqrt,0"], "A checkpointing budget is 'sqrt' or a number"),
        (["--repeats", "0"], "`--repeats` must be >= 1, got 0."),
        (["--config", "2,3,4,5"], "`--config` does not apply to `--long`"),
        (["--cell", "rnn", "--cell", "gru"], "`--long` measures one cell; got `--cell` rnn, gru."),
    ],
)
def test_bptt_bench_long_user_errors(args, message, capsys, tmp_path):
    assert main(["bench", "--long", *args, "--json", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bptt bench: error: ") and message in err
    assert err.count("\n") == 1
    assert not (tmp_path / "x.json").exists()
