"""``bptt gradcheck``: verify every hand-written gradient on this machine by finite differences."""

from __future__ import annotations

import argparse
import math
from typing import Any

import numpy as np

from bptt.cells import CELL_NAMES, make_cell
from bptt.errors import BpttError
from bptt.model import ModelConfig
from bptt.testing import check_model_gradients
from bptt.train.memory import check_model_fits

EXAMPLES = """examples:
  bptt gradcheck                              every cell, single / stacked / bidirectional / masked
  bptt gradcheck --cell lstm --layers 3       one configuration
  bptt gradcheck --cell gru --bidirectional --masked --seq-len 7 --hidden 5
  bptt gradcheck --cell mycells:PeepholeLSTM  a cell class of your own
"""

# (label, layers, bidirectional, masked) run for each cell when no variant option is given.
DEFAULT_VARIANTS = (
    ("single", 1, False, False),
    ("stacked x3", 3, False, False),
    ("bidirectional", 1, True, False),
    ("masked", 1, False, True),
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "gradcheck",
        help="check the analytic gradients against central finite differences",
        description=(
            "Run a float64 central finite-difference check (h=1e-6) of every parameter, input "
            "and initial carry, for a loss that is a random linear function of every output and "
            "final carry. Prints the max relative error per parameter; exits 1 if any is above "
            "--tol."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--cell",
        default="all",
        metavar="CELL",
        help=f"all (default), {', '.join(CELL_NAMES)}, or package.module:ClassName for a "
        "cell class of your own",
    )
    parser.add_argument("--seq-len", type=int, default=5, help="T (default 5)")
    parser.add_argument("--batch", type=int, default=3, help="B (default 3)")
    parser.add_argument("--input-size", type=int, default=4, help="D (default 4)")
    parser.add_argument("--hidden", type=int, default=6, help="H (default 6)")
    parser.add_argument("--layers", type=int, default=None, help="stacked layers")
    parser.add_argument("--bidirectional", action="store_true")
    parser.add_argument("--masked", action="store_true", help="variable lengths with a mask")
    parser.add_argument("--tol", type=float, default=1e-6, help="max relative error (1e-6)")
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(func=run, command="gradcheck")


def run(args: argparse.Namespace) -> int:
    for name in ("seq_len", "batch", "input_size", "hidden", "layers"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise BpttError(f"`--{name.replace('_', '-')}` must be >= 1, got {value}.")
    if not (math.isfinite(args.tol) and args.tol > 0):
        raise BpttError(f"`--tol` must be a finite number > 0 (e.g. 1e-6), got {args.tol}.")
    if args.layers is None and not (args.bidirectional or args.masked):
        variants = DEFAULT_VARIANTS
    else:
        label = ", ".join(
            s for s, on in (("bidirectional", args.bidirectional), ("masked", args.masked)) if on
        )
        variants = (
            (
                f"layers={args.layers or 1} {label}".strip(),
                args.layers or 1,
                args.bidirectional,
                args.masked,
            ),
        )
    if args.cell == "all":
        cells = [c for c in CELL_NAMES if c != "irnn"]
    else:
        make_cell(args.cell)  # an unknown name, or a "module:Class" that cannot be built
        cells = [args.cell]
    rng = np.random.default_rng(args.seed)
    worst = 0.0
    print(f"{'cell':<6} {'variant':<26} {'gradient':<26} {'max rel err':>11}")
    for cell in cells:
        for label, layers, bidirectional, masked in variants:
            lengths = None
            if masked:
                lengths = rng.integers(1, args.seq_len + 1, args.batch)
                lengths[0] = args.seq_len
            config = ModelConfig(
                cell=cell,
                input_size=args.input_size,
                hidden_size=args.hidden,
                num_layers=layers,
                bidirectional=bidirectional,
            )
            check_model_fits(config, make_cell(cell), f"A {cell} of H={args.hidden}")
            errors = check_model_gradients(
                config,
                seq_len=args.seq_len,
                batch_size=args.batch,
                lengths=lengths,
                seed=args.seed,
            )
            for name, error in errors.items():
                flag = "" if error <= args.tol else "  FAIL"
                print(f"{cell:<6} {label:<26} {name:<26} {error:>11.2e}{flag}")
            worst = max(worst, *errors.values())
    verdict = "PASS" if worst <= args.tol else "FAIL"
    print(f"{verdict}: largest relative error {worst:.2e} (tolerance {args.tol:.0e})")
    return 0 if worst <= args.tol else 1
