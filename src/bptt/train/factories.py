"""What a TrainConfig builds: the task, the model's config, the optimizer, the memory policy.

Pure functions of the config (and, for the memory policy, of the model); the Trainer, the
evaluation and the command line call them so that a run, its evaluation and its diagnosis
are built the same way.
"""

from __future__ import annotations

from bptt.engine.plan import slots_for_bytes
from bptt.model import Model, ModelConfig
from bptt.optim import (
    GradientTransformation,
    cosine_decay_schedule,
    make_optimizer,
    with_clipping,
)
from bptt.train.config import TrainConfig, parse_memory_budget
from bptt.train.real_tasks import REAL_TASKS, real_task
from bptt.train.tasks import Task, sequence_task, shakespeare_task, text_file_task


def make_task(config: TrainConfig) -> Task:
    """The task ``config.task`` names, with its data loaded.

    Raises:
        BpttError: a text file that cannot be used, or a series too short for the streams.
        MissingExtraError: the data needs an optional package that is not installed.
    """
    if config.task in REAL_TASKS:
        return real_task(config.task, config)
    if config.task == "shakespeare":
        return shakespeare_task()
    if config.task == "text":
        return text_file_task(str(config.text), config.batch_size)
    return sequence_task(config.task, config.seq_len)


def model_config_for(config: TrainConfig, task: Task) -> ModelConfig:
    """The model of ``config`` with the input and output sizes of ``task``'s data."""
    return ModelConfig(
        cell=config.cell,
        hidden_size=config.hidden_size,
        embed_size=config.embed_size,
        num_layers=config.num_layers,
        dropout=config.dropout,
        forget_bias=config.forget_bias,
        readout=config.readout,
        bidirectional=config.bidirectional,
        readout_dropout=config.readout_dropout,
        **task.model_io(),
    )


def make_training_optimizer(config: TrainConfig) -> GradientTransformation:
    """``config.optimizer`` at ``config.learning_rate`` (decayed along a cosine to 0 over
    ``steps`` with ``lr_schedule="cosine"``), after global-norm clipping if any."""
    rate = config.learning_rate
    if config.lr_schedule == "cosine":
        rate = cosine_decay_schedule(config.learning_rate, config.steps)
    optimizer = make_optimizer(config.optimizer, rate)
    return with_clipping(optimizer, config.clip) if config.clip > 0 else optimizer


def memory_policy(config: TrainConfig, model: Model) -> str | int | None:
    """The checkpointing policy of ``config.memory_budget`` for each layer, or None (off).

    A budget in bytes becomes a number of stored states of one step's share of full BPTT's
    memory, about (2G + 3) * B * H float32 values (gates, their gradients, h, c and the
    input projection); a user-defined cell without a ``num_gates`` attribute counts as G = 1.
    """
    budget = parse_memory_budget(config.memory_budget)
    if budget is None:
        return None
    kind, amount = budget
    if kind == "sqrt":
        return "sqrt"
    if kind == "states":
        return int(amount)
    G = getattr(model.cell, "num_gates", 1)
    state_bytes = (2 * G + 3) * config.batch_size * config.hidden_size * 4
    return slots_for_bytes(int(amount), state_bytes)
