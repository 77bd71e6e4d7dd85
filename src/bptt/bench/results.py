"""Result rows and how they are reported: Markdown tables and a JSON file.

Every measurement is a dict with a "kind": "environment" (versions, BLAS kernel, threads,
GEMM ceiling), "time" (one size, cell and mode), "memory" (one cell and T) or "long" (one
checkpointing policy on a long sequence). Values are plain floats, ints, strings and None.
"""

from __future__ import annotations

import itertools
import json
import os
import statistics
from collections.abc import Sequence
from typing import Any

from bptt.bench.programs import step_flops
from bptt.bench.sizes import BenchConfig
from bptt.bench.timing import Run

Row = dict[str, Any]

READOUT_TEXT = {"all": "per-step readout and MSE", "last": "readout and MSE of the last step"}
"""How ``format_table`` names each readout in a long table's heading."""

SIDES = ("bptt", "torch")


def time_row(
    cell: str, mode: str, config: BenchConfig, n_out: int, runs: dict[str, list[Run]]
) -> Row:
    """The {"kind": "time"} row of one size, cell and mode from the runs of each side."""
    flops = step_flops(cell, config, mode, n_out)
    row: Row = {"kind": "time", "cell": cell, "mode": mode, **config._asdict()}
    row["O"] = n_out
    row["gflop"] = flops / 1e9
    times = {side: [seconds for seconds, _ in r] for side, r in runs.items()}
    for side in SIDES:
        if side in runs:
            seconds = statistics.median(times[side])
            row[f"{side}_ms"] = seconds * 1e3
            row[f"{side}_runs_ms"] = [s * 1e3 for s in times[side]]
            row[f"{side}_gflops"] = flops / seconds / 1e9
            row[f"{side}_faults_per_call"] = statistics.median(f for _, f in runs[side])
        else:
            row[f"{side}_ms"] = row[f"{side}_runs_ms"] = row[f"{side}_gflops"] = None
            row[f"{side}_faults_per_call"] = None
    if "torch" in runs:
        ratios = [b / t for b, t in zip(times["bptt"], times["torch"], strict=True)]
        row["ratio"] = statistics.median(ratios)
        row["ratio_runs"] = ratios
    else:
        row["ratio"] = row["ratio_runs"] = None
    return row


def row_line(row: Row) -> str:
    """One progress line for a "time" row."""
    size = f"B={row['B']} T={row['T']} D={row['D']} H={row['H']}"
    text = f"{row['cell']:>4} {row['mode']:<5} {size}: bptt {row['bptt_ms']:.2f} ms"
    if row["ratio"] is not None:
        text += f", torch {row['torch_ms']:.2f} ms, ratio {row['ratio']:.2f}"
    return text


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def format_table(results: Sequence[Row]) -> str:
    """Markdown tables of ``run_benchmarks`` or ``run_long`` results: environment, times,
    memory versus T, long sequences."""
    lines: list[str] = []
    for env in (r for r in results if r["kind"] == "environment"):
        lines += _environment_lines(env)
    rows = [r for r in results if r["kind"] == "time"]
    if rows:
        lines += _time_lines(rows)
    memory = [r for r in results if r["kind"] == "memory"]
    if memory:
        lines += _memory_lines(memory)
    long_rows = [r for r in results if r["kind"] == "long"]
    for _, group in itertools.groupby(
        long_rows,
        key=lambda r: (r["cell"], r["B"], r["T"], r["D"], r["H"], r.get("readout", "all")),
    ):
        lines += _long_lines(list(group))
    return "\n".join(lines).rstrip() + "\n"


def _environment_lines(env: Row) -> list[str]:
    blas = env["blas"]
    kernel = blas.get("architecture") or "unknown kernel"
    lines = [
        f"numpy {env['numpy']} ({blas.get('internal_api', 'BLAS')} {blas.get('version', '')}"
        f", kernel {kernel}), torch {env['torch'] or 'not measured'}, {env['threads']} "
        f"threads, {env['processor']}, {env.get('clock', 'wall')} clock"
    ]
    if env.get("load_average") is not None:
        end = env.get("load_average_end")
        lines.append(
            f"load average at start {env['load_average'][0]:.2f}"
            + (f", at end {end[0]:.2f}" if end else "")
            + f" (on {env['cpu_count']} CPUs)"
        )
    if env.get("gemm_gflops") is not None:
        runs = ", ".join(f"{g:.0f}" for g in env["gemm_gflops_runs"])
        n = env.get("gemm_size", 2048)
        lines.append(
            f"GEMM ceiling ({n}x{n} by {n}x{n} float32 through NumPy): "
            f"{env['gemm_gflops']:.0f} GFLOP/s (runs {runs})"
        )
    return [*lines, ""]


