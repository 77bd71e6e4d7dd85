import math
from collections import Counter

import numpy as np
import pytest

from bptt.data.ngram import DEFAULT_ALPHAS, fit_ngram, ngram_nll, tune_alpha
from bptt.data.text import Vocabulary

TRAIN = "the cat sat on the mat. the dog sat on the log."
VALID = "the cat on the log sat. a dog."


def brute_force_nll(train, text, V, n, alpha):
    """Dictionary-of-tuples reference: mean -log P(x | previous n - 1 ids) over text."""
    joint = Counter(tuple(train[i : i + n]) for i in range(len(train) - n + 1))
    context = Counter(tuple(train[i : i + n - 1]) for i in range(len(train) - n + 1))
    total = 0.0
    for i in range(n - 1, len(text)):
        gram = tuple(text[i - n + 1 : i + 1])
        total -= math.log((joint[gram] + alpha) / (context[gram[:-1]] + alpha * V))
    return total / (len(text) - n + 1)


@pytest.fixture
def encoded():
    vocab = Vocabulary.from_text(TRAIN + VALID)
    return vocab.encode(TRAIN), vocab.encode(VALID), vocab.size


@pytest.mark.parametrize("n", [1, 2, 3, 4])
@pytest.mark.parametrize("alpha", [0.01, 0.5, 2.0])
def test_matches_brute_force(encoded, n, alpha):
    train, valid, V = encoded
    model = fit_ngram(train, V, n)
    for text in (train, valid):
        expected = brute_force_nll(train.tolist(), text.tolist(), V, n, alpha)
        assert ngram_nll(model, text, alpha) == pytest.approx(expected, rel=1e-12)


def test_counts(encoded):
    train, _, V = encoded
    model = fit_ngram(train, V, n=3)
    assert model.n == 3 and model.vocab_size == V
    assert model.ngram_counts.sum() == model.context_counts.sum() == len(train) - 2
    assert (np.diff(model.ngram_keys) > 0).all() and (np.diff(model.context_keys) > 0).all()
    assert model.ngram_counts.dtype == model.context_counts.dtype == np.int64


def test_smoothed_distribution_sums_to_one(encoded):
    train, _, V = encoded
    model = fit_ngram(train, V, n=2)
    # Score every possible next id after context 0 (seen) and after a context never seen.
    for context in (train[0], V - 1):
        pairs = np.stack([np.full(V, context), np.arange(V)], axis=1)  # (V, 2)
        probs = [math.exp(-ngram_nll(model, pair, 0.3)) for pair in pairs]
        assert sum(probs) == pytest.approx(1.0, rel=1e-12)


def test_unigram_with_huge_alpha_approaches_uniform(encoded):
    train, valid, V = encoded
    assert ngram_nll(fit_ngram(train, V, 1), valid, 1e9) == pytest.approx(math.log(V), rel=1e-6)


def test_tune_alpha_picks_the_best_validation_score(encoded):
    train, valid, V = encoded
    alpha, nats = tune_alpha(train, valid, V, n=2)
    model = fit_ngram(train, V, 2)
    scores = {a: ngram_nll(model, valid, a) for a in DEFAULT_ALPHAS}
    assert alpha == min(scores, key=scores.get) and nats == scores[alpha]
    assert tune_alpha(train, valid, V, n=2, alphas=[0.5, 0.5]) == (
        0.5,
        ngram_nll(model, valid, 0.5),
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda t, V: ngram_nll(fit_ngram(t, V), t, 0.0), "`alpha` must be a positive finite"),
        (lambda t, V: ngram_nll(fit_ngram(t, V), t, -1.0), "With alpha = 0"),
        (
            lambda t, V: ngram_nll(fit_ngram(t, V), t[:2], 1.0),
            "has 2 ids but a 3-gram model needs at least 3",
        ),
        (lambda t, V: fit_ngram(t, V - 1), r"holds id \d+ outside \[0, \d+\)"),
        (lambda t, V: fit_ngram(t, V, n=0), "`n` must be >= 1, got 0"),
        (lambda t, V: fit_ngram(t, 0), "`vocab_size` must be >= 1, got 0"),
        (lambda t, V: fit_ngram(t, 70, n=11), "70\\^11 n-grams, too many for int64"),
        (lambda t, V: tune_alpha(t, t, V, alphas=[]), "`alphas` is empty"),
        (lambda t, V: fit_ngram(np.array([], dtype=int), V), "`train_ids` is empty"),
    ],
)
def test_bad_arguments_raise(encoded, call, message):
    train, _, V = encoded
    with pytest.raises(ValueError, match=message):
        call(train, V)
