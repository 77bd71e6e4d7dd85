"""Sampling text from a trained character-level model, one step at a time."""

from __future__ import annotations

import numpy as np

from bptt.data.text import Vocabulary
from bptt.errors import BpttError
from bptt.model import Model
from bptt.types import Params


def generate(
    model: Model,
    params: Params,
    vocab: Vocabulary,
    *,
    prime: str,
    length: int,
    temperature: float = 1.0,
    rng: np.random.Generator,
) -> str:
    """Continue ``prime`` by ``length`` characters drawn from softmax(logits / temperature).

    Args:
        model, params: a model with an embedding and a readout over ``vocab``.
        vocab: the vocabulary stored with the model.
        prime: text that sets the state first (at least one character, all in ``vocab``).
        length: characters to generate.
        temperature: > 0; below 1 sharpens, above 1 flattens the distribution.
        rng: the source of randomness.

    Returns:
        The generated characters (without the prime).
    """
    if not prime:
        raise BpttError("`prime` must hold at least one character to start from.")
    if temperature <= 0:
        raise BpttError(f"`temperature` must be > 0, got {temperature}.")
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
