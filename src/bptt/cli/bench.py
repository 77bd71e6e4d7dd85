"""``bptt bench``: time bptt against PyTorch (when installed) on this machine."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from bptt.bench import (
    CELLS,
    DEFAULT_SIZES,
    LONG_BUDGETS,
    LONG_CONFIG,
    LONG_READOUTS,
    MEMORY_CONFIG,
    MODES,
    format_table,
    parse_budgets,
    parse_config,
    run_benchmarks,
    run_long,
    write_json,
)
from bptt.errors import BpttError

EXAMPLES = """examples:
  bptt bench                                    the six default sizes, all cells
  bptt bench --config 32,100,64,128 --cell lstm --repeats 5
  bptt bench --no-torch --no-memory --json out.json
  OPENBLAS_NUM_THREADS=1 bptt bench --threads 1 --clock cpu    robust on a busy machine
  bptt bench --long                             LSTM, T=10,000: full vs checkpointed BPTT
  bptt bench --long --long-steps 2000 --long-budgets sqrt,50,100 --repeats 5
  bptt bench --long --long-readout last         one prediction per sequence (its last step)
  bptt bench --long --long-readout all --long-readout last     both, one table each
"""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "bench",
        help="training-step and inference time against torch.nn.RNN/LSTM/GRU",
        description=(
            "Time one training step (forward, per-step linear readout, MSE, backward, SGD) and "
            "inference of bptt's cells and of PyTorch's, measured alternately in one run "
            "(medians of --repeats runs); report the ratio, GFLOP/s against the GEMM ceiling "
            "measured in the same run, and peak memory versus T. torch is optional. With --long: "
            "full versus checkpointed BPTT on one long sequence (time and peak memory), with a "
            "readout at every step or of the last step alone (--long-readout)."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_suite_options(p.add_argument)
    _add_long_options(p.add_argument)
    p.add_argument(
        "--json",
        default=None,
        help="where to write the JSON results (default bench.json, bench_long.json for --long)",
    )
    p.set_defaults(func=run, command="bench")


def _add_suite_options(add: Any) -> None:
    """Options of the default run: sizes, cells, modes, timing and memory versus T."""
    add(
        "--config",
        action="append",
        type=_config,
        help="B,T,D,H (repeatable); default: the default sizes, "
        + " ".join(",".join(map(str, c)) for c in DEFAULT_SIZES),
    )
    add("--cell", action="append", choices=CELLS, help="repeatable; default all")
    add("--mode", action="append", choices=MODES, help="repeatable; default both")
    add("--repeats", type=int, default=3, help="runs per framework (median)")
    add("--threads", type=int, default=None, help="default: NumPy's BLAS threads")
    add("--run-seconds", type=float, default=0.3, help="target length of a run")
    add("--clock", choices=("wall", "cpu"), default="wall", help="wall or process CPU time")
    add("--no-torch", action="store_true", help="time bptt alone")
    add("--no-memory", action="store_true", help="skip peak memory versus T")
    add(
        "--memory-steps",
        default="250,500,1000",
        help=f"T values of the memory measurement (B, D, H = {MEMORY_CONFIG.B}, "
        f"{MEMORY_CONFIG.D}, {MEMORY_CONFIG.H})",
    )


def _add_long_options(add: Any) -> None:
    """Options of ``--long``: full versus checkpointed BPTT on one long sequence."""
    add(
        "--long",
        action="store_true",
        help=f"instead: one training step on a long sequence (B={LONG_CONFIG.B}, "
        f"D={LONG_CONFIG.D}, H={LONG_CONFIG.H}), full versus checkpointed BPTT: time and peak "
        "memory with their ratios",
    )
    add(
        "--long-readout",
        action="append",
        choices=LONG_READOUTS,
        help="readout of --long: 'all' (a prediction and MSE at every step, the default) or "
        "'last' (one per sequence, from the last step); repeat to measure both",
    )
    add(
        "--long-steps",
        type=int,
        default=LONG_CONFIG.T,
        help="T of --long (default %(default)s)",
    )
    add(
        "--long-budgets",
        default=",".join(map(str, LONG_BUDGETS)),
        help="checkpointing budgets of --long: sqrt and/or numbers of stored states "
        "(default %(default)s)",
    )


def run(args: argparse.Namespace) -> int:
    if args.repeats < 1:
        raise BpttError(f"`--repeats` must be >= 1, got {args.repeats}.")
    if args.threads is not None and args.threads < 1:
        raise BpttError(f"`--threads` must be >= 1, got {args.threads}.")
    _check_json_path("bench_long.json" if args.json is None and args.long else args.json)
    if args.long:
        return run_long_command(args)
    try:
        steps = [int(t) for t in args.memory_steps.split(",") if t.strip()]
    except ValueError:
        raise BpttError(
            f"`--memory-steps` takes integers like 250,500, got {args.memory_steps!r}."
        ) from None
    include_torch = not args.no_torch
    if include_torch:
        import importlib.util

        include_torch = importlib.util.find_spec("torch") is not None
        if not include_torch:
            print("torch is not installed: timing bptt alone", file=sys.stderr)
    results = run_benchmarks(
        args.config or DEFAULT_SIZES,
        args.cell or CELLS,
        repeats=args.repeats,
        include_torch=include_torch,
        modes=args.mode or MODES,
        threads=args.threads,
        run_seconds=args.run_seconds,
        clock=args.clock,
        memory_steps=() if args.no_memory else steps,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    _report(results, "bench.json" if args.json is None else args.json)
    return 0


def run_long_command(args: argparse.Namespace) -> int:
    """``bptt bench --long``: ``bptt.bench.run_long`` with the command's options."""
    if args.long_steps < 1:
        raise BpttError(f"`--long-steps` must be >= 1, got {args.long_steps}.")
    if args.config:
        raise BpttError(
            f"`--config` does not apply to `--long` (B={LONG_CONFIG.B}, D={LONG_CONFIG.D}, "
            f"H={LONG_CONFIG.H}); set T with `--long-steps`."
        )
    if args.cell and len(args.cell) > 1:
        raise BpttError(f"`--long` measures one cell; got `--cell` {', '.join(args.cell)}.")
    budgets = parse_budgets(args.long_budgets)
    results: list[dict[str, Any]] = []
    for readout in dict.fromkeys(args.long_readout or ["all"]):  # in order, once each
        results += run_long(
            T=args.long_steps,
            cell=args.cell[0] if args.cell else "lstm",
            budgets=budgets,
            repeats=args.repeats,
            threads=args.threads,
            readout=readout,
            clock=args.clock,
            progress=lambda line: print(line, file=sys.stderr, flush=True),
        )
    _report(results, "bench_long.json" if args.json is None else args.json)
    return 0


def _check_json_path(path: str | None) -> None:
    """Refuse, before measuring, a --json path whose folder is missing or not writable."""
    if not path:
        return
    folder = Path(path).resolve().parent
    if not folder.is_dir():
        raise BpttError(f"`--json` {path}: the folder {folder} does not exist; create it first.")
    if not os.access(folder, os.W_OK):
        raise BpttError(f"`--json` {path} cannot be written (folder {folder} is read-only).")


def _config(text: str) -> Any:
    """--config B,T,D,H; a malformed value's message reaches the user through argparse."""
    try:
        return parse_config(text)
    except BpttError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _report(results: list[dict[str, Any]], path: str) -> None:
    """Print the tables; write the JSON unless ``path`` is empty (``--json ''``)."""
    print(format_table(results))
    if path:
        write_json(results, path)
        print(f"wrote {path}", file=sys.stderr)
