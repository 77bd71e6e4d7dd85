"""Memory a run will need, estimated before anything is allocated, against what is available.

A size that cannot fit (a hidden layer of ten million units, a sequence of a billion steps)
must be refused with the estimate in the message, not end in a MemoryError or the kernel's
OOM killer hours later. The estimates count the large arrays only and round up:

- parameters: P values, times 4 during training (the values, their gradients and up to two
  optimizer moments, as Adam keeps);
- one BPTT window: per layer and direction, (2G + 3) values per step, sequence and unit (the
  gates and their gradients, h, c and the input projection; G the cell's gate blocks), plus
  the readout's outputs and gradients, 3 O values per step and sequence;
- the task's batch: T x B x (D + O) float64 values for float inputs (token ids are 8 bytes);
- evaluation: a window of the evaluation batch, without gradients, and for synthetic tasks
  the fixed evaluation set, which is drawn again at every evaluation.
"""

from __future__ import annotations

import math
import os
from typing import Any

from bptt.errors import BpttError
from bptt.model import ModelConfig
from bptt.train.config import parse_memory_budget

FLOAT = 4  # float32, the training dtype
EVAL_BATCH = 250  # sequences per evaluation batch of a synthetic task


def available_bytes() -> int | None:
    """Memory available to a new allocation (Linux: MemAvailable), or None where unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def format_bytes(n: float) -> str:
    """1536 -> "1.5 KiB"."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    raise AssertionError("unreachable")


def parameter_count(config: ModelConfig, num_gates: int) -> int:
    """P, the number of values in a model's parameters."""
    H, G, dirs = config.hidden_size, num_gates, config.directions
    count = 0 if config.vocab_size is None else config.vocab_size * config.embed_size
    D = config.layer_input_size
    for _ in range(config.num_layers):
        count += dirs * (D * G * H + H * G * H + G * H + H)  # W_x, W_h, b (and GRU's b_hn)
        D = H * dirs
    if config.output_size is not None:
        count += (H * dirs + 1) * config.output_size
    return count


def step_bytes(config: ModelConfig, num_gates: int, T: int, B: int, *, grads: bool) -> int:
    """One forward (and backward, with ``grads``) pass over T steps of B sequences."""
    per_step = config.num_layers * config.directions * config.hidden_size
    per_step *= (2 * num_gates + 3) if grads else 3
    per_step += 3 * (config.output_size or 0)
    return T * B * per_step * FLOAT


def data_bytes(config: ModelConfig, T: int, B: int, *, class_targets: bool) -> int:
    """A batch of T steps of B sequences: inputs (ids or D floats) and targets (a class id,
    or O floats), 8 bytes each."""
    width = 1 if config.vocab_size is not None else config.layer_input_size
    targets = 1 if class_targets else (config.output_size or 1)
    return T * B * (width + targets) * 8


def check_fits(needed: int, what: str, advice: str) -> None:
    """BpttError when ``needed`` bytes exceed the memory available now (unknown: no check).

    Args:
        needed: the estimate, in bytes.
        what: what needs it, e.g. "Training an LSTM of H=30000 (2 layers)".
        advice: which setting to lower, e.g. "lower --hidden or --layers".
    """
    free = available_bytes()
    if free is not None and needed > free:
        raise BpttError(
            f"{what} needs about {format_bytes(needed)} of memory, more than the "
            f"{format_bytes(free)} available on this machine; {advice}."
        )


def training_bytes(config: Any, model_config: ModelConfig, task: Any, cell: Any) -> int:
    """The estimate for a training run (a TrainConfig) on ``task``: parameters, and the
    larger of one window's tape with the batch and an evaluation."""
    G = getattr(cell, "num_gates", 1)
    B = config.batch_size
    T = task.steps(B)
    classes = task.loss == "xent"
    window = T if config.truncation is None else min(T, config.truncation.k2)
    params = 4 * parameter_count(model_config, G) * FLOAT
    tape = step_bytes(model_config, G, window, B, grads=True)
    budget = parse_memory_budget(config.memory_budget)
    if budget is not None:  # checkpointed: the stored states and the outputs, not every step
        kind, amount = budget
        stored = 2 * math.isqrt(window) + 2 if kind == "sqrt" else amount
        # Kept whatever the plan: each layer's outputs (the next layer's inputs) and the
        # readout's outputs with their gradients.
        per_step = model_config.num_layers * model_config.directions * model_config.hidden_size
        outputs = window * B * (per_step + 3 * (model_config.output_size or 0)) * FLOAT
        tape = min(tape, amount if kind == "bytes" else tape * stored / window) + outputs
    training = tape + data_bytes(model_config, T, B, class_targets=classes)
    if task.stateful:
        evaluation = step_bytes(model_config, G, config.eval_window, B, grads=False)
    else:
        batch = min(EVAL_BATCH, config.eval_sequences)
        evaluation = step_bytes(model_config, G, T, batch, grads=False)
        sequences = data_bytes(model_config, T, config.eval_sequences, class_targets=classes)
        evaluation = max(evaluation, sequences)
    if task.vocab is not None:  # the sample printed at the end: an id and a character each
        evaluation = max(evaluation, 12 * config.sample_length)
    return int(params + max(training, evaluation))


def check_model_fits(config: ModelConfig, cell: Any, what: str, *, itemsize: int = 8) -> None:
    """Refuse a model whose parameters, their gradients and two more copies (``itemsize``
    bytes each, float64 for the diagnostics and gradient checks) cannot fit in memory."""
    count = parameter_count(config, getattr(cell, "num_gates", 1))
    check_fits(
        4 * count * itemsize,
        f"{what} ({_millions(count)} parameters)",
        "lower --hidden or --layers",
    )


def check_training_fits(config: Any, model_config: ModelConfig, task: Any, cell: Any) -> None:
    """Refuse a training run (a TrainConfig) whose model, window, data, evaluation or sample
    cannot fit in memory, before any of it is allocated."""
    G = getattr(cell, "num_gates", 1)
    B = config.batch_size
    T = task.steps(B)
    window = T if config.truncation is None else min(T, config.truncation.k2)
    needed = training_bytes(config, model_config, task, cell)
    what = (
        f"Training a {model_config.num_layers}-layer {config.cell} of H={config.hidden_size} "
        f"({_millions(parameter_count(model_config, G))} parameters) on batches of {B} x "
        f"{T} steps (window {window})"
    )
    check_fits(
        needed,
        what,
        "lower --hidden, --layers, --batch or the window (--bptt, or --memory-budget for "
        "checkpointed BPTT); for a synthetic task also --seq-len and --eval-sequences; "
        "--sample-length for the sample",
    )


def _millions(count: int) -> str:
    """67,329 or 3.61e9: a count written for a sentence."""
    if count < 1e7:
        return f"{count:,}"
    exponent = len(str(count)) - 1
    return f"{count / 10**exponent:.3g}e{exponent}"


__all__ = [
    "available_bytes",
    "check_fits",
    "check_model_fits",
    "check_training_fits",
    "format_bytes",
    "training_bytes",
]
