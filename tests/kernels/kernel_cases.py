"""The cases the kernel tests share: every cell, sizes that all differ, every event pattern."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bptt.cells import GRUCell, LSTMCell, RNNCell
from bptt.engine.full import backward, forward

T, B, D, H = 7, 3, 4, 5
CELLS = {"rnn": RNNCell("tanh"), "relu": RNNCell("relu"), "lstm": LSTMCell(), "gru": GRUCell()}

RESETS = np.zeros((T, B), dtype=bool)
RESETS[0, 1] = RESETS[3, 0] = RESETS[3, 2] = RESETS[5, 1] = True
MASK = np.arange(T)[:, None] < np.array([T, 2, 5])[None, :]  # right-padded lengths 7, 2, 5
MASK[1, 0] = False  # and one gap inside a sequence
FLAGS = {
    "plain": {},
    "resets": {"resets": RESETS},
    "mask": {"mask": MASK},
    "mask+resets": {"mask": MASK, "resets": RESETS},
}


def per_step(cell):
    """The same cell as a subclass: kernels are looked up by exact type, so the engine runs it
    through the per-step loop over its step functions."""

    @dataclass(frozen=True)
    class PerStep(type(cell)):
        pass

    kwargs = {"activation": cell.activation} if isinstance(cell, RNNCell) else {}
    if isinstance(cell, LSTMCell):
        kwargs = {"forget_bias": cell.forget_bias}
    return PerStep(**kwargs)


def random_carry(cell, rng, dtype, batch=B, hidden=H):
    fields = cell.carry_type._fields
    return cell.carry_type(*(rng.standard_normal((batch, hidden)).astype(dtype) for _ in fields))


def case(name, dtype, seed=0, resets=None, mask=None):
    """(cell, params, xs, carry0, dhs, dcarry_T, resets, mask) with random values."""
    cell = CELLS[name]
    rng = np.random.default_rng(seed)
    params = cell.init_params(rng, D, H, dtype=dtype)
    xs = rng.standard_normal((T, B, D)).astype(dtype)
    carry0 = random_carry(cell, rng, dtype)
    dhs = rng.standard_normal((T, B, H)).astype(dtype)
    dcarry_T = random_carry(cell, rng, dtype)
    return cell, params, xs, carry0, dhs, dcarry_T, resets, mask


def gradients(result):
    """[every parameter gradient, dxs, every field of dcarry0] of a backward result."""
    grads, dxs, dcarry0 = result[-3:] if len(result) == 3 else result[3:6]
    return [*grads, dxs, *dcarry0]


def run(cell, params, xs, carry0, dhs, dcarry_T, resets, mask=None):
    """forward, backward, and backward again with an observer (which cuts every step).

    Returns:
        (hs, carry_T, tape, grads, dxs, dcarry0, [(t, dcarry_t fields)] seen by the observer)
    """
    seen = []

    def observer(t, dcarry):
        seen.append((t, [np.array(f) for f in dcarry]))

    hs, carry_T, tape = forward(cell, params, xs, carry0, mask, resets)
    grads, dxs, dcarry0 = backward(cell, params, tape, dhs, dcarry_T)
    observed = backward(cell, params, tape, dhs, dcarry_T, observer=observer)
    for a, b in zip(gradients(observed), [*grads, dxs, *dcarry0], strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=2e-5 * np.abs(b).max())
    return hs, carry_T, tape, grads, dxs, dcarry0, seen
