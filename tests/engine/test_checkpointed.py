"""Checkpointed BPTT (bptt.engine.checkpointed) equals full BPTT and replays what its plan says.

The loss is a random linear function of every output and of the final carry, so dhs and
dcarry_T are random too; float64 throughout except where float32 is the point.
"""

from __future__ import annotations

import tracemalloc
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pytest
from numpy.testing import assert_allclose

from bptt.cells import GRUCell, LSTMCell, RNNCell
from bptt.engine import backward, checkpointed, forward
from bptt.engine.checkpointed import CheckpointTape, backward_checkpointed, forward_checkpointed
from bptt.engine.full import infer
from bptt.engine.plan import evaluated_steps, hsm_cost, make_plan, peak_slots
from bptt.testing import relative_error

B, D, H = 3, 4, 6
CELLS = {"rnn": RNNCell("tanh"), "lstm": LSTMCell(), "gru": GRUCell()}


def policies(T):
    """The sqrt policy, every budget 1..T (and one beyond), explicit positions, and none."""
    positions = [p for p in (2, 3, 7, 11) if p < T]
    return ["sqrt", *range(1, T + 2), positions, []]


class Problem(NamedTuple):
    cell: object
    params: object
    xs: np.ndarray
    carry0: object
    mask: np.ndarray | None
    resets: np.ndarray | None
    dhs: np.ndarray
    dcarry_T: object


