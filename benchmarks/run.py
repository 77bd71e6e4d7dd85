"""Run the bptt-versus-PyTorch benchmark suite: print a Markdown table and write JSON.

Examples::

    python benchmarks/run.py                                   # the issue's six sizes, all cells
    python benchmarks/run.py --config 32,100,64,128 --cell lstm --repeats 5
    python benchmarks/run.py --no-torch --no-memory --json out.json

OpenBLAS picks its kernel from the CPU unless OPENBLAS_CORETYPE forces one; the table's first
line reports the kernel and thread count that were used (via threadpoolctl).
"""

from __future__ import annotations

import argparse
import sys

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n", 1)[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n", 1)[1],
    )
    parser.add_argument(
        "--config",
        action="append",
        type=parse_config,
        help="B,T,D,H (repeatable); default: the six sizes of issue 5",
    )
    parser.add_argument("--cell", action="append", choices=CELLS, help="repeatable; default all")
    parser.add_argument("--mode", action="append", choices=MODES, help="repeatable; default both")
    parser.add_argument("--repeats", type=int, default=3, help="runs per framework (median)")
    parser.add_argument("--threads", type=int, default=None, help="default: NumPy's BLAS threads")
    parser.add_argument("--run-seconds", type=float, default=0.3, help="target length of a run")
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="wall time, or process CPU time (robust to foreign load; use with --threads 1)",
    )
    parser.add_argument("--no-torch", action="store_true", help="time bptt alone")
    parser.add_argument("--no-memory", action="store_true", help="skip peak memory versus T")
    parser.add_argument(
        "--memory-steps",
        type=lambda s: [int(t) for t in s.split(",")],
        default=[250, 500, 1000],
        help=f"T values of the memory measurement (B, D, H = {MEMORY_CONFIG.B}, "
        f"{MEMORY_CONFIG.D}, {MEMORY_CONFIG.H}); default 250,500,1000",
    )
    parser.add_argument("--json", default="benchmarks/results.json", help="where to write JSON")
    args = parser.parse_args(argv)

    results = run_benchmarks(
        args.config or ISSUE_CONFIGS,
        args.cell or CELLS,
        repeats=args.repeats,
        include_torch=not args.no_torch,
        modes=args.mode or MODES,
        threads=args.threads,
        run_seconds=args.run_seconds,
        clock=args.clock,
        memory_steps=() if args.no_memory else args.memory_steps,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    print(format_table(results))
    if args.json:
        write_json(results, args.json)
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
