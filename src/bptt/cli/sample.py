"""``bptt sample``: generate text from a trained character-level model."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from bptt.data.text import Vocabulary
from bptt.errors import BpttError
from bptt.generate import generate
from bptt.train.checkpoint import load_checkpoint
from bptt.train.resume import saved_config, saved_model

EXAMPLES = """examples:
  bptt sample runs/latest
  bptt sample runs/latest --length 500 --temperature 0.6 --prime "HAMLET:"
"""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "sample",
        help="generate text from a checkpoint",
        description="Continue a prime text with characters drawn from a trained model.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("checkpoint", help="checkpoint file or run directory (newest checkpoint)")
    p.add_argument("--length", type=int, default=300, help="characters to generate (300)")
    p.add_argument("--temperature", type=float, default=0.8, help="> 0 (0.8)")
    p.add_argument("--prime", default="\n", help="text to start from (a newline)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run, command="sample")


def run(args: argparse.Namespace) -> int:
    ckpt = load_checkpoint(args.checkpoint)
    vocab = ckpt.meta.get("vocab")
    if vocab is None:
        raise BpttError(
            f"Checkpoint {ckpt.path} is from task {saved_config(ckpt).task!r}, which has no "
            "text vocabulary; sample from a text model (task shakespeare or text)."
        )
    text = generate(
        saved_model(ckpt),
        ckpt.params,
        Vocabulary.from_list(vocab),
        prime=args.prime,
        length=args.length,
        temperature=args.temperature,
        rng=np.random.default_rng(args.seed),
    )
    print(args.prime + text)
    return 0
