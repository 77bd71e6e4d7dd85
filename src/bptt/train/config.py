"""Training configuration in layers: dataclass defaults, then a TOML file, then overrides.

The resolved config is printed at the start of a run and saved in every checkpoint.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bptt.cells import make_cell
from bptt.errors import BpttError, BpttFileNotFoundError
from bptt.optim import OPTIMIZERS
from bptt.train.real_tasks import CLASSIFICATION_TASKS, REAL_TASKS
from bptt.train.tasks import SEQUENCE_TASKS
from bptt.train.tasks import TASKS as BUILTIN_TASKS

TASKS = BUILTIN_TASKS + REAL_TASKS  # every name --task accepts
FULL_BPTT_TASKS = SEQUENCE_TASKS + CLASSIFICATION_TASKS  # tasks of independent sequences

# Fields that fix the model or the data: a resumed run must not change them.
ARCHITECTURE_FIELDS = (
    "task",
    "text",
    "cell",
    "hidden_size",
    "num_layers",
    "embed_size",
    "dropout",
    "forget_bias",
    "seq_len",
    "batch_size",
    "k1",
    "k2",
    "seed",
    "optimizer",
)


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a training run; the defaults train a char-level LSTM on Shakespeare.

    Attributes:
        task: "shakespeare", "text" (with ``text``), "adding", "copy" or "temporal".
        text: path of a UTF-8 file for task "text".
        cell, hidden_size, num_layers, embed_size, dropout, forget_bias: the model.
        seq_len: T of synthetic tasks (copy: the blank span; temporal: lengths x seq_len/100).
        batch_size: B, streams (text) or sequences per batch.
        carry: carry the hidden state from window to window of a text stream (False resets
            it at every window, the "stateless" chunking).
        k1, k2: BPTT(k1, k2): an update every k1 steps, backpropagating k2 steps (k1 <= k2).
            0 for both means full BPTT over each sequence (synthetic tasks only).
        steps: number of parameter updates.
        optimizer, learning_rate, clip: optimizer name, step size, global-norm clip (0: off).
        seed: seeds parameters, data order and dropout.
        eval_every, log_every, checkpoint_every: in updates.
        eval_sequences: size of the fixed evaluation set of synthetic tasks.
        eval_window: window length when evaluating text (the state is carried across).
        keep_checkpoints: how many checkpoints to keep.
        patience: stop after this many evaluations without improvement (0: never).
        stop_at: stop once the validation metric reaches this value (None: never).
        max_nonfinite: stop after this many non-finite updates in a row.
        sample_length, temperature: the sample printed at the end (text tasks).
        memory_budget: checkpointed BPTT within a memory budget per layer: "" (off: full
            BPTT keeps every step), "sqrt" (a carry every sqrt(T) steps), a number of stored
            states ("50"), or bytes ("64MiB", "2GB"); gradients are unchanged.
        diagnose_every: every N updates, log the memory horizon, verdict and gradient norm of
            each layer on the current window into metrics.jsonl (0: never).
        out: output directory (checkpoints, metrics.jsonl).
    """

    task: str = "shakespeare"
    text: str | None = None
    cell: str = "lstm"
    hidden_size: int = 128
    num_layers: int = 1
    embed_size: int = 64
    dropout: float = 0.0
    forget_bias: float = 1.0
    seq_len: int = 100
    batch_size: int = 32
    carry: bool = True
    k1: int = 50
    k2: int = 50
    steps: int = 1500
    optimizer: str = "adam"
    learning_rate: float = 2e-3
    clip: float = 5.0
    seed: int = 0
    eval_every: int = 250
    log_every: int = 25
    checkpoint_every: int = 500
    eval_sequences: int = 1000
    eval_window: int = 100
    keep_checkpoints: int = 3
    patience: int = 0
    stop_at: float | None = None
    max_nonfinite: int = 5
    sample_length: int = 300
    temperature: float = 0.8
    memory_budget: str = ""
    diagnose_every: int = 0
    out: str = "runs/latest"

    def __post_init__(self) -> None:
        check_config(self)

    @property
    def full_bptt(self) -> bool:
        return self.k1 == 0 and self.k2 == 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)


def _positive(config: TrainConfig, *names: str) -> None:
    for name in names:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise BpttError(f"`{name}` must be an integer >= 1, got {value!r}.")


