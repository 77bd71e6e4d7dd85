"""``bptt bench``: time bptt against PyTorch (when installed) on this machine."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bptt.bench import (
    CELLS,
    ISSUE_CONFIGS,
    MEMORY_CONFIG,
    MODES,
    format_table,
    parse_config,
    run_benchmarks,
    write_json,
)

EXAMPLES = """examples:
  bptt bench                                    the six sizes of the performance issue, all cells
  bptt bench --config 32,100,64,128 --cell lstm --repeats 5
  bptt bench --no-torch --no-memory --json out.json
  OPENBLAS_NUM_THREADS=1 bptt bench --threads 1 --clock cpu    robust on a busy machine
"""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "bench",
        help="training-step and inference time against torch.nn.RNN/LSTM/GRU",
        description=(
            "Time one training step (forward, per-step linear readout, MSE, backward, SGD) and "
            "inference of bptt's cells and of PyTorch's, measured alternately in one run "
            "(medians of --repeats runs); report the ratio, GFLOP/s against the GEMM ceiling "
            "measured in the same run, and peak memory versus T. torch is optional."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = p.add_argument
    add("--config", action="append", type=parse_config, help="B,T,D,H (repeatable)")
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
    add("--json", default="bench.json", help="where to write the JSON results")
    p.set_defaults(func=run, command="bench")


def run(args: argparse.Namespace) -> int:
    if args.repeats < 1:
        raise ValueError(f"`--repeats` must be >= 1, got {args.repeats}.")
    try:
        steps = [int(t) for t in args.memory_steps.split(",") if t.strip()]
    except ValueError:
        raise ValueError(
            f"`--memory-steps` takes integers like 250,500, got {args.memory_steps!r}."
        ) from None
    include_torch = not args.no_torch
    if include_torch:
        import importlib.util

        include_torch = importlib.util.find_spec("torch") is not None
        if not include_torch:
            print("torch is not installed: timing bptt alone", file=sys.stderr)
    results = run_benchmarks(
        args.config or ISSUE_CONFIGS,
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
    print(format_table(results))
    if args.json:
        write_json(results, args.json)
        print(f"wrote {args.json}", file=sys.stderr)
    return 0
