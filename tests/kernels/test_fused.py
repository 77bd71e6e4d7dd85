"""Each cell's fused loops against the per-step loop over its step functions (the reference),
on every pattern of events: resets, padding (trailing and inside a sequence), both, an
observer at every step; in float64 and float32, in NumPy and compiled.

Sizes all differ; the loss is a random linear function of every output and of the final carry.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kernel_cases import CELLS, FLAGS, MASK, RESETS, B, D, H, T, case, gradients, per_step, run
from numpy.testing import assert_allclose

import bptt.kernels.gru as gru_kernels
import bptt.kernels.lstm as lstm_kernels
import bptt.kernels.rnn as rnn_kernels
from bptt.engine.full import backward, forward, infer
from bptt.kernels import FusedCaches, StepKernel, kernel_for


def named(label, got, want):
    """(label.field, got field, want field) for two NamedTuples of the same type."""
    return [(f"{label}.{k}", a, b) for k, a, b in zip(got._fields, got, want, strict=True)]


@pytest.mark.parametrize("flags", list(FLAGS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", list(CELLS))
def test_fused_equals_per_step(name, dtype, flags, backend):
    c = case(name, dtype, **FLAGS[flags])
    cell = c[0]
    assert not isinstance(kernel_for(cell, dtype), StepKernel)
    assert isinstance(kernel_for(per_step(cell), dtype), StepKernel)
    fused = run(*c)
    plain = run(per_step(cell), *c[1:])
    assert isinstance(fused[2].caches, FusedCaches)
    assert isinstance(plain[2].caches, list)
    close = {"rtol": 1e-12, "atol": 1e-13} if dtype == np.float64 else {"rtol": 2e-5, "atol": 2e-6}
    hs, carry_T, tape, grads, dxs, dcarry0, seen = fused
    p_hs, p_carry_T, p_tape, p_grads, p_dxs, p_dcarry0, p_seen = plain
    pairs = [
        ("hs", hs, p_hs),
        ("dxs", dxs, p_dxs),
        ("tape.hs_ext", tape.hs_ext, p_tape.hs_ext),
        *named("carry_T", carry_T, p_carry_T),
        *named("dcarry0", dcarry0, p_dcarry0),
        *named("grads", grads, p_grads),
    ]
    # The caches are the ones step_forward returns, field by field, at every real step (at a
    # padded step the RNN's cache, which is its output, holds the carry put back there).
    real = np.ones((T, B), dtype=bool) if c[7] is None else c[7]
    for t, (got, want) in enumerate(zip(tape.caches, p_tape.caches, strict=True)):
        assert type(got) is type(want)
        pairs += [(k, a[real[t]], b[real[t]]) for k, a, b in named(f"caches[{t}]", got, want)]
    assert [t for t, _ in seen] == [t for t, _ in p_seen] == list(range(T - 1, -1, -1))
    for (t, got), (_, want) in zip(seen, p_seen, strict=True):
        pairs += [
            (f"observer t={t} {k}", a, b) for k, (a, b) in enumerate(zip(got, want, strict=True))
        ]
    for label, got, want in pairs:
        assert got.shape == want.shape and got.dtype == want.dtype == dtype, label
        assert_allclose(got, want, err_msg=label, **close)


@pytest.mark.parametrize("name", list(CELLS))
def test_infer_equals_forward(name, backend):
    cell, params, xs, carry0, *_ = case(name, np.float32, seed=1)
    for flags in FLAGS.values():
        hs, carry_T, _ = forward(cell, params, xs, carry0, **flags)
        hs_i, carry_i = infer(cell, params, xs, carry0, **flags)
        np.testing.assert_array_equal(hs_i, hs)
        for a, b in zip(carry_i, carry_T, strict=True):
            np.testing.assert_array_equal(a, b)
    # A cell without kernels: infer runs the per-step loop.
    hs_p, carry_p = infer(per_step(cell), params, xs, carry0, MASK, RESETS)
    hs, carry_T, _ = forward(cell, params, xs, carry0, MASK, RESETS)
    for a, b in zip((hs_p, *carry_p), (hs, *carry_T), strict=True):
        assert_allclose(a, b, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", ["rnn", "lstm", "gru"])
def test_chunks_and_blocks_of_steps_change_nothing(name, dtype, backend, monkeypatch):
    """The backward loops fill in their factors for chunks of steps and add the weight
    gradients per block of steps; any sizes give the same gradients."""
    module = {"rnn": rnn_kernels, "lstm": lstm_kernels, "gru": gru_kernels}[name]
    c = case(name, dtype, seed=2, resets=RESETS, mask=MASK)
    whole = run(*c)
    if name != "rnn":
        monkeypatch.setattr(module, "chunk_steps", lambda steps, nbytes: 2)
    monkeypatch.setattr(module, "block_steps", lambda T, nbytes, B: 3)
    blocks = run(*c)
    close = {"rtol": 1e-13, "atol": 1e-14} if dtype == np.float64 else {"rtol": 1e-5, "atol": 1e-6}
    for a, b in zip(gradients(whole), gradients(blocks), strict=True):
        assert_allclose(a, b, **close)


@pytest.mark.parametrize("name", list(CELLS))
def test_tape_survives_two_backward_passes(name):
    cell, params, xs, carry0, dhs, dcarry_T, *_ = case(name, np.float64, seed=5)
    _, _, tape = forward(cell, params, xs, carry0)
    first = backward(cell, params, tape, dhs, dcarry_T)
    second = backward(cell, params, tape, dhs, dcarry_T)
    for a, b in zip(gradients(first), gradients(second), strict=True):
        np.testing.assert_array_equal(a, b)


@settings(max_examples=30, deadline=None)
@given(
    name=st.sampled_from(list(CELLS)),
    T_=st.integers(1, 5),
    B_=st.integers(1, 4),
    D_=st.integers(1, 4),
    H_=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_fused_equals_per_step_at_any_size_and_event_pattern(name, T_, B_, D_, H_, seed):
    cell = CELLS[name]
    rng = np.random.default_rng(seed)
    params = cell.init_params(rng, D_, H_, dtype=np.float64)
    xs = rng.standard_normal((T_, B_, D_))
    fields = cell.carry_type._fields
    carry0 = cell.carry_type(*(rng.standard_normal((B_, H_)) for _ in fields))
    dhs = rng.standard_normal((T_, B_, H_))
    dcarry_T = cell.carry_type(*(rng.standard_normal((B_, H_)) for _ in fields))
    resets = rng.random((T_, B_)) < 0.3
    mask = rng.random((T_, B_)) < 0.7
    args = (params, xs, carry0, dhs, dcarry_T, resets, mask)
    fused, plain = run(cell, *args), run(per_step(cell), *args)
    np.testing.assert_allclose(fused[0], plain[0], rtol=1e-12, atol=1e-13)
    for a, b in zip(gradients(fused), gradients(plain), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-12)


def test_both_layouts_of_the_recurrent_weight_gradient_agree(monkeypatch):
    """The LSTM's feature-major blocks: large H computes dW_h as H_prev^T dhp^T, small H as
    (dhp H_prev)^T; the gradients are the same."""
    import bptt.kernels.layout as layout

    c = case("lstm", np.float64, seed=8, resets=RESETS, mask=MASK)
    monkeypatch.setattr(layout, "TRANSPOSED_PRODUCT_H", 10**9)
    small = run(*c)
    monkeypatch.setattr(layout, "TRANSPOSED_PRODUCT_H", 1)
    large = run(*c)
    for a, b in zip(gradients(small), gradients(large), strict=True):
        assert_allclose(a, b, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("name", list(CELLS))
def test_without_input_grad_dxs_is_none_and_the_rest_unchanged(name):
    """input_grad=False (inputs that need no gradient): dxs None, the same parameter
    gradients and dcarry0, through the fused loops, the per-step loop and checkpointing."""
    from bptt.engine.checkpointed import backward_checkpointed, forward_checkpointed

    cell, params, xs, carry0, dhs, dcarry_T, *_ = case(name, np.float64, seed=10)
    for c in (cell, per_step(cell)):
        _, _, tape = forward(c, params, xs, carry0, MASK, RESETS)
        want = backward(c, params, tape, dhs, dcarry_T)
        got = backward(c, params, tape, dhs, dcarry_T, input_grad=False)
        assert want[1] is not None and got[1] is None
        for a, b in zip([*got[0], *got[2]], [*want[0], *want[2]], strict=True):
            assert_allclose(a, b, rtol=1e-13, atol=1e-14)
    tape = forward_checkpointed(cell, params, xs, carry0, MASK, RESETS, policy=2)[2]
    got = backward_checkpointed(cell, params, tape, dhs, dcarry_T, input_grad=False)
    assert got[1] is None
    for a, b in zip([*got[0], *got[2]], [*want[0], *want[2]], strict=True):
        assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_a_long_padding_does_not_run_away():
    """A ReLU RNN with W_h = 3 I and a sequence padded for 117 steps: each padded step starts
    from the kept carry, so nothing overflows (np.seterr raises in these tests; computed
    from its own outputs, the padded column would pass float32's range in about 80 steps)
    and the padded sequence's final carry is its last real step's."""
    cell = CELLS["relu"]
    params = cell.init_params(np.random.default_rng(0), 2, 3, dtype=np.float32)
    params = params._replace(W_h=3 * np.eye(3, dtype=np.float32), b=np.zeros(3, np.float32))
    xs = np.zeros((120, 2, 2), np.float32)  # the first sequence stays at 0 all along
    xs[:, 1] = np.abs(np.random.default_rng(1).standard_normal((120, 2)))
    mask = np.ones((120, 2), dtype=bool)
    mask[3:, 1] = False  # the second sequence is 3 steps long
    _, carry, _ = forward(cell, params, xs, mask=mask)
    short = forward(cell, params, xs[:3, 1:2])[1]
    np.testing.assert_allclose(carry.h[1], short.h[0], rtol=1e-6)
    assert (carry.h[0] == 0).all()


def test_sizes_of_the_shared_case_all_differ():
    assert len({T, B, D, H}) == 4
