"""Character n-gram baseline with add-alpha (Lidstone) smoothing, the floor an RNN must beat.

With c(h, x) the count of context h (the previous n - 1 ids) followed by x in the training ids,
c(h) = sum_x c(h, x) and V the vocabulary size:

    P(x | h) = (c(h, x) + alpha) / (c(h) + alpha * V)

Counts are stored sparsely: each n-gram is one flat index sum_j ids[t + j] * V^(n-1-j), and
``np.unique`` counts them, so any n with V^n < 2^63 fits in memory proportional to the number
of distinct n-grams seen. Lookups are vectorised with ``np.searchsorted``.

Example::

    model = fit_ngram(train_ids, vocab_size=V, n=3)
    alpha, nats = tune_alpha(train_ids, valid_ids, V, n=3)
    test_nats = ngram_nll(model, test_ids, alpha)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from bptt.data._checks import check_ids, check_positive_float, check_positive_int
from bptt.errors import BpttError

DEFAULT_ALPHAS = (1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)


class NGramModel(NamedTuple):
    """Sparse n-gram counts from :func:`fit_ngram`.

    Attributes:
        n: the order (n - 1 ids of context).
        vocab_size: V.
        ngram_keys: (K,) sorted flat indices of the distinct n-grams seen.
        ngram_counts: (K,) how often each was seen.
        context_keys: (C,) sorted flat indices of the distinct contexts seen.
        context_counts: (C,) how often each was followed by a token.
    """

    n: int
    vocab_size: int
    ngram_keys: np.ndarray
    ngram_counts: np.ndarray
    context_keys: np.ndarray
    context_counts: np.ndarray


def _flat_ngrams(ids: Any, n: int, vocab_size: int, name: str) -> np.ndarray:
    """(N - n + 1,) flat indices of the n-grams of a (N,) id array, after checking it."""
    ids = check_ids(ids, name)
    if ids.size < n:
        raise BpttError(f"`{name}` has {ids.size} ids but a {n}-gram model needs at least {n}.")
    bad = (ids < 0) | (ids >= vocab_size)
    if bad.any():
        raise BpttError(
            f"`{name}` holds id {int(ids[bad][0])} outside [0, {vocab_size}); pass the "
            "`vocab_size` of the vocabulary that encoded the ids."
        )
    count = ids.size - n + 1
    flat = np.zeros(count, dtype=np.int64)
    for j in range(n):
        flat = flat * vocab_size + ids[j : j + count]
    return flat


def _lookup(keys: np.ndarray, counts: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """counts[i] where keys[i] == query, else 0; ``keys`` sorted."""
    pos = np.minimum(np.searchsorted(keys, queries), keys.size - 1)
    return np.where(keys[pos] == queries, counts[pos], 0)


def _check_order(n: int, vocab_size: int) -> tuple[int, int]:
    n = check_positive_int(n, "n")
    V = check_positive_int(vocab_size, "vocab_size")
    if V**n >= 2**63:
        raise BpttError(
            f"n={n} with vocab_size={V} gives {V}^{n} n-grams, too many for int64 keys; "
            "use a smaller `n`."
        )
    return n, V


def fit_ngram(train_ids: Any, vocab_size: int, n: int = 3) -> NGramModel:
    """Count the n-grams of ``train_ids``.

    Args:
        train_ids: (N,) integer ids in [0, V), N >= n.
        vocab_size: V.
        n: the order; 1 is a unigram model, 3 predicts from the two previous characters.

    Returns:
        The :class:`NGramModel` of counts (smoothing is applied at evaluation).

    Raises:
        ValueError: for n or V < 1, fewer than n ids, or ids outside [0, V).
    """
    n, V = _check_order(n, vocab_size)
    keys, counts = np.unique(_flat_ngrams(train_ids, n, V, "train_ids"), return_counts=True)
    context_keys, which = np.unique(keys // V, return_inverse=True)
    context_counts = np.bincount(which, weights=counts).astype(np.int64)
    return NGramModel(n, V, keys, counts.astype(np.int64), context_keys, context_counts)


def ngram_nll(model: NGramModel, ids: Any, alpha: float) -> float:
    """Mean negative log-likelihood of ``ids`` in nats per predicted character.

    The first n - 1 ids only serve as context, so the mean is over N - n + 1 predictions.

    Args:
        model: counts from :func:`fit_ngram`.
        ids: (N,) integer ids in [0, V), N >= n.
        alpha: the add-alpha smoothing constant, > 0.

    Raises:
        ValueError: for alpha <= 0, fewer than n ids, or ids outside [0, V).
    """
    alpha = check_positive_float(
        alpha, "alpha", " With alpha = 0 an unseen n-gram would have probability 0."
    )
    V = model.vocab_size
    flat = _flat_ngrams(ids, model.n, V, "ids")
    joint = _lookup(model.ngram_keys, model.ngram_counts, flat)
    context = _lookup(model.context_keys, model.context_counts, flat // V)
    prob = (joint + alpha) / (context + alpha * V)
    return float(-np.mean(np.log(prob)))


def tune_alpha(
    train_ids: Any,
    valid_ids: Any,
    vocab_size: int,
    *,
    n: int = 3,
    alphas: Sequence[float] = DEFAULT_ALPHAS,
) -> tuple[float, float]:
    """Fit on ``train_ids`` and pick the alpha with the lowest validation NLL.

    Args:
        train_ids: (N,) training ids.
        valid_ids: (M,) validation ids.
        vocab_size: V.
        n: the order.
        alphas: candidate smoothing constants; the first of equal scores wins.

    Returns:
        ``(best_alpha, valid_nats)``: the chosen alpha and its validation nats per character.

    Raises:
        ValueError: if ``alphas`` is empty, or as :func:`fit_ngram` and :func:`ngram_nll`.
    """
    if len(alphas) == 0:
        raise BpttError("`alphas` is empty; pass candidate values such as (0.01, 0.1, 1.0).")
    model = fit_ngram(train_ids, vocab_size, n)
    scores = [ngram_nll(model, valid_ids, float(a)) for a in alphas]
    best = int(np.argmin(scores))
    return float(alphas[best]), scores[best]
