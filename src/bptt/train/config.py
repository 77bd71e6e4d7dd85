"""Training configuration in layers, merged first and then checked once.

The layers, lowest first: the dataclass defaults of TrainConfig, a command's own defaults
(``bptt diagnose`` trains nothing and defaults to a smaller model), the task's defaults
(``real_tasks.DEFAULTS``, ``tasks.SEQUENCE_DEFAULTS``), a TOML file, the command-line
options. ``resolve_config`` merges them and builds the TrainConfig, whose construction
checks every value once. The resolved config is printed at the start of a run and saved in
every checkpoint (``to_dict``).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import re
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from bptt.cells import make_cell
from bptt.engine.truncated import Truncation, truncation
from bptt.errors import BpttError, BpttFileNotFoundError
from bptt.model import READOUTS
from bptt.optim import OPTIMIZERS
from bptt.train.real_tasks import CLASSIFICATION_TASKS, REAL_TASKS, TaskNames, task_defaults
from bptt.train.tasks import SEQUENCE_DEFAULTS, SEQUENCE_TASKS, TEXT_TASKS
from bptt.train.tasks import TASKS as BUILTIN_TASKS

TASKS = TaskNames(BUILTIN_TASKS + REAL_TASKS)  # every name --task accepts (and audio:DIR)
FULL_BPTT_TASKS = TaskNames(SEQUENCE_TASKS + CLASSIFICATION_TASKS)  # independent sequences
LR_SCHEDULES = ("constant", "cosine")

DEFAULT_TRUNCATION = Truncation(50, 50)

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
    "truncation",
    "seed",
    "optimizer",
    "readout",
    "bidirectional",
    "readout_dropout",
    "max_steps",
    "jitter",
    "crop",
    "lr_schedule",
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
        truncation: BPTT(k1, k2), an update every k1 steps that backpropagates k2 steps
            (1 <= k1 <= k2), or None for full BPTT over each sequence (synthetic and
            classification tasks). A layer of settings spells it with these keys (options):

                bptt = K        (--bptt K)   BPTT(K, K)
                bptt = "full"   (--full)     full BPTT
                k1 = K          (--k1 K)     k1 = K; k2 stays what the layers below say
                k2 = K          (--k2 K)     k2 = K; k1 stays what the layers below say
                k1 = 0, k2 = 0               full BPTT (the spelling of older configs)

            A layer gives ``bptt`` or k1/k2, not both. Over a full-BPTT layer, k1 and k2 come
            together (there is no k1 or k2 below to keep). k1 <= k2 is checked once, on the
            merged value: a file's ``k1 = 10`` and ``--k2 20`` make BPTT(10, 20).
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
        readout: how a classification task reads its sequences: "all" (the output at each
            sequence's last valid step), "last" (the final states, both directions), or a
            pooling of every valid step: "mean", "max", "meanmax", "attention"
            (``bptt.model.pooling``). Other tasks read every step ("all").
        bidirectional: a reverse-time direction in every layer (full BPTT only).
        readout_dropout: dropout on what the readout reads, in training.
        max_steps: classification: sequences longer than this are cut into patches of
            k = ceil(T / max_steps) consecutive steps (0: off).
        jitter, crop: classification: Gaussian noise of this standard deviation on training
            inputs, and a random window of this share of each training sequence (0 and 1: off).
        lr_schedule: "constant", or "cosine": the learning rate decays to 0 over ``steps``
            (a run resumed with more ``steps`` continues along the longer cosine).
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
    truncation: Truncation | None = DEFAULT_TRUNCATION
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
    readout: str = "all"
    bidirectional: bool = False
    readout_dropout: float = 0.0
    max_steps: int = 0
    jitter: float = 0.0
    crop: float = 1.0
    lr_schedule: str = "constant"

    def __post_init__(self) -> None:
        if self.truncation is not None:
            object.__setattr__(self, "truncation", _checked_truncation(self.truncation))
        check_config(self)

    @property
    def full_bptt(self) -> bool:
        """Whether each sequence is backpropagated whole (``truncation`` is None)."""
        return self.truncation is None

    def to_dict(self) -> dict[str, Any]:
        """The settings as a layer (TOML keys): ``resolve_config(c.to_dict()) == c``."""
        settings: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name != "truncation":
                settings[f.name] = value
            elif value is None:
                settings["bptt"] = "full"
            else:
                settings.update(k1=value.k1, k2=value.k2)
        return settings

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)


def _positive(config: TrainConfig, *names: str) -> None:
    for name in names:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise BpttError(f"`{name}` must be an integer >= 1, got {value!r}.")


def _checked_truncation(value: Any) -> Truncation:
    """``value`` as a checked Truncation: the one place where k1 and k2 are validated."""
    if not isinstance(value, tuple) or len(value) != 2:
        raise BpttError(
            f"`truncation` must be a Truncation(k1, k2) or None (full BPTT), got {value!r}."
        )
    return truncation(*value)


def check_config(c: TrainConfig) -> None:
    """Every check that can be made before any data is read."""
    if not isinstance(c.out, str) or not c.out.strip():
        raise BpttError(
            f"`out` must name a directory for checkpoints and metrics, got {c.out!r}; e.g. "
            "--out runs/first (an empty name would write into the current directory)."
        )
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
    if not (math.isfinite(c.temperature) and c.temperature > 0):
        raise BpttError(f"`temperature` must be a finite number > 0, got {c.temperature!r}.")
    if c.stop_at is not None and not math.isfinite(c.stop_at):
        raise BpttError(f"`stop_at` must be a finite number (or not given), got {c.stop_at!r}.")
    if not math.isfinite(c.forget_bias):
        raise BpttError(f"`forget_bias` must be a finite number, got {c.forget_bias!r}.")
    if c.seed < 0:
        raise BpttError(f"`seed` must be an integer >= 0, got {c.seed!r}.")
    check_applicable(c)
    check_recipe(c)
    parse_memory_budget(c.memory_budget)
    if c.patience < 0 or c.sample_length < 0 or c.diagnose_every < 0:
        raise BpttError("`patience`, `sample_length` and `diagnose_every` must be >= 0.")
    if c.truncation is None and c.task not in FULL_BPTT_TASKS:
        what = "a forecast series" if c.task in REAL_TASKS else "a text stream"
        raise BpttError(
            f"Full BPTT over {what} would backpropagate through the whole of it; use "
            f"truncated BPTT (--bptt K) for task {c.task!r}."
        )


def check_applicable(c: TrainConfig) -> None:
    """Refuse settings that would be ignored for this task (a user asked for them)."""
    if c.text is not None and c.task != "text":
        raise BpttError(
            f"--text / `text` applies to task 'text' only, not {c.task!r}; drop it, or drop "
            "--task to train on the file."
        )
    if not c.carry and c.truncation is None:
        raise BpttError(
            f"--no-carry / `carry = false` has no effect with full BPTT (task {c.task!r}): "
            "each sequence is one window that starts from a zero state. Drop it, or truncate "
            "with --bptt K."
        )


def check_recipe(c: TrainConfig) -> None:
    """The readout, bidirectional layers, patches, augmentation and schedule."""
    if c.readout not in READOUTS:
        raise BpttError(f"`readout` must be one of {READOUTS}, got {c.readout!r}.")
    if c.lr_schedule not in LR_SCHEDULES:
        raise BpttError(f"`lr_schedule` must be one of {LR_SCHEDULES}, got {c.lr_schedule!r}.")
    if not 0 <= c.readout_dropout < 1:
        raise BpttError(f"`readout_dropout` must be in [0, 1), got {c.readout_dropout!r}.")
    if c.max_steps < 0 or not (math.isfinite(c.jitter) and c.jitter >= 0) or not 0 < c.crop <= 1:
        raise BpttError(
            f"`max_steps` must be >= 0 (0: off), `jitter` >= 0 and `crop` in (0, 1]; got "
            f"{c.max_steps!r}, {c.jitter!r} and {c.crop!r}."
        )
    classify = c.task in CLASSIFICATION_TASKS
    if not classify and (c.readout != "all" or c.max_steps or c.jitter or c.crop < 1):
        raise BpttError(
            f"readout {c.readout!r}, max_steps, jitter and crop apply to classification tasks "
            f"(ucr:<Name>, digits, audio:DIR), not {c.task!r}: it reads every step."
        )
    if c.bidirectional and c.truncation is not None:
        raise BpttError(
            "A bidirectional model reads each sequence whole: use full BPTT (--full), not "
            f"truncated BPTT({c.truncation.k1}, {c.truncation.k2})."
        )
    if c.readout != "all" and c.diagnose_every:
        raise BpttError(
            f"--diagnose-every measures a model that predicts at every step; readout "
            f"{c.readout!r} predicts once per sequence. Drop --diagnose-every."
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
    """The settings in a TOML file: a flat table of setting names (see ``SETTINGS``)."""
    path = Path(path)
    if path.is_dir():
        raise BpttError(f"Config file {path} is a directory; pass a TOML file (e.g. run.toml).")
    if not path.is_file():
        raise BpttFileNotFoundError(f"Config file {path} does not exist.")
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise BpttError(f"Config file {path} is not valid TOML: {error}.") from None
    except OSError as error:
        raise BpttError(f"Config file {path} cannot be read ({error.strerror}).") from None
    return values


TRUNCATION_KEYS = ("bptt", "k1", "k2")
SETTINGS = tuple(
    name
    for f in dataclasses.fields(TrainConfig)
    for name in (TRUNCATION_KEYS if f.name == "truncation" else (f.name,))
)
"""Every key a layer of settings may hold: the fields of TrainConfig, with ``truncation``
spelt ``bptt`` / ``k1`` / ``k2``."""


class Layer(NamedTuple):
    """One source of settings for ``resolve_config``.

    Attributes:
        source: where the values come from, for messages ("config file run.toml").
        values: setting name -> value; None means "not given here".
    """

    source: str
    values: Mapping[str, Any]


def resolve_config(
    *layers: Layer | Mapping[str, Any] | None, defaults: Mapping[str, Any] | None = None
) -> TrainConfig:
    """Merge layers of settings, lowest first, into one checked TrainConfig.

    The order: the dataclass defaults; ``defaults`` (a command's own); the defaults of the
    task the merged layers name (``real_tasks.DEFAULTS``, ``tasks.SEQUENCE_DEFAULTS``); then
    ``layers`` in order, e.g. the TOML file and then the command line. A None value keeps the
    value below; the truncation keys merge as TrainConfig's docstring says. Nothing is checked
    until every layer is merged, so a value only has to be valid in the result.

    Args:
        layers: Layer(source, values), or a plain mapping (its source: "settings layer").
        defaults: a command's own defaults, below the task's.

    Raises:
        BpttError: an unknown setting name, a badly spelt truncation, or an invalid result.

    Example:
        >>> resolve_config({"k1": 10}, {"k2": 20}).truncation
        Truncation(k1=10, k2=20)
    """
    given = [
        layer if isinstance(layer, Layer) else Layer("settings layer", layer)
        for layer in layers
        if layer is not None
    ]
    below = [Layer("command defaults", defaults)] if defaults else []
    task = TrainConfig.task
    for layer in below + given:
        task = layer.values.get("task") or task
    defaults_of_task = task_defaults(task) or SEQUENCE_DEFAULTS.get(task, {})
    stack = [*below, Layer(f"defaults of task {task!r}", defaults_of_task), *given]
    merged: dict[str, Any] = {}
    cut = TrainConfig.truncation
    for layer in stack:
        unknown = sorted(set(layer.values) - set(SETTINGS))
        if unknown:
            raise BpttError(
                f"Unknown setting(s) {unknown} in the {layer.source}; valid names: "
                f"{', '.join(sorted(SETTINGS))}."
            )
        for key, value in layer.values.items():
            if value is not None and key not in TRUNCATION_KEYS:
                merged[key] = check_type(key, value, layer.source)
        cut = merge_truncation(cut, layer)
    return TrainConfig(**merged, truncation=cut)


_KINDS = {
    int: "an integer",
    float: "a number",
    str: "a string",
    bool: "true or false",
}


def check_type(name: str, value: Any, source: str) -> Any:
    """``value`` for the setting ``name`` if it has the field's type (an int where a float
    is asked is taken as that float), else BpttError naming the field, the type it needs,
    the value and where it came from."""
    base, optional = _field_type(name)
    if value is None and optional:
        return None
    if base is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, base) and not (base is int and isinstance(value, bool)):
        return value
    needed = _KINDS[base] + (" (or nothing)" if optional else "")
    raise BpttError(
        f"`{name}` must be {needed}, got {value!r} ({type(value).__name__}) in the {source}."
    )


@functools.cache
def _field_type(name: str) -> tuple[type, bool]:
    """(the type, whether None is allowed) of TrainConfig's field ``name``."""
    hint = typing.get_type_hints(TrainConfig)[name]
    args = typing.get_args(hint) or (hint,)
    return next(a for a in args if a is not type(None)), type(None) in args


