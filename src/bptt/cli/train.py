"""``bptt train``: train a recurrent model with full or truncated BPTT, on text or a task."""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path
from typing import Any

import numpy as np

from bptt.cells import CELL_NAMES
from bptt.errors import BpttError
from bptt.generate import generate
from bptt.model import READOUTS
from bptt.optim import OPTIMIZERS
from bptt.train.checkpoint import list_checkpoints, load_checkpoint
from bptt.train.config import (
    LR_SCHEDULES,
    TASKS,
    Layer,
    TrainConfig,
    format_config,
    load_toml,
    resolve_config,
)
from bptt.train.distributed import World, current_world, exit_code, launched_rank
from bptt.train.real_tasks import REAL_TASKS
from bptt.train.resume import resume_config, run_directory
from bptt.train.rundir import check_output_directory, check_writable
from bptt.train.trainer import Trainer, TrainingDivergedError

EXAMPLES = """examples:
  bptt train                                   char-level LSTM on Shakespeare, BPTT(50, 50)
  bptt train --text notes.txt --cell gru --hidden 256 --bptt 100 --steps 3000
  bptt train --task adding --seq-len 100 --cell lstm --full --optimizer rmsprop --lr 1e-3 --clip 1
  bptt train --task copy --seq-len 50 --k1 10 --k2 20 --hidden 128
  bptt train --config run.toml --lr 1e-3       a TOML file of settings, overridden on the line
  bptt train --resume runs/latest --steps 3000 continue a run bit for bit
  bptt train --cell mycells:PeepholeLSTM       a cell class of your own (module on the path)
  bptt train --task audio:clips/               a folder of WAV/FLAC clips, one subfolder a class

truncation: --bptt K is BPTT(K, K), --full is full BPTT; --k1 sets k1 and keeps k2, --k2 sets
k2 and keeps k1, from the layers below (defaults 50 and 50, the task's defaults, the config
file: keys bptt, k1, k2). k1 <= k2 is checked once all layers are merged.
"""

# command-line option -> setting name (``bptt.train.config.SETTINGS``); --bptt and --full
# both give the setting "bptt".
OPTIONS = {
    "task": "task",
    "text": "text",
    "cell": "cell",
    "hidden": "hidden_size",
    "layers": "num_layers",
    "embed": "embed_size",
    "dropout": "dropout",
    "forget_bias": "forget_bias",
    "seq_len": "seq_len",
    "batch": "batch_size",
    "k1": "k1",
    "k2": "k2",
    "steps": "steps",
    "optimizer": "optimizer",
    "lr": "learning_rate",
    "clip": "clip",
    "seed": "seed",
    "out": "out",
    "eval_every": "eval_every",
    "log_every": "log_every",
    "checkpoint_every": "checkpoint_every",
    "eval_sequences": "eval_sequences",
    "keep": "keep_checkpoints",
    "patience": "patience",
    "memory_budget": "memory_budget",
    "eval_window": "eval_window",
    "max_nonfinite": "max_nonfinite",
    "diagnose_every": "diagnose_every",
    "carry": "carry",
    "stop_at": "stop_at",
    "sample_length": "sample_length",
    "temperature": "temperature",
    "readout": "readout",
    "bidirectional": "bidirectional",
    "readout_dropout": "readout_dropout",
    "max_steps": "max_steps",
    "jitter": "jitter",
    "crop": "crop",
    "lr_schedule": "lr_schedule",
}


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a model (defaults: char-level LSTM on Shakespeare)",
        description=(
            "Train a recurrent network with truncated BPTT(k1, k2) (an update every k1 steps, "
            "backpropagating k2 steps) or full BPTT. Settings come from the defaults, then the "
            "task's own defaults, then --config FILE (TOML), then the options given here; the "
            "merged settings are checked once. Progress goes to stderr; metrics are appended "
            "to OUT/metrics.jsonl and checkpoints written to OUT/checkpoints."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--config", metavar="FILE", help="TOML file of settings (as in the saved config)"
    )
    p.add_argument("--resume", metavar="PATH", help="checkpoint file or run directory to continue")
    _add_model_options(p.add_argument_group("data and model"))
    _add_truncation_options(p.add_argument_group("truncated or full BPTT"))
    _add_run_options(p.add_argument_group("optimisation, evaluation and output"))
    _add_recipe_options(p.add_argument_group("sequence classification (ucr:, digits, audio:)"))
    p.set_defaults(func=run, command="train")


