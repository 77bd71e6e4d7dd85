"""Sampling text from a trained character-level model, one step at a time."""

from __future__ import annotations

import numpy as np

from bptt.data.text import Vocabulary
from bptt.errors import BpttError
from bptt.model import Model
from bptt.types import Params


def default_prime(vocab: Vocabulary) -> str:
    """A newline where the vocabulary has one (a text starts a line), else its first
    character (a space in most single-line texts)."""
    return "\n" if "\n" in vocab.chars else vocab.chars[0]


def check_prime(prime: str, vocab: Vocabulary) -> None:
    """BpttError when ``prime`` is empty or holds characters the model has never seen."""
    if not prime:
        raise BpttError("`prime` must hold at least one character to start from.")
    unknown = sorted(set(prime) - set(vocab.chars))
    if unknown:
        raise BpttError(
            f"`prime` {prime!r} holds {len(unknown)} character(s) outside the model's "
            f"vocabulary of {vocab.size}: {', '.join(map(repr, unknown))}; start from text "
            "made of the characters it was trained on."
        )


def generate(
    model: Model,
    params: Params,
    vocab: Vocabulary,
    *,
    prime: str | None,
    length: int,
    temperature: float = 1.0,
    rng: np.random.Generator,
) -> str:
    """Continue ``prime`` by ``length`` characters drawn from softmax(logits / temperature).

    Args:
        model, params: a model with an embedding and a readout over ``vocab``.
        vocab: the vocabulary stored with the model.
        prime: text that sets the state first (at least one character, all in ``vocab``);
            None for ``default_prime(vocab)``.
        length: characters to generate.
        temperature: > 0; below 1 sharpens, above 1 flattens the distribution.
        rng: the source of randomness.

    Returns:
        The generated characters (without the prime).
    """
    prime = default_prime(vocab) if prime is None else prime
    check_prime(prime, vocab)
    if not (np.isfinite(temperature) and temperature > 0):
        raise BpttError(f"`temperature` must be a finite number > 0, got {temperature}.")
    if length < 0:
        raise BpttError(f"`length` must be >= 0, got {length}.")
    ids = vocab.encode(prime)[:, None]  # (T, 1)
    logits, carries, _ = model.forward(params, ids)
    last = logits[-1, 0].astype(np.float64)  # (V,)
    out = np.empty(length, dtype=np.int64)
    for k in range(length):
        z = last / temperature
        with np.errstate(under="ignore"):  # unlikely characters get probability 0
            p = np.exp(z - z.max())
        out[k] = rng.choice(p.size, p=p / p.sum())
        step_logits, carries, _ = model.forward(params, out[k : k + 1, None], carries0=carries)
        last = step_logits[0, 0].astype(np.float64)
    return vocab.decode(out)