def check_config(c: TrainConfig) -> None:
    """Every check that can be made before any data is read."""
    if c.task not in TASKS:
        raise BpttError(f"Unknown task {c.task!r}; expected one of {', '.join(TASKS)}.")
    if c.task == "text" and not c.text:
        raise BpttError("Task 'text' needs a file: pass --text PATH (a UTF-8 text file).")
    make_cell(c.cell)  # an unknown name, or a "module:Class" cell that cannot be built
    if c.optimizer not in OPTIMIZERS:
        raise BpttError(
            f"Unknown optimizer {c.optimizer!r}; expected one of {', '.join(OPTIMIZERS)}."
        )
    _positive(c, "hidden_size", "num_layers", "embed_size", "seq_len", "batch_size", "steps")
    _positive(c, "eval_every", "log_every", "checkpoint_every", "eval_sequences", "eval_window")
    _positive(c, "keep_checkpoints", "max_nonfinite")
    if not (isinstance(c.learning_rate, int | float) and math.isfinite(c.learning_rate)) or (
        c.learning_rate <= 0
    ):
        raise BpttError(
            f"`learning_rate` must be a positive number, got {c.learning_rate!r} "
            "(e.g. 2e-3 for Adam, 0.1 for SGD)."
        )
    if not (math.isfinite(c.clip) and c.clip >= 0):
        raise BpttError(f"`clip` must be >= 0 (0 turns clipping off), got {c.clip!r}.")
    if not 0 <= c.dropout < 1:
        raise BpttError(f"`dropout` must be in [0, 1), got {c.dropout!r}.")
    if c.temperature <= 0:
        raise BpttError(f"`temperature` must be > 0, got {c.temperature!r}.")
    parse_memory_budget(c.memory_budget)
    if c.patience < 0 or c.sample_length < 0 or c.diagnose_every < 0:
        raise BpttError("`patience`, `sample_length` and `diagnose_every` must be >= 0.")
    if not c.full_bptt:
        from bptt.engine.truncated import truncation

        truncation(c.k1, c.k2)
    elif c.task not in FULL_BPTT_TASKS:
        what = "a forecast series" if c.task in REAL_TASKS else "a text stream"
        raise BpttError(
            f"Full BPTT over {what} would backpropagate through the whole of it; use "
            f"truncated BPTT (--bptt K) for task {c.task!r}."
        )


_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30}
_BUDGET = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b|b)?\s*$", re.IGNORECASE)


def parse_memory_budget(text: str) -> tuple[str, float] | None:
    """("sqrt", 0), ("states", n) or ("bytes", n) from a --memory-budget value; None if off."""
    text = str(text).strip()
    if not text:
        return None
    if text == "sqrt":
        return ("sqrt", 0)
    match = _BUDGET.match(text)
    if not match or float(match[1]) <= 0:
        raise BpttError(
            f"`memory_budget` {text!r} is not a budget: give 'sqrt', a number of stored "
            "states such as 50, or a size such as 64MiB or 2GB."
        )
    if match[2] is None:
        if not match[1].isdigit():
            raise BpttError(f"`memory_budget` {text!r}: a number of states is a whole number.")
        return ("states", int(match[1]))
    return ("bytes", float(match[1]) * _UNITS[match[2].lower()])


def load_toml(path: str | Path) -> dict[str, Any]:
    """The settings in a TOML file: a flat table of TrainConfig field names."""
    path = Path(path)
    if not path.is_file():
        raise BpttFileNotFoundError(f"Config file {path} does not exist.")
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise BpttError(f"Config file {path} is not valid TOML: {error}.") from None
    return values


def resolve_config(
    file_values: dict[str, Any] | None = None, overrides: dict[str, Any] | None = None
) -> TrainConfig:
    """Defaults, then ``file_values`` (from TOML), then ``overrides`` (from the command line)."""
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    merged: dict[str, Any] = {}
    for source, values in (("config file", file_values or {}), ("overrides", overrides or {})):
        unknown = sorted(set(values) - known)
        if unknown:
            names = ", ".join(sorted(known))
            raise BpttError(f"Unknown setting(s) {unknown} in {source}; valid names: {names}.")
        merged.update({k: v for k, v in values.items() if v is not None})
    return TrainConfig(**merged)


def format_config(config: TrainConfig) -> str:
    """The resolved config as TOML lines, ready to print or save as a config file."""
    lines = []
    for key, value in config.to_dict().items():
        if value is None:
            continue
        text = (
            f'"{value}"'
            if isinstance(value, str)
            else repr(value).lower()
            if isinstance(value, bool)
            else repr(value)
        )
        lines.append(f"{key} = {text}")
    return "\n".join(lines)
