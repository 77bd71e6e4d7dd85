"""A smoke run of the benchmark suite (bptt.bench.run_benchmarks) on a tiny size: structure,
not speed."""

import json
import sys

import pytest

from bptt.bench import BenchConfig, format_table, run_benchmarks, step_flops, write_json

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
