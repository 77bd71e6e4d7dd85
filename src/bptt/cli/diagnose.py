"""``bptt diagnose``: what a recurrent model forgets, why, and what to change."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

from bptt.cells import CELL_NAMES, make_cell
from bptt.diagnostics import compare, summary_table, write_report
from bptt.engine.truncated import truncation, windows
from bptt.errors import BpttError, MissingExtraError
from bptt.model import Model
from bptt.train.checkpoint import load_checkpoint
from bptt.train.config import TASKS, Layer, TrainConfig, resolve_config
from bptt.train.factories import make_task, model_config_for
from bptt.train.memory import check_fits, check_model_fits, step_bytes
from bptt.train.resume import saved_config, saved_model
from bptt.train.rundir import check_writable
from bptt.train.tasks import Task
from bptt.window import Batch

EXAMPLES = """examples:
  bptt diagnose --task adding --cell rnn --seq-len 100     a fresh model on the adding problem
  bptt diagnose --task copy --seq-len 50 --compare rnn,lstm,gru
  bptt diagnose --checkpoint runs/latest                   a trained model on its own data
  bptt diagnose --task adding --sweep 5,10,25,50,100 --out report/
  bptt diagnose --task copy --cell mycells:PeepholeLSTM    a cell class of your own
"""

# The defaults of a fresh model here, a layer under the task's own defaults and the options
# (bptt.train.config.resolve_config): a smaller model than `bptt train`'s, on the adding task.
DIAGNOSE_DEFAULTS = {"task": "adding", "hidden_size": 64}


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "diagnose",
        help="gradient flow, memory horizon, truncation bias, with recommendations",
        description=(
            "Measure, per layer and per time step, how far back the gradient reaches (memory "
            "horizon), whether it vanishes or explodes, how wrong a truncated gradient is, and "
            "which architecture, truncation window and clipping threshold to use. Writes "
            "report.html (self-contained), diagnosis.json and PNG figures to --out."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = p.add_argument
    add("--checkpoint", metavar="PATH", help="a trained model (file or run directory)")
    add("--task", choices=TASKS, metavar="TASK", help="task of a fresh model (default adding)")
    add("--text", metavar="PATH", help="text file for --task text")
    add(
        "--cell",
        metavar="CELL",
        help=f"cell of a fresh model: {', '.join(CELL_NAMES)} or package.module:ClassName "
        "(default: the task's, else lstm)",
    )
    add("--compare", metavar="CELLS", help="comma-separated cells side by side, e.g. rnn,lstm")
    add(
        "--hidden",
        type=int,
        default=None,
        help="hidden units of a fresh model (the task's, else 64)",
    )
    add("--layers", type=int, default=None, help="layers of a fresh model (1)")
    add("--seq-len", type=int, default=None, help="T of the synthetic task (100)")
    add("--window", type=int, default=100, help="steps per text batch (100)")
    add("--batches", type=int, default=4, help="batches for the gradient statistics (4)")
    add("--batch-size", type=int, default=16, help="sequences per batch (16)")
    add("--sweep", metavar="K,K,...", help="truncation windows to compare with full BPTT")
    add("--epsilon", type=float, default=1e-3, help="memory-horizon threshold (1e-3)")
    add("--threshold", type=float, default=0.9, help="cosine the recommended k reaches (0.9)")
    add("--seed", type=int, default=0)
    add("--out", default="runs/diagnose", help="report directory (runs/diagnose)")
    p.set_defaults(func=run, command="diagnose")


def _ints(text: str, option: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise BpttError(f"`{option}` takes comma-separated integers, got {text!r}.") from None


def _batches(task: Task, config: TrainConfig, args: argparse.Namespace) -> list[Batch]:
    """``--batches`` batches of the task's validation data: windows of ``--window`` steps of a
    text (from its start), or evaluation sequences (a real split gives all it has)."""
    found: list[Batch] = []
    draws = task.eval_batches(
        "valid",
        seed=config.seed,
        batch_size=args.batch_size,
        num_sequences=args.batches * args.batch_size,
    )
    for batch in draws:
        if task.stateful:
            steps = batch.inputs.shape[0]
            if args.window > steps:
                raise BpttError(
                    f"`--window` {args.window} is longer than the validation text, "
                    f"{steps} steps per stream at --batch-size {args.batch_size}; use "
                    f"--window <= {steps}."
                )
            cut = windows(steps, truncation(args.window))
            found.extend(batch.slice(w.start, w.stop) for w in cut[: args.batches])
        else:
            found.append(batch)
        if len(found) >= args.batches:
            break
    return found[: args.batches]


FRESH_ONLY = ("hidden", "layers", "seq_len", "text")
"""Options of a fresh model, which a checkpoint fixes."""


def _check_size(batches: list[Batch], models: dict[str, Any]) -> None:
    """Refuse a diagnosis whose float64 tapes cannot fit in memory, before it runs."""
    T, B = batches[0].inputs.shape[:2]
    worst = 0
    for model, _ in models.values():
        G = getattr(model.cell, "num_gates", 1)
        # float64 tapes of a forward-backward pass, twice (the sensitivity and the flow).
        worst = max(worst, 4 * step_bytes(model.config, G, T, B, grads=True))
    check_fits(
        worst,
        f"Diagnosing {len(models)} model(s) on windows of {T} steps x {B}",
        "lower --window or --batch-size",
    )


def _fresh_config(args: argparse.Namespace) -> TrainConfig:
    """The config of a fresh model: the same layers as `bptt train`, with diagnose's defaults."""
    options = {
        "task": args.task or ("text" if args.text else None),
        "text": args.text,
        "cell": args.cell,
        "hidden_size": args.hidden,
        "num_layers": args.layers,
        "seq_len": args.seq_len,
        "seed": args.seed,
    }
    return resolve_config(Layer("command line", options), defaults=DIAGNOSE_DEFAULTS)