def _add_model_options(group: argparse._ArgumentGroup) -> None:
    add = group.add_argument
    add(
        "--task",
        choices=TASKS,
        metavar="TASK",
        help="shakespeare (default), text, adding, copy, temporal; real data with their own "
        "defaults: " + ", ".join(REAL_TASKS) + "; audio:DIR (a folder of WAV/FLAC files, one "
        "subfolder per class)",
    )
    add("--text", metavar="PATH", help="train on this UTF-8 text file (task 'text')")
    add(
        "--cell",
        metavar="CELL",
        help=f"{', '.join(CELL_NAMES)} (default lstm), or package.module:ClassName for a cell "
        "class of your own (bptt.types.Cell)",
    )
    add("--hidden", type=int, help="hidden units (128)")
    add("--layers", type=int, help="stacked layers (1)")
    add("--embed", type=int, help="embedding width for token inputs (64)")
    add("--dropout", type=float, help="dropout between layers (0)")
    add("--forget-bias", type=float, help="LSTM forget-gate bias at init (1.0)")
    add("--seq-len", type=int, help="T of synthetic tasks (100)")
    add("--batch", type=int, help="streams or sequences per batch (32)")


def _add_truncation_options(group: argparse._ArgumentGroup) -> None:
    both = group.add_mutually_exclusive_group()
    both.add_argument("--bptt", type=int, metavar="K", help="truncated BPTT(K, K)")
    both.add_argument(
        "--full", action="store_true", help="full BPTT over each sequence (not for streams)"
    )
    add = group.add_argument
    add(
        "--k1",
        type=int,
        help="steps between updates (50); k2 stays as the defaults or --config set it",
    )
    add(
        "--k2",
        type=int,
        help="steps backpropagated, >= k1 (50); k1 stays as the defaults or --config set it",
    )
    add(
        "--no-carry",
        dest="carry",
        action="store_false",
        default=None,
        help="reset the state at every window instead of carrying it (text)",
    )


def _add_run_options(group: argparse._ArgumentGroup) -> None:
    add = group.add_argument
    add("--steps", type=int, help="parameter updates (1500)")
    add("--optimizer", choices=OPTIMIZERS, help="adam (default), sgd, momentum, ...")
    add("--lr", type=float, help="learning rate (2e-3)")
    add("--clip", type=float, help="global-norm gradient clipping, 0 for none (5)")
    add("--seed", type=int, help="random seed (0)")
    add("--out", metavar="DIR", help="output directory (runs/latest)")
    add("--eval-every", type=int, help="updates between validations (250)")
    add("--log-every", type=int, help="updates between progress lines (25)")
    add("--checkpoint-every", type=int, help="updates between checkpoints (500)")
    add("--eval-sequences", type=int, help="size of the synthetic evaluation set (1000)")
    add("--keep", type=int, help="checkpoints to keep (3)")
    add("--patience", type=int, help="early stop after N validations without gain (0: off)")
    add("--stop-at", type=float, help="stop once the validation metric reaches this value")
    add("--eval-window", type=int, help="steps per text evaluation window, state carried (100)")
    add("--max-nonfinite", type=int, help="stop after N non-finite updates in a row (5)")
    add(
        "--memory-budget",
        metavar="BUDGET",
        help="checkpointed BPTT per layer: sqrt, N stored states, or a size like 64MiB",
    )
    add("--diagnose-every", type=int, help="log memory horizon and verdicts every N updates")
    add("--sample-length", type=int, help="characters sampled at the end (300)")
    add("--temperature", type=float, help="sampling temperature (0.8)")


def _add_recipe_options(group: argparse._ArgumentGroup) -> None:
    add = group.add_argument
    add("--readout", choices=READOUTS, help="last step (all), final states (last), or pooled")
    add(
        "--bidirectional",
        action="store_true",
        default=None,
        help="a reverse-time direction in every layer (full BPTT)",
    )
    add("--readout-dropout", type=float, help="dropout on what the readout reads (0)")
    add("--max-steps", type=int, help="patch longer sequences down to this many steps (0: off)")
    add("--jitter", type=float, help="std of noise added to training inputs (0)")
    add("--crop", type=float, help="train on random windows of this share of a sequence (1)")
    add("--lr-schedule", choices=LR_SCHEDULES, help="constant (default) or cosine to 0")


