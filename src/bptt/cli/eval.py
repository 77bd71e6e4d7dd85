"""``bptt eval``: score a checkpoint on its task's validation or test split."""

from __future__ import annotations

import argparse
from typing import Any

from bptt.train.checkpoint import load_checkpoint
from bptt.train.evaluate import evaluate
from bptt.train.factories import make_task
from bptt.train.resume import saved_config, saved_model

EXAMPLES = """examples:
  bptt eval runs/latest
  bptt eval runs/latest/checkpoints/ckpt-00001500.npz --split valid
"""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "eval",
        help="evaluate a checkpoint on its task",
        description="Report the task's metric (bits/char, MSE, accuracy, nats) on a split.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "checkpoint",
        help="checkpoint file, or run directory (its best.npz, the best validation so far)",
    )
    p.add_argument(
        "--last", action="store_true", help="the run's newest checkpoint instead of its best"
    )
    p.add_argument("--split", choices=("test", "valid"), default="test")
    p.set_defaults(func=run, command="eval")


def run(args: argparse.Namespace) -> int:
    ckpt = load_checkpoint(args.checkpoint, best=not args.last)
    config = saved_config(ckpt)
    task = make_task(config)
    result = evaluate(saved_model(ckpt), ckpt.params, task, config, args.split)
    name = task.metric.name
    print(
        f"{config.task} {args.split} {name} {result[name]:.4f} (loss {result['loss']:.4f}; "
        f"baseline {task.metric.baseline:.4f}: {task.metric.baseline_source}) "
        f"step {ckpt.meta['step']} ({ckpt.path.name})"
    )
    return 0