def _time_lines(rows: list[Row]) -> list[str]:
    lines = [
        "| B | T | D | H | cell | mode | bptt ms | torch ms | bptt/torch | "
        "bptt GFLOP/s (% ceil) | torch GFLOP/s (% ceil) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        cells = [str(r["B"]), str(r["T"]), str(r["D"]), str(r["H"]), r["cell"], r["mode"]]
        cells += [_fmt(r["bptt_ms"], ".2f"), _fmt(r["torch_ms"], ".2f"), _fmt(r["ratio"], ".2f")]
        for side in SIDES:
            gflops, frac = r[f"{side}_gflops"], r.get(f"{side}_ceiling_fraction")
            text = _fmt(gflops, ".1f")
            if gflops is not None and frac is not None:
                text += f" ({100 * frac:.0f}%)"
            cells.append(text)
        lines.append("| " + " | ".join(cells) + " |")
    faults = {
        side: [r[f"{side}_faults_per_call"] for r in rows if r.get(f"{side}_faults_per_call")]
        for side in SIDES
    }
    lines += [
        "",
        "Minor page faults per call, largest over the rows: "
        + ", ".join(f"{side} {max(f, default=0):.0f}" for side, f in faults.items())
        + " (fresh memory mapped while timing; 0 once the allocator reuses its heap).",
        "",
    ]
    return lines


def _memory_lines(rows: list[Row]) -> list[str]:
    lines = [
        "Peak memory of one training step (MiB; tracemalloc = NumPy buffers, "
        "RSS = resident-set growth in a fresh process):",
        "",
        "| cell | B | T | D | H | bptt tracemalloc | bptt RSS | torch RSS |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['cell']} | {r['B']} | {r['T']} | {r['D']} | {r['H']} | "
            f"{_fmt(r['bptt_tracemalloc_mib'], '.1f')} | {_fmt(r['bptt_rss_mib'], '.1f')} | "
            f"{_fmt(r.get('torch_rss_mib'), '.1f')} |"
        )
    return [*lines, ""]


def _long_lines(group: list[Row]) -> list[str]:
    """The table of one long-sequence measurement: one row per policy, full BPTT first."""
    first = group[0]
    readout = first.get("readout", "all")
    lines = [
        f"Long sequences, one training step of {first['cell']} with B={first['B']}, "
        f"T={first['T']}, D={first['D']}, H={first['H']} "
        f"({READOUT_TEXT.get(readout, readout)}): "
        f"full versus checkpointed BPTT (time: median of {len(first['time_runs_s'])} "
        "alternated runs; memory: tracemalloc peak = NumPy buffers, RSS = resident-set "
        "growth in a fresh process; ratios against full BPTT):",
        "",
        "| policy | stored states | step evaluations | time s | time / full | "
        "tracemalloc MiB | RSS MiB | full / this (tracemalloc) | full / this (RSS) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in group:
        evaluations = r.get("step_evaluations")
        lines.append(
            f"| {r['policy']} | {r['stored_states']} | "
            f"{'-' if evaluations is None else evaluations} | {r['time_s']:.3f} | "
            f"{_fmt(r['time_ratio'], '.2f')} | {r['tracemalloc_mib']:.1f} | "
            f"{_fmt(r['rss_mib'], '.1f')} | {_fmt(r['memory_ratio'], '.1f')} | "
            f"{_fmt(r['rss_ratio'], '.1f')} |"
        )
    return [*lines, ""]


def write_json(results: Sequence[Row], path: str | os.PathLike[str]) -> None:
    """Write the results as indented JSON (plain floats, ints, strings and None)."""
    with open(path, "w") as f:
        json.dump(list(results), f, indent=2)
        f.write("\n")