def overrides_from(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given on the command line (None where an option was not given)."""
    values = {setting: getattr(args, option) for option, setting in OPTIONS.items()}
    values["bptt"] = "full" if args.full else args.bptt
    if args.text is not None and args.task is None:
        values["task"] = "text"
    return values


def run(args: argparse.Namespace) -> int:
    """Train in this process, or as one of W under ``mpiexec -n W`` (bptt.train.distributed):
    then process 0 prints and writes, an error every process meets is reported once, and an
    error of one process ends them all."""
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


def _setup(args: argparse.Namespace, world: World | None) -> tuple[TrainConfig, Trainer] | int:
    """The resolved config and its Trainer, or 0 when a resumed run has nothing left to do."""
    root = world is None or world.rank == 0
    command_line = Layer("command line", overrides_from(args))
    ckpt = None
    if args.resume:
        if args.config:
            raise BpttError("--config and --resume do not mix: a resumed run keeps its config.")
        ckpt = load_checkpoint(args.resume)
        config = resume_config(ckpt, dict(command_line.values))
        saved, now = int(ckpt.meta.get("world_size", 1)), 1 if world is None else world.size
        if root and saved != now:  # the checkpoint holds every stream: re-sharded, exact
            print(
                f"bptt train: {ckpt.path} was written by {saved} process(es) and {now} go on: "
                "the streams are re-sharded; the run continues exactly, to the rounding of "
                "another order of summation (bit for bit only with the same number).",
                file=sys.stderr,
            )
        step = int(ckpt.meta.get("step", 0))
        if config.steps <= step:
            if root:
                print(
                    f"bptt train: the run in {config.out} already reached step {step} of "
                    f"--steps {config.steps}; nothing to do. Give --steps N with N > {step} "
                    "to train on.",
                    file=sys.stderr,
                )
            return 0
    else:
        layers = (
            [Layer(f"config file {args.config}", load_toml(args.config))] if args.config else []
        )
        config = resolve_config(*layers, command_line)
    out = Path(config.out)
    if ckpt is not None and out.resolve() == run_directory(ckpt):
        check_writable(out)  # the run's own directory: its other files stay as they are
    else:
        check_output_directory(out, run_id=None if ckpt is None else ckpt.meta.get("run_id"))
    trainer = Trainer(config, resume=ckpt, world=world)  # reads the data; refuses too big
    return config, trainer


def _run(args: argparse.Namespace, world: World | None) -> int:
    root = world is None or world.rank == 0
    setup = functools.partial(_setup, args, world)
    prepared = setup() if world is None else world.agreed(setup)
    if isinstance(prepared, int):
        return prepared
    config, trainer = prepared
    if root:
        print("# resolved config\n" + format_config(config), flush=True)
    try:
        summary = trainer.fit()
    except KeyboardInterrupt:
        if root:
            print(_interrupted(trainer, config.out), file=sys.stderr)
        return 130
    except TrainingDivergedError as error:
        if root:
            print(f"bptt train: error: {error}", file=sys.stderr)
        return 1
    path = trainer.save()  # every process takes part; process 0 writes
    if not root:
        return 0
    metric = trainer.task.metric
    value = summary["valid"][metric.name]
    print(
        f"validation {metric.name} {value:.4f} after {summary['step']} updates in "
        f"{summary['seconds']:.0f} s (baseline {metric.baseline:.4f}: {metric.baseline_source})"
    )
    print(f"checkpoint: {path}")
    if trainer.task.vocab is not None and config.sample_length > 0:
        text = generate(
            trainer.model,
            trainer.state.params,
            trainer.task.vocab,
            prime=None,
            length=config.sample_length,
            temperature=config.temperature,
            rng=np.random.default_rng(config.seed),
        )
        print("sample:\n" + text)
    return 0


def _interrupted(trainer: Trainer, out: str) -> str:
    """The line for an interrupted run: where it can resume from, if anywhere."""
    saved = list_checkpoints(trainer.checkpoints)
    if not saved:  # interrupted while starting, before the first checkpoint
        return (
            f"bptt train: interrupted before the first checkpoint; nothing to resume in {out}. "
            "Run the same command again to start over."
        )
    return (
        f"bptt train: interrupted at step {trainer.state.step}; newest checkpoint "
        f"{saved[-1]}. Resume with: bptt train --resume {out}"
    )
