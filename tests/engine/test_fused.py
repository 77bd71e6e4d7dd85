"""The cells' fused sequence kernels against the per-step loop that calls step_forward and
step_backward (the tested fallback, used for masks and for cells without kernels).

A subclass that only forwards ``step_forward`` to its parent makes the engine take the
per-step loop, so each case runs the same math both ways. Sizes all differ; the loss is a
random linear function of every output and of the final carry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

import bptt.cells.gru as gru_module
import bptt.cells.lstm as lstm_module
import bptt.cells.rnn as rnn_module
from bptt.cells import GRUCell, LSTMCell, RNNCell, compiled
from bptt.cells.base import SequenceCaches
from bptt.cells.lstm import LSTMCarry
from bptt.engine.full import backward, forward, infer

T, B, D, H = 7, 3, 4, 5
CELLS = {"rnn": RNNCell("tanh"), "relu": RNNCell("relu"), "lstm": LSTMCell(), "gru": GRUCell()}


def per_step(cell):
    """The same cell with its own step_forward, which takes the engine off the fused path."""

    @dataclass(frozen=True)
    class PerStep(type(cell)):
        def step_forward(self, params, xp_t, carry):
            return super().step_forward(params, xp_t, carry)

    kwargs = {"activation": cell.activation} if isinstance(cell, RNNCell) else {}
    return PerStep(**kwargs)


def case(name, dtype, seed=0, resets=None, mask=None):
    cell = CELLS[name]
    rng = np.random.default_rng(seed)
    params = cell.init_params(rng, D, H, dtype=dtype)
    xs = rng.standard_normal((T, B, D)).astype(dtype)
    carry0 = cell.carry_type(
        *(rng.standard_normal((B, H)).astype(dtype) for _ in cell.carry_type._fields)
    )
    dhs = rng.standard_normal((T, B, H)).astype(dtype)
    dcarry_T = cell.carry_type(
        *(rng.standard_normal((B, H)).astype(dtype) for _ in cell.carry_type._fields)
    )
    return cell, params, xs, carry0, dhs, dcarry_T, resets, mask


def gradients(result):
    """[every parameter gradient, dxs, every field of dcarry0] of a backward result."""
    grads, dxs, dcarry0 = result[-3:] if len(result) == 3 else result[3:6]
    return [*grads, dxs, *dcarry0]


def run(cell, params, xs, carry0, dhs, dcarry_T, resets, mask=None):
    seen = []

    def observer(t, dcarry):
        seen.append((t, [np.array(f) for f in dcarry]))

    hs, carry_T, tape = forward(cell, params, xs, carry0, mask, resets)
    grads, dxs, dcarry0 = backward(cell, params, tape, dhs, dcarry_T)
    # An observer may take another loop (the compiled steps have no place to show dcarry_t).
    observed = backward(cell, params, tape, dhs, dcarry_T, observer=observer)
    for a, b in zip(observed[0], grads, strict=True):
        assert_allclose(a, b, rtol=0, atol=2e-5 * np.abs(b).max())
    return hs, carry_T, tape, grads, dxs, dcarry0, seen


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


@pytest.fixture(params=["numpy", "compiled"])
def backend(request, monkeypatch):
    """The fused loops in NumPy, or with the compiled float32 steps (when numba is installed)."""
    if request.param == "numpy":
        monkeypatch.setenv(compiled.ENV_SWITCH, "0")
    elif not compiled.enabled():
        pytest.skip("numba is not installed, or BPTT_NUMBA=0")
    return request.param


@pytest.mark.parametrize("flags", list(FLAGS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", list(CELLS))
def test_fused_equals_per_step(name, dtype, flags, backend):
    c = case(name, dtype, **FLAGS[flags])
    cell = c[0]
    assert cell.sequence_kernels is not None and per_step(cell).sequence_kernels is None
    fused = run(*c)
    plain = run(per_step(cell), *c[1:])
    assert isinstance(fused[2].caches, SequenceCaches)
    assert not isinstance(plain[2].caches, SequenceCaches)
    close = {"rtol": 1e-12, "atol": 1e-13} if dtype == np.float64 else {"rtol": 2e-5, "atol": 2e-6}
    hs, carry_T, tape, grads, dxs, dcarry0, seen = fused
    p_hs, p_carry_T, p_tape, p_grads, p_dxs, p_dcarry0, p_seen = plain
    pairs = [
        ("hs", hs, p_hs),
        ("dxs", dxs, p_dxs),
        ("tape.hs_ext", tape.hs_ext, p_tape.hs_ext),
        *(
            (f"carry_T.{k}", a, b)
            for k, a, b in zip(carry_T._fields, carry_T, p_carry_T, strict=True)
        ),
        *(
            (f"dcarry0.{k}", a, b)
            for k, a, b in zip(dcarry0._fields, dcarry0, p_dcarry0, strict=True)
        ),
        *((f"grads.{k}", a, b) for k, a, b in zip(grads._fields, grads, p_grads, strict=True)),
    ]
    # The caches are the ones step_forward returns, field by field, at every step.
    for t, (got, want) in enumerate(zip(tape.caches, p_tape.caches, strict=True)):
        assert type(got) is type(want)
        pairs += [
            (f"caches[{t}].{k}", a, b) for k, a, b in zip(got._fields, got, want, strict=True)
        ]
    assert [t for t, _ in seen] == [t for t, _ in p_seen] == list(range(T - 1, -1, -1))
    for (t, got), (_, want) in zip(seen, p_seen, strict=True):
        pairs += [
            (f"observer t={t} field {k}", a, b)
            for k, (a, b) in enumerate(zip(got, want, strict=True))
        ]
    for label, got, want in pairs:
        assert got.shape == want.shape and got.dtype == want.dtype == dtype, label
        assert_allclose(got, want, err_msg=label, **close)


@pytest.mark.parametrize("name", list(CELLS))
def test_infer_equals_forward(name):
    cell, params, xs, carry0, *_ = case(name, np.float64, seed=1)
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
        assert_allclose(a, b, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", ["rnn", "lstm", "gru"])
def test_chunks_and_blocks_of_steps_change_nothing(name, dtype, backend, monkeypatch):
    """The backward kernels fill in their factors for chunks of steps and add the weight
    gradients of blocks of chunks; any sizes give the same gradients."""
    module = {"rnn": rnn_module, "lstm": lstm_module, "gru": gru_module}[name]
    c = case(name, dtype, seed=2, resets=RESETS, mask=MASK)
    whole = run(*c)
    if name != "rnn":
        monkeypatch.setattr(module, "chunk_steps", lambda steps, nbytes: 2)
    monkeypatch.setattr(module, "block_steps", lambda T, steps, nbytes, B: 3 * steps)
    blocks = run(*c)
    close = {"rtol": 1e-13, "atol": 1e-14} if dtype == np.float64 else {"rtol": 1e-5, "atol": 1e-6}
    for a, b in zip(gradients(whole), gradients(blocks), strict=True):
        assert_allclose(a, b, **close)


def test_a_patched_step_function_takes_effect(monkeypatch):
    """The kernels fuse the cell's own functions; a replacement turns them off."""
    cell, params, xs, carry0, dhs, dcarry_T, *_ = case("gru", np.float64, seed=3)
    _, _, tape = forward(cell, params, xs, carry0)
    original = GRUCell.step_backward
    calls = []

    def counted(self, params, cache_t, dcarry):
        calls.append(1)
        return original(self, params, cache_t, dcarry)

    monkeypatch.setattr(GRUCell, "step_backward", counted)
    assert cell.sequence_kernels is None
    backward(cell, params, tape, dhs, dcarry_T)  # a fused tape, walked step by step
    assert len(calls) == T


