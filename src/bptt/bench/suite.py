"""The benchmark suite: bptt (and torch) on every size, cell and mode, then memory versus T."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from bptt.bench import memory
from bptt.bench.environment import environment_row, gemm_ceiling, load_average, thread_limits
from bptt.bench.programs import bptt_programs, torch_programs
from bptt.bench.results import SIDES, Row, row_line, time_row
from bptt.bench.sizes import CELLS, DEFAULT_SIZES, MEMORY_CONFIG, MODES, BenchConfig
from bptt.bench.timing import CLOCKS, Run, time_alternately
from bptt.errors import BpttError, MissingExtraError

TimePrograms = Callable[[dict[str, Callable[[], Any]]], dict[str, list[Run]]]


def run_benchmarks(
    configs: Iterable[BenchConfig] = DEFAULT_SIZES,
    cells: Sequence[str] = CELLS,
    *,
    repeats: int = 3,
    include_torch: bool = True,
    modes: Sequence[str] = MODES,
    threads: int | None = None,
    output_size: int | None = None,
    warmup: int = 2,
    min_calls: int = 3,
    run_seconds: float = 0.3,
    memory_steps: Sequence[int] = (250, 500, 1000),
    memory_config: BenchConfig = MEMORY_CONFIG,
    memory_rss: bool = True,
    clock: str = "wall",
    gemm_size: int = 2048,
    progress: Callable[[str], None] | None = None,
) -> list[Row]:
    """Time bptt (and torch) on every configuration, cell and mode; measure memory versus T.

    Args:
        configs: sizes (B, T, D, H); the six ``DEFAULT_SIZES`` by default.
        cells: any of "rnn", "lstm", "gru".
        repeats: runs per framework (>= 1); each run is the median of its calls.
        include_torch: also time torch.nn.* (needs torch); False reports bptt alone.
        modes: "train" and/or "infer".
        threads: BLAS and torch threads; None keeps NumPy's BLAS setting.
        output_size: O of the readout; D (predict the input features) when None.
        warmup: calls before timing, per program.
        min_calls, run_seconds: calls per run: at least ``min_calls``, about ``run_seconds``.
        memory_steps: the T values of the memory measurement (empty to skip it).
        memory_config: B, D and H of the memory measurement.
        memory_rss: also measure resident-set growth in fresh processes (slower).
        clock: "wall" (elapsed time) or "cpu" (process CPU time, robust to foreign load on a
            shared machine, but meaningful only with threads=1); see CLOCKS.
        gemm_size: n of the (n, n) x (n, n) product that measures the GEMM ceiling.
        progress: called with one line per finished measurement (e.g. ``print``).

    Returns:
        A list of dicts: one {"kind": "environment"} (versions, BLAS kernel, threads, GEMM
        ceiling), one {"kind": "time"} per configuration, cell and mode, and one
        {"kind": "memory"} per cell and T. Times are milliseconds.

    Raises:
        ValueError: an unknown cell, mode or clock, or repeats < 1.
        ImportError: include_torch=True without torch installed.
    """
    cells, modes = list(cells), list(modes)
    torch_version = _check_arguments(cells, modes, repeats, clock, include_torch)
    say = progress or (lambda line: None)

    def time_programs(programs: dict[str, Callable[[], Any]]) -> dict[str, list[Run]]:
        return time_alternately(programs, repeats, warmup, min_calls, run_seconds, CLOCKS[clock])

    with thread_limits(threads, include_torch):
        env = environment_row(threads, torch_version, clock)
        env["gemm_size"] = gemm_size
        ceilings = [gemm_ceiling(gemm_size)]
        say(f"GEMM ceiling {ceilings[0]:.1f} GFLOP/s, BLAS {env['blas'].get('architecture')}")
        rows = _time_rows(configs, cells, modes, output_size, include_torch, time_programs, say)
        ceilings.append(gemm_ceiling(gemm_size))
        _set_ceiling(env, rows, ceilings)
        sides = SIDES if include_torch else ("bptt",)
        for cell in cells:
            for T in memory_steps:
                config = memory_config._replace(T=T)
                n_out = output_size or config.D
                row = _memory_row(cell, config, n_out, sides, env["threads"], memory_rss)
                rows.append(row)
                say(
                    f"memory {cell} T={T}: bptt {row['bptt_tracemalloc_mib']:.1f} MiB (tracemalloc)"
                )
    return [env, *rows]


def _check_arguments(
    cells: list[str], modes: list[str], repeats: int, clock: str, include_torch: bool
) -> str | None:
    """Raise for an unknown cell, mode or clock, repeats < 1, or torch asked for but missing;
    return torch's version (None without torch)."""
    for c in cells:
        if c not in CELLS:
            raise BpttError(f"Unknown cell {c!r} for the benchmark; expected one of {CELLS}.")
    for m in modes:
        if m not in MODES:
            raise BpttError(f"Unknown mode {m!r}; expected one of {MODES}.")
    if repeats < 1:
        raise BpttError(f"`repeats` must be >= 1, got {repeats}.")
    if clock not in CLOCKS:
        raise BpttError(f"Unknown clock {clock!r}; expected one of {tuple(CLOCKS)}.")
    if not include_torch:
        return None
    try:
        import torch
    except ImportError as error:
        raise MissingExtraError(
            "include_torch=True needs PyTorch: pip install torch, or run bptt alone "
            "(include_torch=False, `--no-torch`)."
        ) from error
    return torch.__version__


def _time_rows(
    configs: Iterable[BenchConfig],
    cells: list[str],
    modes: list[str],
    output_size: int | None,
    include_torch: bool,
    time_programs: TimePrograms,
    say: Callable[[str], None],
) -> list[Row]:
    """One {"kind": "time"} row per configuration, cell and mode, bptt and torch alternated."""
    rows = []
    for config in configs:
        config = BenchConfig(*config)
        n_out = output_size or config.D
        for cell in cells:
            bptt = bptt_programs(cell, config, n_out)
            other = torch_programs(cell, config, n_out) if include_torch else {}
            for mode in modes:
                programs = {"bptt": bptt[mode]}
                if include_torch:
                    programs["torch"] = other[mode]
                row = time_row(cell, mode, config, n_out, time_programs(programs))
                rows.append(row)
                say(row_line(row))
    return rows


def _set_ceiling(env: Row, rows: list[Row], ceilings: list[float]) -> None:
    """Record the GEMM ceiling (median of the runs before and after the timing) in the
    environment row, and each time row's GFLOP/s as a fraction of it."""
    ceiling = statistics.median(ceilings)
    env["gemm_gflops"] = ceiling
    env["load_average_end"] = load_average()
    env["gemm_gflops_runs"] = ceilings
    for row in rows:
        for side in SIDES:
            if row.get(f"{side}_gflops") is not None:
                row[f"{side}_ceiling_fraction"] = row[f"{side}_gflops"] / ceiling


def _memory_row(
    cell: str, config: BenchConfig, n_out: int, sides: Sequence[str], threads: int, rss: bool
) -> Row:
    """The {"kind": "memory"} row of one cell and T: tracemalloc peak, resident-set growth."""
    row: Row = {"kind": "memory", "cell": cell, **config._asdict(), "O": n_out}
    row["bptt_tracemalloc_mib"] = memory.tracemalloc_peak(cell, config, n_out) / 2**20
    for side in sides:
        growth = memory.rss_growth(side, cell, config, n_out, threads) if rss else None
        row[f"{side}_rss_mib"] = None if growth is None else growth / 2**20
    return row
