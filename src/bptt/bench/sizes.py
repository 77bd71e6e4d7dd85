"""What a benchmark measures: sizes (B, T, D, H), cells, modes, readouts and checkpointing budgets.

The text forms the command line takes ("32,100,64,128", "sqrt,50") are parsed here, and a
checkpointing policy is named here by the label of its row ("full", "sqrt" or a number).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from bptt.errors import BpttError

CELLS = ("rnn", "lstm", "gru")
MODES = ("train", "infer")


class BenchConfig(NamedTuple):
    """One benchmark size: B sequences of T steps, D input features, H hidden units."""

    B: int
    T: int
    D: int
    H: int


DEFAULT_SIZES = (
    BenchConfig(32, 100, 64, 32),
    BenchConfig(32, 100, 64, 128),
    BenchConfig(32, 100, 64, 256),
    BenchConfig(32, 100, 64, 512),
    BenchConfig(64, 200, 128, 1024),
    BenchConfig(8, 1000, 32, 128),
)
"""The default sizes, from tiny (H = 32) to the GEMM-bound (64, 200, 128, 1024), and a long
thin one (T = 1000)."""

MEMORY_CONFIG = BenchConfig(16, 0, 64, 256)
"""B, D and H of the memory-versus-T measurement (T comes from ``memory_steps``)."""

LONG_CONFIG = BenchConfig(16, 10_000, 64, 256)
"""The long-sequence measurement of ``run_long``: one training step at B = 16, T = 10,000,
H = 256 (D = 64), with full and with checkpointed BPTT."""

LONG_BUDGETS = ("sqrt", 50)
"""Checkpointing budgets of ``run_long``: "sqrt" and the cheapest plan within 50 slots."""

FULL = "full"
"""The policy label of full BPTT (every step's cache kept) in ``run_long``'s rows."""

LONG_READOUTS = ("all", "last")
"""Readouts of ``bptt_programs`` and ``run_long``: at every step, or of the last step alone."""

Budget = str | int
"""A checkpointing budget: "sqrt" or a number of slots m >= 1 (``engine.plan``)."""


def parse_config(text: str) -> BenchConfig:
    """ "B,T,D,H" -> BenchConfig, e.g. "32,100,64,128"."""
    parts = text.replace("x", ",").split(",")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 4 or min(values) < 1:
        raise BpttError(
            f"A benchmark configuration is four positive integers B,T,D,H, got {text!r} "
            "(for example 32,100,64,128)."
        )
    return BenchConfig(*values)


def parse_budgets(text: str) -> tuple[Budget, ...]:
    """ "sqrt,50" -> ("sqrt", 50): checkpointing budgets for ``run_long``."""
    budgets: list[Budget] = []
    for part in (p.strip() for p in text.split(",")):
        if part == "sqrt":
            budgets.append("sqrt")
        elif part.isdigit() and int(part) >= 1:
            budgets.append(int(part))
        else:
            raise BpttError(
                f"A checkpointing budget is 'sqrt' or a number of stored states >= 1, got "
                f"{part!r} in {text!r} (for example sqrt,50)."
            )
    return tuple(budgets)


def check_budget(budget: Any) -> Budget:
    """``budget`` as a Budget ("sqrt" or an int >= 1); BpttError for anything else."""
    if budget == "sqrt" or (
        isinstance(budget, int | np.integer) and not isinstance(budget, bool) and budget >= 1
    ):
        return budget if isinstance(budget, str) else int(budget)
    raise BpttError(
        f"Unknown checkpointing budget {budget!r}; expected 'sqrt' or a number of stored "
        "states >= 1 (for example budgets=('sqrt', 50))."
    )


def policy_label(memory_policy: Budget | None) -> str:
    """The row label of a policy: "full" for None, else "sqrt" or the number of slots."""
    return FULL if memory_policy is None else str(memory_policy)


def policy_from_label(label: str) -> Budget | None:
    """Inverse of ``policy_label`` (the RSS child process gets the policy as text)."""
    if label == FULL:
        return None
    return label if label == "sqrt" else int(label)
