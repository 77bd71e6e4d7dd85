"""``bptt sweep``: a grid of settings and seeds, one run per group of processes, one table."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bptt.errors import BpttError
from bptt.train.distributed import World, current_world, exit_code, launched_rank
from bptt.train.sweep import load_sweep, run_sweep, summary_tables, train_run, write_summary

EXAMPLE_FILE = """\
[sweep]
out = "runs/sweep-adding"   # OUT/<run>/ per run; OUT/summary.csv and OUT/summary.md
test = false                # also score the test split at the end of each run

[base]                      # the settings of every run (any key of `bptt train --config`)
task = "adding"
seq_len = 50
steps = 1000

[grid]                      # every combination; the last key varies fastest
cell = ["lstm", "gru"]
seed = [0, 1, 2]
"""

EXAMPLES = f"""examples:
  bptt sweep grid.toml                           the runs one after another
  mpiexec -n 2 bptt sweep grid.toml              two runs at a time, one process each
  mpiexec -n 4 bptt sweep grid.toml --procs-per-run 2
                                                 two runs at a time, each data-parallel on 2
  bptt sweep grid.toml --list                    the runs and their directories, no training

A sweep file:

{EXAMPLE_FILE}
Run it again to go on: finished runs are read back, interrupted ones resume bit for bit.
"""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "sweep",
        help="train a grid of settings and seeds; one summary table",
        description=(
            "Train every combination of a sweep file's [grid] over its [base] settings, each "
            "run in its own directory, spread over the processes of mpiexec (one run per "
            "group of --procs-per-run processes), then write OUT/summary.csv and "
            "OUT/summary.md and print the table: every run, and the mean and spread over "
            "seeds."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", metavar="FILE", help="the sweep file (TOML: [sweep], [base], [grid])")
    p.add_argument("--out", metavar="DIR", help="where the runs go (default: the file's out)")
    p.add_argument(
        "--procs-per-run",
        type=int,
        default=1,
        metavar="P",
        help="processes that train one run together, data-parallel (1)",
    )
    p.add_argument("--test", action="store_true", help="also score the test split")
    p.add_argument("--list", action="store_true", help="list the runs and stop")
    p.set_defaults(func=run, command="sweep")


def run(args: argparse.Namespace) -> int:
    try:
        world = current_world()
    except BpttError:
        if launched_rank() != 0:
            return 2  # process 0 says what to install
        raise
    if world is None:
        return _run(args, None)
    with world.guard():
        try:
            return _run(args, world)
        except BaseException as error:
            if world.rank == 0 or not getattr(error, "collective", False):
                raise
            return exit_code(error)  # every process met it; process 0 reports it


def _run(args: argparse.Namespace, world: World | None) -> int:
    root = world is None or world.rank == 0
    if args.procs_per_run < 1:
        raise BpttError(f"--procs-per-run must be >= 1, got {args.procs_per_run}.")

    def setup() -> Any:
        return load_sweep(args.file, out=args.out)

    sweep = setup() if world is None else world.agreed(setup)
    test = sweep.test or args.test
    if args.list:
        if root:
            for r in sweep.runs:
                print(f"{sweep.out / r.name}  {r.values}")
        return 0
    if root:
        size = 1 if world is None else world.size
        print(
            f"bptt sweep: {len(sweep.runs)} runs in {sweep.out}, {size} process(es), "
            f"{args.procs_per_run} per run",
            file=sys.stderr,
        )
    rows = run_sweep(
        sweep.runs,
        lambda r, group: train_run(r, group, test=test),
        procs_per_run=args.procs_per_run,
        world=world,
    )
    if rows is None:
        return 0
    csv_path, md_path = write_summary(sweep.out, rows)
    print(summary_tables(rows))
    print(f"\nsummary: {csv_path}, {md_path}")
    failed = [r["run"] for r in rows if r.get("status") != "ok"]
    if failed:
        print(f"bptt sweep: {len(failed)} run(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0