def merge_truncation(below: Truncation | None, layer: Layer) -> Truncation | None:
    """The truncation after ``layer``: its ``bptt`` / ``k1`` / ``k2`` over ``below``.

    Not checked here (k1 <= k2 and both >= 1): that happens once, on the merged value.
    """
    bptt, k1, k2 = (layer.values.get(key) for key in TRUNCATION_KEYS)
    if bptt is not None and (k1 is not None or k2 is not None):
        raise BpttError(
            f"The {layer.source} gives both `bptt` ({bptt!r}) and `k1`/`k2` ({k1!r}/{k2!r}); "
            'give one: bptt = K (--bptt K) for BPTT(K, K), bptt = "full" (--full), or k1 '
            "and k2 (--k1, --k2)."
        )
    if bptt is not None:
        if bptt == "full":
            return None
        if isinstance(bptt, bool) or not isinstance(bptt, int) or bptt < 1:
            raise BpttError(
                f'`bptt` must be an integer K >= 1 (BPTT(K, K)) or "full", got {bptt!r} '
                f"in the {layer.source}."
            )
        return Truncation(bptt, bptt)
    if _is_zero(k1) and _is_zero(k2):
        return None  # how configs and checkpoints of earlier versions spell full BPTT
    if k1 is None and k2 is None:
        return below
    if below is None and (k1 is None or k2 is None):
        given, missing = ("k1", "k2") if k2 is None else ("k2", "k1")
        raise BpttError(
            f"The {layer.source} sets `{given}` alone, over full BPTT: there is no `{missing}` "
            f"to keep. Give both k1 and k2 (--k1 and --k2), or bptt = K (--bptt K)."
        )
    base = below or Truncation(k1, k2)
    return Truncation(base.k1 if k1 is None else k1, base.k2 if k2 is None else k2)


