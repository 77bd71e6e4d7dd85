"""A smoke run of the benchmark suite (bptt.bench) on a tiny size: structure, not speed."""

import json
import sys

import pytest

from bptt import bench
from bptt.bench import (
    BenchConfig,
    bptt_programs,
    format_table,
    parse_budgets,
    parse_config,
    run_benchmarks,
    run_long,
    step_flops,
    write_json,
)
from bptt.cli import main
from bptt.engine.schedule import make_plan, peak_slots, plan_cost

TINY = BenchConfig(B=2, T=3, D=4, H=5)


def tiny_run(**kwargs):
    options = {
        "repeats": 1,
        "warmup": 1,
        "min_calls": 1,
        "run_seconds": 0.0,
        "memory_steps": (3,),
        "memory_config": BenchConfig(2, 0, 4, 5),
        "memory_rss": False,
        "gemm_size": 128,
    }
    return run_benchmarks([TINY], ["rnn", "lstm", "gru"], **{**options, **kwargs})


def test_runs_without_torch(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now fails
    results = tiny_run(include_torch=False)
    env, *rows = results
    assert env["kind"] == "environment" and env["torch"] is None
    assert env["gemm_gflops"] > 0 and env["threads"] >= 1
    times = [r for r in rows if r["kind"] == "time"]
    memory = [r for r in rows if r["kind"] == "memory"]
    assert [(r["cell"], r["mode"]) for r in times] == [
        (c, m) for c in ("rnn", "lstm", "gru") for m in ("train", "infer")
    ]
    for r in times:
        assert (r["B"], r["T"], r["D"], r["H"], r["O"]) == (2, 3, 4, 5, 4)
        assert r["bptt_ms"] > 0 and len(r["bptt_runs_ms"]) == 1
        assert r["torch_ms"] is None and r["ratio"] is None
        assert r["gflop"] == step_flops(r["cell"], TINY, r["mode"], 4) / 1e9
        assert 0 < r["bptt_ceiling_fraction"] == r["bptt_gflops"] / env["gemm_gflops"]
    assert [(r["cell"], r["T"]) for r in memory] == [("rnn", 3), ("lstm", 3), ("gru", 3)]
    assert all(r["bptt_tracemalloc_mib"] > 0 and r["bptt_rss_mib"] is None for r in memory)

    table = format_table(results)
    assert (
        "| B | T | D | H | cell | mode |" in table and "| 2 | 3 | 4 | 5 | lstm | train |" in table
    )
    assert "torch not measured" in table and "bptt tracemalloc" in table
    path = tmp_path / "bench.json"
    write_json(results, path)
    assert json.loads(path.read_text()) == json.loads(json.dumps(results))


def test_with_torch():
    pytest.importorskip("torch")
    results = tiny_run(memory_steps=(), modes=("infer",))
    rows = [r for r in results if r["kind"] == "time"]
    assert len(rows) == 3
    assert all(r["torch_ms"] > 0 and r["ratio"] > 0 and len(r["ratio_runs"]) == 1 for r in rows)


def test_torch_requested_but_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match="include_torch=True needs PyTorch"):
        tiny_run(include_torch=True)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cells": ["lstmx"]}, "Unknown cell 'lstmx'"),
        ({"modes": ["fit"]}, "Unknown mode 'fit'"),
        ({"repeats": 0}, "`repeats` must be >= 1, got 0."),
        ({"clock": "gpu"}, "Unknown clock 'gpu'"),
    ],
)
def test_bad_arguments(kwargs, message):
    cells = kwargs.pop("cells", ["rnn"])
    with pytest.raises(ValueError, match=message):
        run_benchmarks([TINY], cells, include_torch=False, **kwargs)


def test_parse_config():
    assert parse_config("32,100,64,128") == BenchConfig(32, 100, 64, 128)
    with pytest.raises(ValueError, match="four positive integers B,T,D,H, got '32,100'"):
        parse_config("32,100")


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


