"""Sweeps: a grid of settings and seeds, one run per group of processes, one summary table.

    bptt sweep grid.toml                               the runs one after another
    mpiexec -n 4 bptt sweep grid.toml                  4 runs at a time, one process each
    mpiexec -n 4 bptt sweep grid.toml --procs-per-run 2
                                                       2 runs at a time, each data-parallel
                                                       over 2 processes (bptt.train.distributed)

The file (TOML)::

    [sweep]
    out = "runs/sweep"    # OUT/<run>/ per run, OUT/summary.csv and OUT/summary.md
    test = false          # also score the test split at the end of each run

    [base]                # the settings of every run: any key of `bptt train --config`
    task = "adding"
    steps = 2000

    [grid]                # every combination, in this order (the last key varies fastest)
    cell = ["lstm", "gru"]
    seed = [0, 1, 2]

Run i (in grid order) goes to group i mod G of the G = W / procs_per_run groups of
consecutive processes; a group trains its runs one after another. A run whose directory
already holds its result (``result.json``) is read back, one with checkpoints resumes (bit for
bit), so a sweep stopped half way picks up where it was. ``run_sweep`` takes any function of
a run, which is how the acceptance and results scripts (experiments/) run their seeds.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple, TextIO

import numpy as np

from bptt.errors import BpttError
from bptt.train.checkpoint import list_checkpoints, load_checkpoint
from bptt.train.config import SETTINGS, load_toml, resolve_config
from bptt.train.distributed import World, current_world
from bptt.train.resume import resume_config
from bptt.train.trainer import Trainer, TrainingDivergedError

RESULT = "result.json"
SUMMARY_CSV = "summary.csv"
SUMMARY_MD = "summary.md"
TABLES = ("sweep", "base", "grid")
SWEEP_KEYS = ("out", "test")


class SweepRun(NamedTuple):
    """One run of a sweep.

    Attributes:
        name: its directory name under the sweep's ``out`` (from its grid values).
        values: its grid values, {setting: value}.
        settings: the settings layer it trains with (base, values and its ``out``).
    """

    name: str
    values: dict[str, Any]
    settings: dict[str, Any]


class Sweep(NamedTuple):
    """A sweep file, read: where it writes, whether it scores the test split, its runs."""

    out: Path
    test: bool
    runs: list[SweepRun]


def run_name(values: dict[str, Any]) -> str:
    """A directory name from grid values: ``cell-lstm_seed-0`` (unsafe characters as -)."""
    if not values:
        return "run"
    parts = (f"{k}-{v}" for k, v in values.items())
    return re.sub(r"[^A-Za-z0-9_.+-]", "-", "_".join(parts))


def grid_runs(base: dict[str, Any], grid: dict[str, list[Any]], out: Path) -> list[SweepRun]:
    """Every combination of ``grid`` over ``base``, the last key varying fastest; each run
    writes to ``out``/<name>.

    Raises:
        BpttError: a grid entry that is not a non-empty list, a setting bptt does not know,
            or a combination that is not a valid config (every run is checked here, before
            any trains).
    """
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise BpttError(
                f"[grid] {key} must be a non-empty list of values, got {values!r}; e.g. "
                f"{key} = [{values!r}]."
            )
    unknown = sorted((set(base) | set(grid)) - set(SETTINGS))
    if unknown:
        raise BpttError(f"Unknown setting(s) {unknown} in the sweep; valid names: {SETTINGS}.")
    if "out" in base or "out" in grid:
        raise BpttError("`out` goes in the [sweep] table: every run writes to OUT/<run name>.")
    runs = []
    for combination in itertools.product(*grid.values()):
        values = dict(zip(grid, combination, strict=True))
        name = run_name(values)
        settings = {**base, **values, "out": str(out / name)}
        resolve_config(settings)  # every run valid before any trains
        runs.append(SweepRun(name, values, settings))
    names = [r.name for r in runs]
    if len(set(names)) != len(names):
        raise BpttError(f"Two runs of the grid get the same directory name: {names}.")
    return runs


def load_sweep(path: str | Path, *, out: str | None = None) -> Sweep:
    """A sweep file's runs (see the module docstring); ``out`` overrides its [sweep] out."""
    values = load_toml(path)
    extra = sorted(set(values) - set(TABLES))
    if extra:
        raise BpttError(
            f"Sweep file {path} has {extra}; it holds the tables [sweep], [base] and [grid]."
        )
    head = values.get("sweep", {})
    unknown = sorted(set(head) - set(SWEEP_KEYS))
    if unknown:
        raise BpttError(f"[sweep] in {path} has {unknown}; it takes {', '.join(SWEEP_KEYS)}.")
    folder = Path(out or head.get("out") or "runs/sweep")
    runs = grid_runs(dict(values.get("base", {})), dict(values.get("grid", {})), folder)
    return Sweep(folder, bool(head.get("test", False)), runs)


