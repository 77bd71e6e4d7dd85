"""The ``bptt`` command: one top-level parser, one module per subcommand.

A user mistake (a bptt.errors type) ends with one line on stderr and exit code 2, never a
traceback; any other exception is a bug in bptt and keeps its traceback (exit code 1).
Ctrl-C and SIGTERM end with one line and exit code 130 at any moment, start-up included:
this module imports nothing heavy, and ``main`` imports the subcommands (and with them NumPy
and the library) only once its handlers are in place.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

COMMANDS = (
    "train",
    "sweep",
    "sample",
    "eval",
    "diagnose",
    "estimators",
    "gradcheck",
    "bench",
    "export",
)
"""The subcommands, each a module of this package with ``register(subparsers)``."""


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
    parser.add_argument("--version", action="version", version=f"bptt {_version()}")
    for name in COMMANDS:
        importlib.import_module(f"bptt.cli.{name}").register(subparsers)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("bptt")
    except PackageNotFoundError:  # run from a source tree without installing
        from bptt import __version__

        return __version__


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``bptt`` script; returns the exit code."""
    signals = _Signals()
    with signals.recorded():  # imports and parsing: a signal is noted, never raised mid-import
        from bptt.errors import BpttError

        parser = build_parser()
        args = parser.parse_args(argv)
    if signals.received:
        print("bptt: interrupted", file=sys.stderr)
        return 130
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        with signals.raised():
            return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("bptt: interrupted", file=sys.stderr)
        return 130
    except BpttError as error:  # the user's mistake: one line; anything else is a bug
        message = str(error).replace("\n", " ")
        print(f"bptt {args.command}: error: {message}", file=sys.stderr)
        return 2


class _Signals:
    """Ctrl-C and SIGTERM while the command starts (only noted) and runs (KeyboardInterrupt,
    which the command may handle, as the trainer does to save a checkpoint)."""

    def __init__(self) -> None:
        self.received = False
        self.main_thread = threading.current_thread() is threading.main_thread()

    @contextmanager
    def recorded(self) -> Iterator[None]:
        def note(signum: int, frame: Any) -> None:
            self.received = True

        with self._handled(note, note):
            yield

    @contextmanager
    def raised(self) -> Iterator[None]:
        with self._handled(signal.default_int_handler, signal.default_int_handler):
            yield

    @contextmanager
    def _handled(self, on_int: Any, on_term: Any) -> Iterator[None]:
        if not self.main_thread:  # handlers can only be set from the main thread
            yield
            return
        previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        signal.signal(signal.SIGINT, on_int)
        signal.signal(signal.SIGTERM, on_term)
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