def make_problem(name, T, *, masked=False, reset=False, seed=0, dtype=np.float64):
    cell = CELLS[name]
    rng = np.random.default_rng(seed)
    params = cell.init_params(rng, D, H, dtype=dtype)
    xs = rng.standard_normal((T, B, D)).astype(dtype)
    fields = cell.carry_type._fields
    carry0 = cell.carry_type(*(rng.standard_normal((B, H)).astype(dtype) for _ in fields))
    lengths = np.array([T, max(1, T // 2), max(1, T - 3)])  # full, half, a ragged end
    mask = np.arange(T)[:, None] < lengths[None, :] if masked else None
    resets = None
    if reset:
        resets = np.zeros((T, B), dtype=bool)
        # At T = 13 steps 4 and 8 also start sqrt segments; step 0 discards carry0's row.
        resets[T // 3, 0] = resets[(2 * T) // 3, 2] = resets[0, 1] = True
    dhs = rng.standard_normal((T, B, H))
    dcarry_T = cell.carry_type(*(rng.standard_normal((B, H)) for _ in fields))
    return Problem(cell, params, xs, carry0, mask, resets, dhs, dcarry_T)


def run_full(p, observed):
    hs, carry_T, tape = forward(p.cell, p.params, p.xs, p.carry0, p.mask, p.resets)
    out = backward(
        p.cell, p.params, tape, p.dhs, p.dcarry_T, observer=lambda t, d: observed.append((t, d))
    )
    return hs, carry_T, *out


def run_checkpointed(p, policy, observed):
    hs, carry_T, tape = forward_checkpointed(
        p.cell, p.params, p.xs, p.carry0, p.mask, p.resets, policy=policy
    )
    out = backward_checkpointed(
        p.cell, p.params, tape, p.dhs, p.dcarry_T, observer=lambda t, d: observed.append((t, d))
    )
    return hs, carry_T, *out


def assert_same_gradients(expected, actual, rtol=1e-10):
    (_, _, grads, dxs, dcarry0), (_, _, grads_c, dxs_c, dcarry0_c) = expected, actual
    assert type(grads_c) is type(grads) and type(dcarry0_c) is type(dcarry0)
    pairs = [
        *zip(grads._fields, grads, grads_c, strict=True),
        ("dxs", dxs, dxs_c),
        *zip(dcarry0._fields, dcarry0, dcarry0_c, strict=True),
    ]
    for label, want, got in pairs:
        assert got.dtype == want.dtype, label
        assert relative_error(got, want) < rtol, label


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize(
    ("masked", "reset"), [(False, False), (True, False), (False, True), (True, True)]
)
@pytest.mark.parametrize("T", [1, 7, 13])
def test_equals_full_bptt_for_every_policy(name, masked, reset, T):
    p = make_problem(name, T, masked=masked, reset=reset, seed=T)
    observed_full = []
    expected = run_full(p, observed_full)
    for policy in policies(T):
        observed = []
        actual = run_checkpointed(p, policy, observed)
        assert_allclose(actual[0], expected[0], rtol=1e-13, atol=1e-15)  # hs
        for want, got in zip(expected[1], actual[1], strict=True):  # carry_T
            assert_allclose(got, want, rtol=1e-13, atol=1e-15)
        assert_same_gradients(expected, actual)
        # The observer sees global steps T-1..0 and the same dL/dcarry_t as full BPTT.
        assert [t for t, _ in observed] == [t for t, _ in observed_full] == list(range(T))[::-1]
        for (_, want), (_, got) in zip(observed_full, observed, strict=True):
            for a, b in zip(want, got, strict=True):
                assert relative_error(b, a) < 1e-10


@pytest.mark.parametrize("name", CELLS)
def test_defaults_zero_carry_and_no_upstream_gradient(name):
    p = make_problem(name, 9)
    hs, carry_T, tape = forward(p.cell, p.params, p.xs)
    expected = (hs, carry_T, *backward(p.cell, p.params, tape))
    hs_c, carry_c, tape_c = forward_checkpointed(p.cell, p.params, p.xs, policy=2)
    actual = (hs_c, carry_c, *backward_checkpointed(p.cell, p.params, tape_c))
    assert_same_gradients(expected, actual)


def test_float32_stays_float32():
    p = make_problem("lstm", 11, masked=True, dtype=np.float32)
    expected = run_full(p, [])
    actual = run_checkpointed(p, 3, [])
    assert actual[0].dtype == np.float32
    assert_same_gradients(expected, actual, rtol=1e-5)


class StepParams(NamedTuple):
    W_x: np.ndarray  # (1, 1)
    W_h: np.ndarray  # (1, 1)
    b: np.ndarray  # (1,)


class StepCarry(NamedTuple):
    h: np.ndarray  # (B, 1)


@dataclass(eq=False)
class RecordingCell:
    """h_t = x_t + h_{t-1} / 2 fed with x_t = t: each step_forward call records its step t."""

    calls: list[int] = field(default_factory=list)
    name: str = "recording"
    params_type: type = StepParams
    carry_type: type = StepCarry

    def sizes(self, params):
        return params.W_x.shape  # (D, H)

    @staticmethod
    def problem(T):
        params = StepParams(np.ones((1, 1)), np.full((1, 1), 0.5), np.zeros(1))
        return params, np.arange(T, dtype=np.float64).reshape(T, 1, 1)  # xs (T, 1, 1)

    def input_projection(self, params, xs):
        return xs @ params.W_x + params.b  # (T, B, 1)

    def step_forward(self, params, xp_t, carry):
        self.calls.append(int(xp_t[0, 0]))
        return StepCarry(xp_t + carry.h @ params.W_h), None  # the backward needs no cache

    def step_backward(self, params, cache_t, dcarry):
        return StepCarry(dcarry.h @ params.W_h.T), dcarry.h, dcarry.h

    def weight_grads(self, params, xs, hs_prev, dxp, dhp):
        dW_x = np.einsum("tbd,tbh->dh", xs, dxp)
        dW_h = np.einsum("tbk,tbh->kh", hs_prev, dhp)
        return StepParams(dW_x, dW_h, dxp.sum(axis=(0, 1))), dxp @ params.W_x.T


@pytest.mark.parametrize("T", [1, 6, 13, 40])
def test_step_evaluations_follow_the_plan(T):
    for policy in ["sqrt", 1, 2, 3, max(1, T // 4), T, [1, T - 1] if T > 2 else []]:
        cell = RecordingCell()
        params, xs = cell.problem(T)
        _, _, tape = forward_checkpointed(cell, params, xs, policy=policy)
        assert cell.calls == list(range(T)), "forward is the original pass, nothing more"
        backward_checkpointed(cell, params, tape, np.ones((T, 1, 1)))
        assert cell.calls == evaluated_steps(make_plan(T, policy)), policy


def test_T_1000_with_50_slots_needs_at_most_2T_step_evaluations():
    cell = RecordingCell()
    params, xs = cell.problem(1000)
    _, _, tape = forward_checkpointed(cell, params, xs, policy=50)
    grads, dxs, _ = backward_checkpointed(cell, params, tape, np.ones((1000, 1, 1)))
    assert len(cell.calls) == hsm_cost(1000, 50) <= 2 * 1000
    assert cell.calls == evaluated_steps(tape.plan)
    # Same gradients as full BPTT, which evaluates each step once.
    _, _, full_tape = forward(cell, params, xs)
    full_grads, full_dxs, _ = backward(cell, params, full_tape, np.ones((1000, 1, 1)))
    for want, got in zip(full_grads, grads, strict=True):
        assert relative_error(got, want) < 1e-10
    assert relative_error(dxs, full_dxs) < 1e-10


@pytest.mark.parametrize("policy", ["sqrt", 1, 4, 9])
def test_no_engine_call_holds_more_steps_than_the_budget(monkeypatch, policy):
    """Advancing runs engine.full.infer in chunks that fit the plan's unused slots."""
    lengths = []

    def recording(function):
        def run(cell, params, xs, *args, **kwargs):
            lengths.append(xs.shape[0])
            return function(cell, params, xs, *args, **kwargs)

        return run

    monkeypatch.setattr(checkpointed, "forward", recording(forward))
    monkeypatch.setattr(checkpointed, "infer", recording(infer))
    p = make_problem("gru", 60, masked=True)
    _, _, tape = forward_checkpointed(p.cell, p.params, p.xs, mask=p.mask, policy=policy)
    backward_checkpointed(p.cell, p.params, tape, p.dhs)
    assert max(lengths) <= peak_slots(make_plan(60, policy))
    if isinstance(policy, int):
        assert max(lengths) <= policy


def _peak_bytes(fn):
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("name", CELLS)
def test_without_outputs_the_carry_and_gradients_are_the_same(name):
    """outputs=False (a last-step readout) keeps no hs; the final carry and gradients hold."""
    p = make_problem(name, 13, masked=True, seed=2)._replace(dhs=None)
    expected = run_full(p, [])
    hs, carry_T, tape = forward_checkpointed(
        p.cell, p.params, p.xs, p.carry0, p.mask, p.resets, policy=3, outputs=False
    )
    assert hs is None
    for want, got in zip(expected[1], carry_T, strict=True):
        assert_allclose(got, want, rtol=1e-13, atol=1e-15)
    actual = (hs, carry_T, *backward_checkpointed(p.cell, p.params, tape, None, p.dcarry_T))
    assert_same_gradients(expected, actual)


def test_peak_memory_is_a_fraction_of_full_bptt():
    p = make_problem("lstm", 400)
    p = p._replace(params=p.cell.init_params(np.random.default_rng(0), D, 32, dtype=np.float64))
    dhs = np.random.default_rng(1).standard_normal((400, B, 32))

    def full():
        backward(p.cell, p.params, forward(p.cell, p.params, p.xs)[2], dhs)

    def budgeted():
        tape = forward_checkpointed(p.cell, p.params, p.xs, policy=20)[2]
        backward_checkpointed(p.cell, p.params, tape, dhs)

    assert _peak_bytes(budgeted) < 0.5 * _peak_bytes(full)


def test_a_tape_serves_one_backward():
    p = make_problem("lstm", 10)
    _, _, tape = forward_checkpointed(p.cell, p.params, p.xs, policy=3)
    assert isinstance(tape, CheckpointTape)
    assert len(tape.tail[0].caches) <= 3 and len(tape.carries) - 1 <= 3
    backward_checkpointed(p.cell, p.params, tape, p.dhs)
    assert tape.carries == {} and tape.tail == []
    with pytest.raises(ValueError, match="used by backward_checkpointed already"):
        backward_checkpointed(p.cell, p.params, tape, p.dhs)


def test_bad_arguments():
    p = make_problem("lstm", 10)
    with pytest.raises(ValueError, match="minimum budget is 1 slot"):
        forward_checkpointed(p.cell, p.params, p.xs, policy=0)
    with pytest.raises(ValueError, match="Unknown policy 'half'"):
        forward_checkpointed(p.cell, p.params, p.xs, policy="half")
    with pytest.raises(ValueError, match=r"position 12 is outside \[1, T - 1\] = \[1, 9\]"):
        forward_checkpointed(p.cell, p.params, p.xs, policy=[3, 12])
    with pytest.raises(ValueError, match=r"must be time-major with shape \(T, B, D\)"):
        forward_checkpointed(p.cell, p.params, p.xs[:, 0])
    _, _, tape = forward_checkpointed(p.cell, p.params, p.xs, policy=3)
    with pytest.raises(ValueError, match=r"`dhs` has shape \(10, 3, 5\), expected"):
        backward_checkpointed(p.cell, p.params, tape, p.dhs[..., :5])
    other = LSTMCell().init_params(np.random.default_rng(0), D, H + 1, dtype=np.float64)
    with pytest.raises(ValueError, match="do not fit the tape"):
        backward_checkpointed(p.cell, other, tape)
    with pytest.raises(TypeError, match="pass the CheckpointTape"):
        backward_checkpointed(p.cell, p.params, forward(p.cell, p.params, p.xs)[2])