def run_sweep(
    runs: Sequence[SweepRun],
    work: Callable[[SweepRun, World | None], dict[str, Any]],
    *,
    procs_per_run: int = 1,
    world: World | str | None = "auto",
) -> list[dict[str, Any]] | None:
    """``work(run, group)`` for every run, spread over groups of ``procs_per_run`` processes.

    Args:
        runs: the runs, in order.
        work: trains one run in ``group`` (None: this process alone) and returns its row; its
            value counts on the group's first process.
        procs_per_run: processes that train one run together.
        world: the processes of the sweep (default: the MPI launcher's, else this one).

    Returns:
        The rows in the order of ``runs`` on the sweep's first process; None on the others.
    """
    world = current_world() if world == "auto" else world
    if world is None:
        if procs_per_run != 1:
            raise BpttError(
                f"--procs-per-run {procs_per_run} needs {procs_per_run} processes or a "
                f"multiple: launch with mpiexec -n {procs_per_run} bptt sweep ..."
            )
        return [work(run, None) for run in runs]
    group = world.split(procs_per_run)
    groups = world.size // procs_per_run
    mine = range(world.rank // procs_per_run, len(runs), groups)
    rows = {i: work(runs[i], group) for i in mine}
    lead = group is None or group.rank == 0
    _wait_for_everyone(world)
    gathered = world.comm.gather(rows if lead else {}, root=0)
    if world.rank != 0:
        return None
    merged: dict[int, dict[str, Any]] = {}
    for part in gathered:
        merged.update(part)
    return [merged[i] for i in range(len(runs))]


def _wait_for_everyone(world: World) -> None:
    """A barrier that sleeps instead of spinning (a finished process leaves its core to the
    runs still training) and lets a signal through."""
    request = world.comm.Ibarrier()
    while not request.Test():
        time.sleep(0.05)


def train_run(
    run: SweepRun, group: World | None, *, test: bool = False, stream: TextIO | None = None
) -> dict[str, Any]:
    """Train ``run`` (resume it, or read back its result), in ``group``; returns its row:
    its grid values, status, updates, seconds, and the validation (and test) metric and
    loss. Writes ``result.json`` into the run's directory. A run that cannot start or that
    diverges gets a row whose status says why; the sweep goes on."""
    out = Path(run.settings["out"])
    config = resolve_config(run.settings)
    saved = _saved_result(out, config.steps)
    if saved is not None:
        return saved
    row: dict[str, Any] = {"run": run.name, **run.values}
    lead = group is None or group.rank == 0

    def build() -> Trainer:
        ckpt = None
        settings = config
        if list_checkpoints(out / "checkpoints"):
            ckpt = load_checkpoint(out)
            settings = resume_config(ckpt, {"steps": config.steps})
        return Trainer(settings, resume=ckpt, stream=stream, world=group)

    try:
        trainer = build() if group is None else group.agreed(build)
    except BpttError as error:
        return {**row, "status": f"failed: {error}", "out": str(out)}
    t0 = time.perf_counter()
    try:
        trainer.fit()
        row["status"] = "ok"
    except (TrainingDivergedError, BpttError) as error:
        row["status"] = f"failed: {error}"
    row["seconds"] = time.perf_counter() - t0
    row["step"] = trainer.state.step
    metric = trainer.task.metric.name
    for split in ("valid", "test") if test else ("valid",):
        scores = trainer.evaluate(split)
        row[f"{split}_{metric}"] = scores[metric]
        row[f"{split}_loss"] = scores["loss"]
    row["out"] = str(out)
    if lead and row["status"] == "ok":
        (out / RESULT).write_text(json.dumps({**row, "steps": config.steps}), encoding="utf-8")
    return row


def _saved_result(out: Path, steps: int) -> dict[str, Any] | None:
    """The row a finished run wrote, if it trained ``steps`` updates."""
    path = out / RESULT
    try:
        row = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    if not isinstance(row, dict) or row.pop("steps", None) != steps:
        return None
    return row


def write_summary(out: Path, rows: list[dict[str, Any]]) -> tuple[Path, Path]:
    """OUT/summary.csv (every column) and OUT/summary.md (the tables); returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with open(out / SUMMARY_CSV, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    (out / SUMMARY_MD).write_text(summary_tables(rows) + "\n", encoding="utf-8")
    return out / SUMMARY_CSV, out / SUMMARY_MD


def summary_tables(rows: list[dict[str, Any]]) -> str:
    """Markdown: one row per run; then, when runs differ in ``seed``, the mean ± std over
    seeds of each figure for every other combination."""
    shown = [k for k in dict.fromkeys(k for row in rows for k in row) if k not in ("out",)]
    text = _markdown(shown, rows)
    if not rows or "seed" not in rows[0] or len({r.get("seed") for r in rows}) < 2:
        return text
    figures = [k for k in shown if k.startswith(("valid_", "test_")) or k == "seconds"]
    keys = [k for k in shown if k not in (*figures, "run", "seed", "status", "step")]
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row.get(k) for k in keys), []).append(row)
    table = []
    for combination, members in groups.items():
        line: dict[str, Any] = dict(zip(keys, combination, strict=True))
        line["seeds"] = len(members)
        for figure in figures:
            values = [m[figure] for m in members if isinstance(m.get(figure), int | float)]
            line[figure] = _spread(values)
        table.append(line)
    return text + "\n\nOver seeds (mean ± std):\n\n" + _markdown([*keys, "seeds", *figures], table)


def _spread(values: list[float]) -> str:
    if not values:
        return ""
    a = np.asarray(values, dtype=np.float64)
    std = a.std(ddof=1) if a.size > 1 else 0.0
    return f"{a.mean():.4g} ± {std:.2g}"


def _markdown(columns: list[str], rows: list[dict[str, Any]]) -> str:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return "nan" if math.isnan(value) else f"{value:.4g}"
        return str(value).replace("|", "/")

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)