def _is_zero(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and value == 0


def ignored_settings(config: TrainConfig) -> set[str]:
    """The settings that play no part in this config's run (a GRU has no forget bias, a text
    stream no seq_len, ...): left out of the printed config and of config.toml."""
    task = config.task
    ignored = set()
    if task != "text":
        ignored.add("text")
    if task not in SEQUENCE_TASKS:
        ignored |= {"seq_len", "eval_sequences"}
    if task not in TEXT_TASKS:
        ignored |= {"eval_window", "sample_length", "temperature"}
    if task not in (*TEXT_TASKS, "copy", "temporal"):  # the tasks of token ids
        ignored.add("embed_size")
    if config.truncation is None:
        ignored.add("carry")
    if config.cell != "lstm":
        ignored.add("forget_bias")
    if config.num_layers == 1:
        ignored.add("dropout")
    if task not in CLASSIFICATION_TASKS:
        ignored |= {"readout", "readout_dropout", "max_steps", "jitter", "crop"}
    return ignored


def format_config(config: TrainConfig, *, every_setting: bool = False) -> str:
    """The resolved config as TOML lines, ready to print or save as a config file; the
    settings that play no part are left out unless ``every_setting``."""
    lines = []
    ignored = set() if every_setting else ignored_settings(config)
    for key, value in config.to_dict().items():
        if value is None or key in ignored:
            continue
        text = (
            json.dumps(value, ensure_ascii=False)  # a TOML basic string: \ and " escaped
            if isinstance(value, str)
            else repr(value).lower()
            if isinstance(value, bool)
            else repr(value)
        )
        lines.append(f"{key} = {text}")
    return "\n".join(lines)