def run(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("matplotlib") is None:  # the report's figures, before any work
        raise MissingExtraError(
            "bptt diagnose draws its report's figures with matplotlib, which is not "
            "installed: pip install 'bptt[plot]' (or pip install matplotlib)."
        )
    for name in ("batches", "batch_size", "window"):
        if getattr(args, name) < 1:
            raise BpttError(f"`--{name.replace('_', '-')}` must be >= 1.")
    out = Path(args.out)
    check_writable(out)
    sweep = _ints(args.sweep, "--sweep") if args.sweep else None
    if args.checkpoint:
        given = [f"--{n.replace('_', '-')}" for n in FRESH_ONLY if getattr(args, n) is not None]
        if given:
            raise BpttError(
                f"{', '.join(given)} shape(s) a fresh model; with --checkpoint the model and "
                "its data are the checkpoint's. Drop them, or diagnose a fresh model."
            )
        ckpt = load_checkpoint(args.checkpoint)
        config = saved_config(ckpt)
        for option, saved in (("task", config.task), ("cell", config.cell)):
            given = getattr(args, option)
            if given is not None and given != saved:
                raise BpttError(
                    f"--{option} {given} does not match the checkpoint, trained with "
                    f"{option} {saved!r}; drop --{option} or diagnose a fresh model."
                )
        if args.compare:
            raise BpttError("--compare runs fresh models; it does not mix with --checkpoint.")
        task = make_task(config)
        models = {f"{config.cell} (step {ckpt.meta['step']})": (saved_model(ckpt), ckpt.params)}
    else:
        config = _fresh_config(args)
        task = make_task(config)
        cells = _cells(args.compare) if args.compare else [config.cell]
        models = {}
        for cell in cells:
            model = Model(model_config_for(config.replace(cell=cell), task))
            check_model_fits(model.config, model.cell, f"A {cell} of H={model.config.hidden_size}")
            models[cell] = (model, model.init(np.random.default_rng(args.seed), dtype=np.float64))
    batches = _batches(task, config, args)
    _check_size(batches, models)
    trained_window = None
    if args.checkpoint and config.truncation is not None:
        trained_window = config.truncation.k2
    diagnoses = compare(
        models,
        batches,
        loss=task.loss,
        sweep=sweep,
        epsilon=args.epsilon,
        threshold=args.threshold,
        dependency_span=task.span(),
        current_window=trained_window,
    )
    print(summary_table(diagnoses))
    paths = write_report(diagnoses, out)
    print(f"\nreport: {paths.html}\nfigures and numbers: {paths.json}")
    return 0


def _cells(text: str) -> list[str]:
    cells = [c.strip() for c in text.split(",") if c.strip()]
    if not cells:
        raise BpttError(f"--compare takes comma-separated cells, e.g. rnn,lstm; got {text!r}.")
    for cell in cells:
        try:
            make_cell(cell)
        except BpttError as error:
            raise BpttError(
                f"--compare takes cells from {', '.join(CELL_NAMES)} or "
                f"package.module:ClassName; {cell!r} in {text!r}: {error}"
            ) from None
    return cells
