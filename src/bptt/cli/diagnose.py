"""``bptt diagnose``: what a recurrent model forgets, why, and what to change."""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path
from typing import Any

import numpy as np

from bptt.cells import CELL_NAMES
from bptt.diagnostics import compare, summary_table, write_report
from bptt.errors import BpttError
from bptt.model import Model, ModelConfig
from bptt.train.checkpoint import load_checkpoint
from bptt.train.config import TASKS, resolve_config
from bptt.train.real_tasks import FORECAST_TASKS
from bptt.train.tasks import StreamTask
from bptt.train.trainer import check_writable, make_task, model_config_for
from bptt.window import Batch

EXAMPLES = """examples:
  bptt diagnose --task adding --cell rnn --seq-len 100     a fresh model on the adding problem
  bptt diagnose --task copy --seq-len 50 --compare rnn,lstm,gru
  bptt diagnose --checkpoint runs/latest                   a trained model on its own data
  bptt diagnose --task adding --sweep 5,10,25,50,100 --out report/
"""


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
    add("--task", choices=TASKS, help="task of a fresh model (default adding)")
    add("--text", metavar="PATH", help="text file for --task text")
    add("--cell", choices=CELL_NAMES, help="cell of a fresh model (default lstm)")
    add("--compare", metavar="CELLS", help="comma-separated cells side by side, e.g. rnn,lstm")
    add("--hidden", type=int, default=None, help="hidden units of a fresh model (64)")
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


def _batches(task: Any, config: Any, args: argparse.Namespace) -> list[Batch]:
    """Batches of the task's own data: validation text windows, or fresh sequences."""
    if isinstance(task, StreamTask):
        windows = task.eval_batches("valid", args.batch_size, args.window)
        return [w for _, w in zip(range(args.batches), windows, strict=False)]
    draws = task.eval_batches(config.seed, args.batches * args.batch_size, args.batch_size)
    return list(itertools.islice(draws, args.batches))  # a real split yields all its batches


def run(args: argparse.Namespace) -> int:
    for name in ("batches", "batch_size", "window"):
        if getattr(args, name) < 1:
            raise BpttError(f"`--{name.replace('_', '-')}` must be >= 1.")
    out = Path(args.out)
    check_writable(out)
    sweep = _ints(args.sweep, "--sweep") if args.sweep else None
    if args.checkpoint:
        ckpt = load_checkpoint(args.checkpoint)
        config = resolve_config(ckpt.meta["config"])
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
        model = Model(ModelConfig(**ckpt.meta["model_config"]))
        models = {f"{config.cell} (step {ckpt.meta['step']})": (model, ckpt.params)}
    else:
        overrides = {
            "task": args.task or ("text" if args.text else "adding"),
            "text": args.text,
            "cell": args.cell,
            "hidden_size": args.hidden or 64,
            "num_layers": args.layers,
            "seq_len": args.seq_len,
            "seed": args.seed,
            "k1": 0,
            "k2": 0,
        }
        if overrides["task"] in ("shakespeare", "text", *FORECAST_TASKS):
            overrides.update(k1=None, k2=None)
        config = resolve_config(None, overrides)
        task = make_task(config)
        cells = _cells(args.compare) if args.compare else [config.cell]
        models = {}
        for cell in cells:
            model = Model(model_config_for(config.replace(cell=cell), task))
            models[cell] = (model, model.init(np.random.default_rng(args.seed), dtype=np.float64))
    batches = _batches(task, config, args)
    diagnoses = compare(
        models,
        batches,
        loss=task.loss,
        sweep=sweep,
        epsilon=args.epsilon,
        threshold=args.threshold,
    )
    print(summary_table(diagnoses))
    paths = write_report(diagnoses, out)
    print(f"\nreport: {paths.html}\nfigures and numbers: {paths.json}")
    return 0


def _cells(text: str) -> list[str]:
    cells = [c.strip() for c in text.split(",") if c.strip()]
    unknown = [c for c in cells if c not in CELL_NAMES]
    if unknown or not cells:
        raise BpttError(f"--compare takes cells from {', '.join(CELL_NAMES)}, got {text!r}.")
    return cells