def test_long_full_versus_checkpointed(tmp_path):
    # T = 400 with H = 16: full BPTT keeps 400 step caches, the budgets about 40 or 25 slots.
    results = run_long(T=400, B=2, D=3, H=16, budgets=("sqrt", 25), repeats=2, rss=False)
    env, *rows = results
    assert env["kind"] == "environment" and env["threads"] >= 1
    assert [r["kind"] for r in rows] == ["long"] * 3
    assert [r["policy"] for r in rows] == ["full", "sqrt", "25"]
    full, sqrt, m25 = rows
    for r in rows:
        assert (r["cell"], r["B"], r["T"], r["D"], r["H"], r["O"]) == ("lstm", 2, 400, 3, 16, 3)
        assert r["readout"] == "all"
        assert r["time_s"] > 0 and len(r["time_runs_s"]) == 2
        assert r["rss_mib"] is None and r["rss_ratio"] is None
        assert r["memory_ratio"] == full["tracemalloc_mib"] / r["tracemalloc_mib"]
    assert full["stored_states"] == full["step_evaluations"] == 400
    assert full["time_ratio"] is None and full["memory_ratio"] == 1.0
    for r, policy in ((sqrt, "sqrt"), (m25, 25)):
        plan = make_plan(400, policy)
        assert (r["stored_states"], r["step_evaluations"]) == (peak_slots(plan), plan_cost(plan))
        assert r["stored_states"] < 400 < r["step_evaluations"]
        ratios = [c / f for c, f in zip(r["time_runs_s"], full["time_runs_s"], strict=True)]
        assert r["time_ratio_runs"] == ratios and min(ratios) <= r["time_ratio"] <= max(ratios)
        # The point of checkpointing: NumPy's peak during the step is well below full BPTT's.
        assert r["tracemalloc_mib"] < full["tracemalloc_mib"] / 2

    table = format_table(results)
    assert "Long sequences, one training step of lstm with B=2, T=400, D=3, H=16" in table
    assert "H=16 (per-step readout and MSE): full versus checkpointed BPTT" in table
    assert "| policy | stored states | step evaluations | time s | time / full |" in table
    assert f"| full | 400 | 400 | {full['time_s']:.3f} | - |" in table
    assert f"| 25 | {m25['stored_states']} | {m25['step_evaluations']} |" in table
    path = tmp_path / "long.json"
    write_json(results, path)
    assert json.loads(path.read_text()) == json.loads(json.dumps(results))


def test_bptt_programs_last_step_readout():
    config = BenchConfig(B=2, T=5, D=3, H=4)
    every, last = bptt_programs("lstm", config, 2), bptt_programs("lstm", config, 2, readout="last")
    # Same parameters and inputs: inference reads the same last step either way.
    assert last["infer"]() == pytest.approx(every["infer"](), rel=1e-6)
    assert all(isinstance(program(), float) for program in (*every.values(), *last.values()))
    with pytest.raises(ValueError, match="Unknown readout 'none'"):
        bptt_programs("lstm", config, 2, readout="none")


def test_long_last_step_readout():
    # With a last-step readout, checkpointed BPTT keeps no per-step outputs, readout outputs
    # or their gradients: its peak is a smaller fraction of full BPTT's than with a per-step
    # readout at the same size (about 0.15 versus 0.27 at T = 400, H = 16).
    fraction = {}
    for readout in ("all", "last"):
        results = run_long(T=400, B=2, D=3, H=16, budgets=("sqrt",), repeats=1, rss=False,
                           readout=readout)  # fmt: skip
        full, sqrt = results[1:]
        assert [(r["policy"], r["readout"]) for r in (full, sqrt)] == [
            ("full", readout),
            ("sqrt", readout),
        ]
        fraction[readout] = sqrt["tracemalloc_mib"] / full["tracemalloc_mib"]
    assert fraction["last"] < 0.75 * fraction["all"], fraction
    table = format_table(results)
    assert "H=16 (readout and MSE of the last step): full versus checkpointed BPTT" in table


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"T": 0}, "`T` must be an integer >= 1, got 0."),
        ({"readout": "none"}, "Unknown readout 'none'"),
        ({"repeats": 0}, "`repeats` must be an integer >= 1, got 0."),
        ({"cell": "lstmx"}, "Unknown cell 'lstmx'"),
        ({"budgets": ("sqrt", 0)}, "Unknown checkpointing budget 0"),
        ({"budgets": (True,)}, "Unknown checkpointing budget True"),
        ({"budgets": ("sqrt", "sqrt")}, "`budgets` repeats a policy"),
        ({"clock": "gpu"}, "Unknown clock 'gpu'"),
    ],
)
def test_long_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        run_long(**{"T": 4, "B": 1, "D": 1, "H": 2, "rss": False, **kwargs})


def test_parse_budgets():
    assert parse_budgets("sqrt,50") == ("sqrt", 50)
    assert parse_budgets(" 7 ") == (7,)
    for text in ("sqrt,0", "50MiB", "sqrt,", "-3"):
        with pytest.raises(ValueError, match="'sqrt' or a number of stored states >= 1"):
            parse_budgets(text)


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

    monkeypatch.setattr(bench, "_rss_growth", rss_growth)
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


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RSS is measured on Linux")
def test_rss_growth_of_a_last_step_readout():
    # The fresh process gets the policy and the readout on its command line.
    assert bench._rss_growth("bptt", "lstm", BenchConfig(2, 50, 3, 8), 3, 1, "sqrt", "last") > 0


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
