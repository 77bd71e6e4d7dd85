"""``bptt sample``: generate text from a trained character-level model."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from bptt.data.text import Vocabulary
from bptt.errors import BpttError
from bptt.generate import check_prime, default_prime, generate
from bptt.train.checkpoint import load_checkpoint
from bptt.train.memory import check_fits
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
    p.add_argument(
        "checkpoint",
        help="checkpoint file, or run directory (its best.npz, the best validation so far)",
    )
    p.add_argument(
        "--last", action="store_true", help="the run's newest checkpoint instead of its best"
    )
    p.add_argument("--length", type=int, default=300, help="characters to generate (300)")
    p.add_argument("--temperature", type=float, default=0.8, help="> 0 (0.8)")
    p.add_argument(
        "--prime",
        default=None,
        help="text to start from (a newline, or the model's first character if it has none)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run, command="sample")


def run(args: argparse.Namespace) -> int:
    ckpt = load_checkpoint(args.checkpoint, best=not args.last)
    vocab = ckpt.meta.get("vocab")
    if vocab is None:
        raise BpttError(
            f"Checkpoint {ckpt.path} is from task {saved_config(ckpt).task!r}, which has no "
            "text vocabulary; sample from a text model (task shakespeare or text)."
        )
    vocab = Vocabulary.from_list(vocab)
    prime = default_prime(vocab) if args.prime is None else args.prime
    check_prime(prime, vocab)
    # An id (8 bytes) and up to 4 bytes of text per character; generate checks the rest.
    check_fits(12 * args.length, f"Sampling {args.length:,} characters", "lower --length")
    text = generate(
        saved_model(ckpt),
        ckpt.params,
        vocab,
        prime=prime,
        length=args.length,
        temperature=args.temperature,
        rng=np.random.default_rng(args.seed),
    )
    print(prime + text)
    return 0
