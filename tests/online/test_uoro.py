"""UORO is unbiased: exactly, averaged over every sign pattern, and as a mean of draws."""

import itertools

import numpy as np
import pytest
from online_reference import draws, exact, flat_layer, make

from bptt.online import UORO
from bptt.online.base import flat
from bptt.online.compare import record_steps


class Signs:
    """A stand-in for the Generator that hands out a fixed sequence of sign vectors."""

    def __init__(self, patterns):
        self.patterns = iter(patterns)

    def integers(self, low, high, size):
        return next(self.patterns).reshape(size)


@pytest.mark.parametrize(("cell", "hidden"), [("rnn", 2), ("lstm", 1), ("gru", 2)])
def test_uoro_averaged_over_every_sign_pattern_is_exact(cell, hidden):
    # nu takes 2^N values per step, each as likely: the mean over all of them over T steps is
    # UORO's expectation, which must be the exact gradient.
    T = 3
    model, params, batch = make(cell, T=T, B=1, D=2, H=hidden, scale=1.5)
    N = hidden * len(model.cell.carry_type._fields)
    signs = [np.array(s) for s in itertools.product((0, 1), repeat=N)]
    totals = []
    for patterns in itertools.product(signs, repeat=T):
        state_rng = Signs(patterns)
        totals.append(flat(summed_with(model, params, batch, state_rng)))
    g = flat_layer(exact(model, params, batch))
    np.testing.assert_allclose(np.mean(totals, axis=0), g, rtol=1e-10, atol=1e-13)
    assert np.std(totals, axis=0).max() > 1e-3  # a single draw is not the gradient


def summed_with(model, params, batch, rng):
    """UORO's summed estimate with the given stand-in generator for its signs."""
    recorded = record_steps(model, params, batch, loss="mse")
    p = model.cell_params(params, "layers.0")
    state = UORO().init(model.cell, p, recorded.sizes, rng)
    total = None
    for inp in recorded.steps:
        state, g = UORO().step(model.cell, p, state, inp)
        total = g if total is None else type(g)(*(a + b for a, b in zip(total, g, strict=True)))
    return total


def test_the_mean_of_draws_converges_as_one_over_sqrt_draws():
    model, params, batch = make("lstm", T=4)
    g = flat_layer(exact(model, params, batch))
    runs = draws(model, params, batch, UORO(), 400)
    variance = ((runs - runs.mean(axis=0)) ** 2).sum(axis=1).mean()
    errors = []
    for n in (25, 100, 400):
        error = np.linalg.norm(runs[:n].mean(axis=0) - g)
        assert error <= 4.0 * np.sqrt(variance / n)  # the bound shrinks as 1/sqrt(n)
        errors.append(error)
    assert errors[-1] < errors[0]
    assert variance > 0.1 * g @ g  # UORO is noisy: one draw is far from g
