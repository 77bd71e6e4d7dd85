"""The ``bptt`` command: one top-level parser, one module per subcommand.

A user mistake (a bptt.errors type) ends with one line on stderr and exit code 2, never a
traceback; any other exception is a bug in bptt and keeps its traceback (exit code 1).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bptt.cli import bench, diagnose, estimators, export, gradcheck, sample, train
from bptt.cli import eval as eval_command
from bptt.errors import BpttError

SUBCOMMANDS = (train, sample, eval_command, diagnose, estimators, gradcheck, bench, export)


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line: ``bptt <cmd>: error: <message>``."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="bptt",
        description="Train recurrent networks with hand-written Backpropagation Through Time.",
        epilog="Run `bptt COMMAND --help` for the options and examples of each command.",
    )
    subparsers = parser.add_subparsers(
        title="commands", metavar="COMMAND", parser_class=OneLineParser
    )
    for module in SUBCOMMANDS:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``bptt`` script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("bptt: interrupted", file=sys.stderr)
        return 130
    except BpttError as error:  # the user's mistake: one line; anything else is a bug
        message = str(error).replace("\n", " ")
        print(f"bptt {args.command}: error: {message}", file=sys.stderr)
        return 2