def test_a_plain_list_of_caches_takes_the_per_step_loop():
    cell, params, xs, carry0, dhs, dcarry_T, *_ = case("lstm", np.float64, seed=4)
    _, _, tape = forward(cell, params, xs, carry0)
    sliced = tape._replace(caches=list(tape.caches))  # a plain list of the same caches
    got = backward(cell, params, sliced, dhs, dcarry_T)
    want = backward(cell, params, tape, dhs, dcarry_T)
    for a, b in zip(gradients(got), gradients(want), strict=True):
        assert_allclose(a, b, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("name", list(CELLS))
def test_tape_survives_two_backward_passes(name):
    cell, params, xs, carry0, dhs, dcarry_T, *_ = case(name, np.float64, seed=5)
    _, _, tape = forward(cell, params, xs, carry0)
    first = backward(cell, params, tape, dhs, dcarry_T)
    second = backward(cell, params, tape, dhs, dcarry_T)
    for a, b in zip(gradients(first), gradients(second), strict=True):
        np.testing.assert_array_equal(a, b)


def test_compiled_lstm_steps_match_numpy(monkeypatch):
    """The compiled float32 steps (tanh to within 4e-7) against NumPy's, on a larger case."""
    if not compiled.enabled():
        pytest.skip("numba is not installed, or BPTT_NUMBA=0")
    cell = LSTMCell()
    rng = np.random.default_rng(6)
    params = cell.init_params(rng, 16, 32, dtype=np.float32)
    params = params._replace(W_h=params.W_h * 4)  # saturate some gates
    xs = (3 * rng.standard_normal((20, 8, 16))).astype(np.float32)
    dhs = rng.standard_normal((20, 8, 32)).astype(np.float32)
    resets = np.zeros((20, 8), dtype=bool)
    resets[7, 2] = resets[12, 5] = True
    mask = np.arange(20)[:, None] < rng.integers(1, 21, size=8)[None, :]
    got = run(cell, params, xs, None, dhs, None, resets, mask)
    monkeypatch.setenv(compiled.ENV_SWITCH, "0")
    want = run(cell, params, xs, None, dhs, None, resets, mask)
    assert_allclose(got[0], want[0], rtol=0, atol=2e-6)
    for a, b in zip(gradients(got), gradients(want), strict=True):
        scale = np.abs(b).max()
        assert_allclose(a, b, rtol=0, atol=2e-5 * scale)


@settings(max_examples=30, deadline=None)
@given(
    name=st.sampled_from(list(CELLS)),
    T_=st.integers(1, 4),
    B_=st.integers(1, 4),
    D_=st.integers(1, 4),
    H_=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_fused_equals_per_step_at_any_size(name, T_, B_, D_, H_, seed):
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


@pytest.fixture
def compiled_loops():
    """Skip unless the compiled LSTM loops are in use (numba and NumPy's OpenBLAS found)."""
    if compiled.lstm_loops(np.float32) is None:
        pytest.skip("numba is not installed, BPTT_NUMBA=0, or NumPy's BLAS is not reachable")


def test_compiled_lstm_loops_match_the_per_step_calls(compiled_loops, monkeypatch):
    """Runs of steps in one compiled call (product through NumPy's BLAS) against one Python
    step at a time with the same kernels, with resets cutting the runs and padded sequences
    kept inside them."""
    cell = LSTMCell()
    rng = np.random.default_rng(7)
    params = cell.init_params(rng, 6, 24, dtype=np.float32)
    xs = rng.standard_normal((30, 5, 6)).astype(np.float32)
    dhs = rng.standard_normal((30, 5, 24)).astype(np.float32)
    resets = np.zeros((30, 5), dtype=bool)
    resets[9, 1] = resets[21, 3] = True
    mask = np.arange(30)[:, None] < np.array([30, 17, 30, 4, 25])[None, :]
    mask[[3, 4, 12], [0, 2, 2]] = False  # padded steps inside sequences, too
    carry0, dcarry_T = (
        LSTMCarry(*rng.standard_normal((2, 5, 24)).astype(np.float32)) for _ in range(2)
    )
    calls = []

    def counting(kind, original):
        def counted(*args):
            calls.append(kind)
            return original(*args)

        return counted

    counted = tuple(map(counting, ("forward", "backward"), compiled.lstm_loops(np.float32)))
    monkeypatch.setattr(compiled, "lstm_loops", lambda dtype: counted)
    for flags in ({}, {"resets": resets, "mask": mask}):
        args = (cell, params, xs, carry0, dhs, dcarry_T, flags.get("resets"), flags.get("mask"))
        got = run(*args)
        with monkeypatch.context() as m:
            m.setattr(compiled, "lstm_loops", lambda dtype: None)
            want = run(*args)
        got_all = [got[0], *got[1], *gradients(got)]  # outputs, final carry, gradients
        want_all = [want[0], *want[1], *gradients(want)]
        for a, b in zip(got_all, want_all, strict=True):
            assert_allclose(a, b, rtol=1e-5, atol=1e-5)
        for T in (30, 1):  # inference: one step's buffers and the ring of c, padding kept
            infer_args = (cell, params, xs[:T], carry0, flags.get("mask"), flags.get("resets"))
            if flags:
                infer_args = (*infer_args[:4], flags["mask"][:T], flags["resets"][:T])
            hs_c, carry_c = infer(*infer_args)
            with monkeypatch.context() as m:
                m.setattr(compiled, "lstm_loops", lambda dtype: None)
                hs_p, carry_p = infer(*infer_args)
            for a, b in zip((hs_c, *carry_c), (hs_p, *carry_p), strict=True):
                assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    assert {"forward", "backward"} <= set(calls)


def test_the_compiled_product_refuses_arrays_it_would_misread(compiled_loops):
    from bptt.cells import _numba_loops

    A = np.ones((4, 3), np.float32)
    B_, C = np.ones((3, 2), np.float32), np.zeros((4, 2), np.float32)
    _numba_loops._product(A, B_, C, 2)
    np.testing.assert_array_equal(C, A @ B_)
    with pytest.raises(ValueError, match="C-ordered A"):
        _numba_loops._product(np.asfortranarray(A), B_, C, 2)


def test_both_layouts_of_the_recurrent_weight_gradient_agree(monkeypatch):
    """The LSTM's feature-major blocks: large H computes dW_h as H_prev^T dhp^T, small H as
    (dhp H_prev)^T; the gradients are the same."""
    import bptt.cells.base as base_module

    c = case("lstm", np.float64, seed=8, resets=RESETS, mask=MASK)
    monkeypatch.setattr(base_module, "TRANSPOSED_PRODUCT_H", 10**9)
    small = run(*c)
    monkeypatch.setattr(base_module, "TRANSPOSED_PRODUCT_H", 1)
    large = run(*c)
    for a, b in zip(gradients(small), gradients(large), strict=True):
        assert_allclose(a, b, rtol=1e-12, atol=1e-13)


def test_loops_that_cannot_be_built_fall_back_to_python(compiled_loops, monkeypatch):
    """A numba that cannot build the loops, or a NumPy without its OpenBLAS: a warning (or
    nothing) and the Python loop, with the same results."""
    from bptt.cells import _blas, _numba_loops

    cell = LSTMCell()
    rng = np.random.default_rng(9)
    params = cell.init_params(rng, 3, 8, dtype=np.float32)
    xs = rng.standard_normal((6, 2, 3)).astype(np.float32)
    want = forward(cell, params, xs)[0]

    def broken(*args):
        raise TypeError("cannot type the ctypes call")

    compiled._loops.cache_clear()
    try:
        for loop in ("lstm_forward_loop", "lstm_backward_loop"):
            compiled._loops.cache_clear()
            with monkeypatch.context() as m:
                m.setattr(_numba_loops, loop, broken)
                with pytest.warns(RuntimeWarning, match="compiled LSTM loops unavailable"):
                    assert compiled.lstm_loops(np.float32) is None
                assert_allclose(forward(cell, params, xs)[0], want, rtol=1e-6, atol=1e-7)
        compiled._loops.cache_clear()
        with monkeypatch.context() as m:
            m.setattr(_blas, "SGEMM", None)
            assert compiled.lstm_loops(np.float32) is None
    finally:
        compiled._loops.cache_clear()
    assert compiled.lstm_loops(np.float32) is not None


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
