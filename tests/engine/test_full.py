"""Full BPTT over one segment (bptt.engine.forward / backward), one layer, every cell.

The loss is a random linear function of every output and of the final carry,
L = sum(G * hs) + sum(g_h * h_T) (+ sum(g_c * c_T)), so G = dhs and (g_h, g_c) = dcarry_T.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose

from bptt.cells import GRUCell, LSTMCell, RNNCell
from bptt.engine import backward, forward, zero_carry
from bptt.testing import numerical_gradient, random_linear_loss, relative_error
from linear_cell import LinearCell

T, B, D, H = 5, 3, 4, 6
LENGTHS = (5, 1, 3)  # a fully valid column, a column with one valid step, one in between
CELLS = {"rnn": RNNCell("tanh"), "relu": RNNCell("relu"), "lstm": LSTMCell(), "gru": GRUCell()}


def lengths_to_mask(lengths, steps):
    return np.arange(steps)[:, None] < np.asarray(lengths)[None, :]  # (T, B)


ALL_CELLS = {**CELLS, "linear": LinearCell()}  # a cell of its own: tests/linear_cell.py


def relu_margin(params, xs, carry0, mask):
    """The smallest |pre-activation| of a ReLU RNN over every step, from the plain loop."""
    h, margin = carry0.h, np.inf
    for t in range(xs.shape[0]):
        z = xs[t] @ params.W_x + params.b + h @ params.W_h
        margin = min(margin, np.abs(z).min())
        h_new = np.maximum(z, 0.0)
        h = h_new if mask is None else np.where(mask[t][:, None], h_new, h)
    return margin


@dataclass
class Case:
    cell: Any
    params: Any
    xs: np.ndarray
    carry0: Any
    mask: np.ndarray | None
    dhs: np.ndarray
    dcarry_T: Any
    linear_loss: Any

    def loss(self) -> float:
        """L as a function of the arrays held by the case (perturbed in place)."""
        hs, carry_T, _ = forward(self.cell, self.params, self.xs, self.carry0, self.mask)
        return self.linear_loss(hs, *carry_T)

    def run(self, observer=None):
        hs, carry_T, tape = forward(self.cell, self.params, self.xs, self.carry0, self.mask)
        grads, dxs, dcarry0 = backward(
            self.cell, self.params, tape, self.dhs, self.dcarry_T, observer=observer
        )
        return hs, carry_T, tape, grads, dxs, dcarry0


def make_case(name, *, masked, seed=0, dtype=np.float64) -> Case:
    cell = ALL_CELLS[name]
    fields = cell.carry_type._fields
    mask = lengths_to_mask(LENGTHS, T) if masked else None
    for s in itertools.count(seed):
        rng = np.random.default_rng(s)
        params = cell.init_params(rng, D, H, dtype=dtype)
        xs = rng.standard_normal((T, B, D)).astype(dtype)
        carry0 = cell.carry_type(*(rng.standard_normal((B, H)).astype(dtype) for _ in fields))
        # ReLU has a kink at 0: keep every pre-activation well beyond the step eps = 1e-6.
        if name != "relu" or relu_margin(params, xs, carry0, mask) > 1e-3:
            break
    weights, linear_loss = random_linear_loss(rng, (T, B, H), *[(B, H)] * len(fields))
    dhs, dcarry_T = weights[0], cell.carry_type(*weights[1:])
    return Case(cell, params, xs, carry0, mask, dhs, dcarry_T, linear_loss)


def check_against_finite_differences(case: Case) -> float:
    """Every parameter, xs and every field of carry0; returns the largest relative error."""
    *_, grads, dxs, dcarry0 = case.run()
    assert type(grads) is type(case.params) and type(dcarry0) is type(case.carry0)
    checks = [
        *(
            (f"params.{k}", g, p)
            for k, g, p in zip(case.params._fields, grads, case.params, strict=True)
        ),
        ("xs", dxs, case.xs),
        *(
            (f"carry0.{k}", g, c)
            for k, g, c in zip(case.carry0._fields, dcarry0, case.carry0, strict=True)
        ),
    ]
    worst = 0.0
    for label, analytic, wrt in checks:
        numeric = numerical_gradient(case.loss, wrt, eps=1e-6)
        assert analytic.shape == wrt.shape, label
        err = relative_error(analytic, numeric)
        assert err < 1e-6, f"{label}: relative error {err:.2e}"
        assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8, err_msg=label)
        worst = max(worst, err)
    return worst


@pytest.mark.parametrize("masked", [False, True], ids=["full", "masked"])
@pytest.mark.parametrize("name", list(ALL_CELLS))
def test_gradients_match_finite_differences(name, masked):
    check_against_finite_differences(make_case(name, masked=masked))


@pytest.mark.parametrize("masked", [False, True], ids=["full", "masked"])
@pytest.mark.parametrize("name", list(CELLS))
def test_observer_gets_dL_dcarry_t_in_reverse_order(name, masked):
    case = make_case(name, masked=masked, seed=10)
    seen = []
    case.run(observer=lambda t, d: seen.append((t, type(d)(*(np.array(f) for f in d)))))
    assert [t for t, _ in seen] == list(range(T - 1, -1, -1))

    cell, params = case.cell, case.params
    for t, dcarry_t in seen:
        assert type(dcarry_t) is cell.carry_type
        m = np.ones((B, 1)) if case.mask is None else case.mask[t][:, None]
        prefix_mask = None if case.mask is None else case.mask[: t + 1]
        _, carry_t, _ = forward(cell, params, case.xs[: t + 1], case.carry0, prefix_mask)
        carry_t = type(carry_t)(*(np.array(f) for f in carry_t))  # ours, to perturb in place
        suffix_mask = None if case.mask is None else case.mask[t + 1 :]

        def loss_from_carry_t(t=t, m=m, carry_t=carry_t, suffix_mask=suffix_mask):
            """L as a function of h_t (also output hs[t] when valid) and the rest of carry_t."""
            loss, final = np.sum(case.dhs[t] * m * carry_t.h), carry_t
            if t < T - 1:
                hs, final, _ = forward(cell, params, case.xs[t + 1 :], carry_t, suffix_mask)
                loss += np.sum(case.dhs[t + 1 :] * hs)
            return loss + sum(np.sum(g * f) for g, f in zip(case.dcarry_T, final, strict=True))

        for k, field in enumerate(carry_t):
            numeric = numerical_gradient(loss_from_carry_t, field)
            assert_allclose(dcarry_t[k], numeric, rtol=1e-5, atol=1e-8, err_msg=f"t={t}")

        # The same, exactly: dL/dcarry_t is the dcarry0 of a backward over the suffix.
        if t < T - 1:
            _, _, suffix_tape = forward(cell, params, case.xs[t + 1 :], carry_t, suffix_mask)
            *_, d0 = backward(cell, params, suffix_tape, case.dhs[t + 1 :], case.dcarry_T)
            expected = d0._replace(h=d0.h + case.dhs[t] * m)
            for got, want in zip(dcarry_t, expected, strict=True):
                assert_allclose(got, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", list(ALL_CELLS))
def test_padded_steps_emit_zeros_and_keep_the_carry(name):
    case = make_case(name, masked=True)
    hs, carry_T, tape, _, dxs, _ = case.run()
    for b, length in enumerate(LENGTHS):
        assert (hs[length:, b] == 0).all()
        assert (dxs[length:, b] == 0).all()
        assert (hs[:length, b] != 0).any()
        # tape.hs_ext[t + 1] is the carried h after step t: unchanged over the padding.
        for t in range(length, T):
            np.testing.assert_array_equal(tape.hs_ext[t + 1, b], tape.hs_ext[length, b])
        np.testing.assert_array_equal(carry_T.h[b], tape.hs_ext[length, b])
    # The carry after a padded step is the carry before it, for every field (c too).
    for t in range(1, T):
        _, before, _ = forward(case.cell, case.params, case.xs[:t], case.carry0, case.mask[:t])
        _, after, _ = forward(
            case.cell, case.params, case.xs[: t + 1], case.carry0, case.mask[: t + 1]
        )
        padded = ~case.mask[t]
        for f_before, f_after in zip(before, after, strict=True):
            np.testing.assert_array_equal(f_after[padded], f_before[padded])


@pytest.mark.parametrize("name", list(ALL_CELLS))
def test_padded_batch_equals_each_sequence_alone(name):
    case = make_case(name, masked=True, seed=20)
    hs, carry_T, _, grads, dxs, dcarry0 = case.run()
    close = {"rtol": 1e-12, "atol": 1e-13}
    summed = [np.zeros_like(g) for g in grads]
    for b, length in enumerate(LENGTHS):
        one = slice(b, b + 1)
        carry0_b = type(case.carry0)(*(f[one] for f in case.carry0))
        dcarry_T_b = type(case.dcarry_T)(*(f[one] for f in case.dcarry_T))
        hs_b, carry_T_b, tape_b = forward(case.cell, case.params, case.xs[:length, one], carry0_b)
        grads_b, dxs_b, dcarry0_b = backward(
            case.cell, case.params, tape_b, case.dhs[:length, one], dcarry_T_b
        )
        assert_allclose(hs[:length, one], hs_b, **close)
        assert_allclose(dxs[:length, one], dxs_b, **close)
        for batch, alone in (
            *zip(carry_T, carry_T_b, strict=True),
            *zip(dcarry0, dcarry0_b, strict=True),
        ):
            assert_allclose(batch[one], alone, **close)
        summed = [s + g for s, g in zip(summed, grads_b, strict=True)]
    for label, batch, total in zip(case.params._fields, grads, summed, strict=True):
        assert_allclose(batch, total, err_msg=label, **close)


@pytest.mark.parametrize("name", list(CELLS))
def test_all_true_and_integer_masks_equal_no_mask(name):
    def flat(run):
        hs, carry_T, _, grads, dxs, dcarry0 = run
        return [hs, *carry_T, *grads, dxs, *dcarry0]

    case = make_case(name, masked=False)
    reference = flat(case.run())
    for mask in (np.ones((T, B), dtype=bool), np.ones((T, B), dtype=np.int64)):
        case.mask = mask
        for got, want in zip(flat(case.run()), reference, strict=True):
            np.testing.assert_array_equal(got, want)
    # 0/1 integers are read as booleans.
    bool_mask = lengths_to_mask(LENGTHS, T)
    case.mask = bool_mask
    hs_bool = case.run()[0]
    case.mask = bool_mask.astype(np.int8)
    np.testing.assert_array_equal(case.run()[0], hs_bool)


@pytest.mark.parametrize("name", list(CELLS))
def test_defaults_zero_carry_and_no_upstream_gradient(name):
    case = make_case(name, masked=False)
    cell, params = case.cell, case.params
    hs, carry_T, tape = forward(cell, params, case.xs)
    hs0, carry_T0, _ = forward(cell, params, case.xs, zero_carry(cell, B, H, np.float64))
    np.testing.assert_array_equal(hs, hs0)
    for a, b in zip(carry_T, carry_T0, strict=True):
        np.testing.assert_array_equal(a, b)
    grads, dxs, dcarry0 = backward(cell, params, tape)
    assert all((g == 0).all() for g in (*grads, dxs, *dcarry0))
    # dhs alone and dcarry_T alone add up to both together.
    g1, x1, c1 = backward(cell, params, tape, case.dhs)
    g2, x2, c2 = backward(cell, params, tape, None, case.dcarry_T)
    g12, x12, c12 = backward(cell, params, tape, case.dhs, case.dcarry_T)
    for a, b, ab in zip((*g1, x1, *c1), (*g2, x2, *c2), (*g12, x12, *c12), strict=True):
        assert_allclose(a + b, ab, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("name", list(ALL_CELLS))
def test_forward_and_backward_leave_their_inputs_unchanged(name):
    case = make_case(name, masked=True)
    arrays = [*case.params, case.xs, *case.carry0, case.mask, case.dhs, *case.dcarry_T]
    before = [a.copy() for a in arrays]
    case.run()
    for a, b in zip(arrays, before, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("masked", [False, True], ids=["full", "masked"])
@pytest.mark.parametrize("name", list(ALL_CELLS))
def test_float32_in_float32_out(name, masked):
    case = make_case(name, masked=masked, dtype=np.float32)
    assert all(p.dtype == np.float32 for p in case.params)
    case.dhs = case.dhs.astype(np.float32)
    case.dcarry_T = type(case.dcarry_T)(*(f.astype(np.float32) for f in case.dcarry_T))
    hs, carry_T, tape, grads, dxs, dcarry0 = case.run()
    for label, a in (
        ("hs", hs),
        ("tape.xs", tape.xs),
        ("tape.hs_ext", tape.hs_ext),
        ("dxs", dxs),
        *((f"carry_T.{k}", f) for k, f in zip(carry_T._fields, carry_T, strict=True)),
        *((f"grads.{k}", g) for k, g in zip(grads._fields, grads, strict=True)),
        *((f"dcarry0.{k}", f) for k, f in zip(dcarry0._fields, dcarry0, strict=True)),
    ):
        assert a.dtype == np.float32, f"{label} is {a.dtype}"
    # Upstream gradients in float64 do not upcast the float32 backward either.
    dcarry_T64 = type(case.dcarry_T)(*(f.astype(np.float64) for f in case.dcarry_T))
    grads64, dxs64, dcarry064 = backward(
        case.cell, case.params, tape, case.dhs.astype(np.float64), dcarry_T64
    )
    assert all(a.dtype == np.float32 for a in (*grads64, dxs64, *dcarry064))


@pytest.mark.parametrize("name", list(ALL_CELLS))
def test_float64_inputs_are_cast_once_to_float32_params(name):
    case = make_case(name, masked=True, dtype=np.float32)
    xs64 = case.xs.astype(np.float64) + 1e-3  # not exactly representable in float32
    carry0_64 = type(case.carry0)(*(f.astype(np.float64) + 1e-3 for f in case.carry0))
    hs, carry_T, tape = forward(case.cell, case.params, xs64, carry0_64, case.mask)
    assert tape.xs.dtype == np.float32 and tape.xs.flags.c_contiguous
    np.testing.assert_array_equal(tape.xs, xs64.astype(np.float32))
    carry0_32 = type(case.carry0)(*(f.astype(np.float32) for f in carry0_64))
    hs32, carry_T32, _ = forward(
        case.cell, case.params, xs64.astype(np.float32), carry0_32, case.mask
    )
    assert hs.dtype == np.float32
    np.testing.assert_array_equal(hs, hs32)
    for a, b in zip(carry_T, carry_T32, strict=True):
        assert a.dtype == np.float32
        np.testing.assert_array_equal(a, b)
    # And float32 agrees with float64 to float32 accuracy.
    params64 = type(case.params)(*(p.astype(np.float64) for p in case.params))
    hs64, _, _ = forward(case.cell, params64, xs64, carry0_64, case.mask)
    assert relative_error(hs, hs64) < 1e-5


def test_one_step_and_one_sequence():
    for name, cell in CELLS.items():
        case = make_case(name, masked=False)
        case.xs, case.dhs = case.xs[:1, :1], case.dhs[:1, :1]
        case.carry0 = type(case.carry0)(*(f[:1] for f in case.carry0))
        case.dcarry_T = type(case.dcarry_T)(*(f[:1] for f in case.dcarry_T))
        weights = [case.dhs, *case.dcarry_T]
        case.linear_loss = lambda *outs, w=weights: sum(
            np.sum(a * o) for a, o in zip(w, outs, strict=True)
        )
        assert check_against_finite_differences(case) < 1e-6, cell
