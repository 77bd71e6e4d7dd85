"""How `bptt` ends on an exception: a user's mistake is one line and exit 2, a bug a traceback."""

import builtins
import subprocess
import sys

import pytest

import bptt.cli.eval as eval_command
from bptt.cli import main
from bptt.errors import (
    BpttError,
    BpttFileNotFoundError,
    BpttPermissionError,
    BpttTypeError,
    MissingExtraError,
)

USER_ERRORS = (BpttError, BpttTypeError, BpttFileNotFoundError, BpttPermissionError)


@pytest.mark.parametrize("kind", [*USER_ERRORS, MissingExtraError])
def test_a_user_error_is_one_line_on_stderr_and_exit_2(monkeypatch, capsys, kind):
    def run(args):
        raise kind("Checkpoint x.npz does not fit;\nchoose another.")

    monkeypatch.setattr(eval_command, "run", run)
    assert main(["eval", "x.npz"]) == 2
    captured = capsys.readouterr()
    assert captured.err == "bptt eval: error: Checkpoint x.npz does not fit; choose another.\n"
    assert captured.out == ""


# A bug keeps its traceback: the command re-raises, and the `bptt` script exits 1 like any
# Python program. The built-in ValueError, TypeError, ... are bugs too (the library raises the
# bptt types for a user's mistake).
BUG = """
import sys
import bptt.cli.eval as eval_command
from bptt.cli import main

def run(args):
    raise {kind}("a bug in bptt")

eval_command.run = run
sys.exit(main(["eval", "x.npz"]))
"""


@pytest.mark.parametrize(
    "kind", ["RuntimeError", "KeyError", "ValueError", "TypeError", "FileNotFoundError"]
)
def test_any_other_exception_keeps_its_traceback_and_exits_1(monkeypatch, kind):
    error = getattr(builtins, kind)

    def run(args):
        raise error("a bug in bptt")

    monkeypatch.setattr(eval_command, "run", run)
    with pytest.raises(error, match="a bug in bptt"):
        main(["eval", "x.npz"])
    done = subprocess.run(
        [sys.executable, "-c", BUG.format(kind=kind)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    assert done.stderr.startswith("Traceback (most recent call last):")
    last = done.stderr.rstrip().splitlines()[-1]
    assert last == f"{kind}: {error('a bug in bptt')!s}"
    assert "bptt eval: error" not in done.stderr
