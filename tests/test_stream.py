"""Streaming inference: chunks fed one after the other give the outputs of one call."""

import numpy as np
import pytest

from bptt.errors import BpttError
from bptt.model import Model, ModelConfig
from bptt.stream import Streamer

T, B, D, H, O = 11, 3, 4, 5, 2  # noqa: E741 (the shape letters)
CHUNKS = [(0, 4), (4, 5), (5, 11)]  # uneven, one of a single step


def build(cell, num_layers=2, readout="all", vocab=False):
    features = {"vocab_size": 7, "embed_size": D} if vocab else {"input_size": D}
    model = Model(
        ModelConfig(
            cell=cell,
            hidden_size=H,
            num_layers=num_layers,
            output_size=O,
            readout=readout,
            **features,
        )
    )
    return model, model.init(np.random.default_rng(0), dtype=np.float64)


def inputs(model, seed=1):
    rng = np.random.default_rng(seed)
    if model.config.vocab_size:
        return rng.integers(0, 7, size=(T, B))
    return rng.standard_normal((T, B, D))


def carries(model, seed=2):
    rng = np.random.default_rng(seed)
    fields = model.cell.carry_type._fields
    return tuple(
        model.cell.carry_type(*(rng.standard_normal((B, H)) for _ in fields))
        for _ in model.layer_prefixes()
    )


def assert_same_state(a, b):
    for ca, cb in zip(a, b, strict=True):
        for x, y in zip(ca, cb, strict=True):
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("num_layers", [1, 3])
@pytest.mark.parametrize("cell", ["rnn", "relu", "lstm", "gru"])
def test_chunks_equal_one_call(cell, num_layers):
    model, params = build(cell, num_layers)
    xs, c0 = inputs(model), carries(model)
    whole, final, _ = model.forward(params, xs, carries0=c0)
    streamer = Streamer(model, params, carries0=c0)
    pieces = [streamer.feed(xs[a:b]) for a, b in CHUNKS]
    np.testing.assert_allclose(np.concatenate(pieces), whole, rtol=1e-12, atol=1e-12)
    assert_same_state(streamer.carries, final)
    assert streamer.steps == T


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_padding_resets_and_token_ids_across_chunks(cell):
    """A sequence that ends mid-chunk keeps its state through the later chunks; a reset in a
    later chunk starts its document from zeros, as in one call with the same mask and resets."""
    model, params = build(cell, vocab=True)
    ids = inputs(model)
    mask = np.arange(T)[:, None] < np.array([11, 3, 8])[None, :]
    resets = np.zeros((T, B), dtype=bool)
    resets[6, 0] = True
    whole, final, _ = model.forward(params, ids, mask=mask, resets=resets)
    streamer = Streamer(model, params)
    pieces = [streamer.feed(ids[a:b], mask=mask[a:b], resets=resets[a:b]) for a, b in CHUNKS]
    np.testing.assert_allclose(np.concatenate(pieces), whole, rtol=1e-12, atol=1e-12)
    assert_same_state(streamer.carries, final)


def test_last_step_readout_after_the_last_chunk_equals_one_call():
    model, params = build("gru", readout="last")
    xs = inputs(model)
    whole, _, _ = model.forward(params, xs)
    streamer = Streamer(model, params)
    for a, b in CHUNKS:
        last = streamer.feed(xs[a:b])
    assert last.shape == (B, O)
    np.testing.assert_allclose(last, whole, rtol=1e-12, atol=1e-12)


def test_reset_rows_equals_a_reset_at_the_chunk_start():
    model, params = build("lstm")
    xs = inputs(model)
    resets = np.zeros((T, B), dtype=bool)
    resets[5, [0, 2]] = True
    whole, _, _ = model.forward(params, xs, resets=resets)
    streamer = Streamer(model, params)
    first = streamer.feed(xs[:5])
    before = streamer.carries
    streamer.reset([0, 2])
    assert np.all(streamer.carries[0].h[[0, 2]] == 0) and np.all(streamer.carries[0].h[1] != 0)
    assert np.any(before[0].h[0] != 0)  # the old carries are not changed in place
    rest = streamer.feed(xs[5:])
    np.testing.assert_allclose(np.concatenate([first, rest]), whole, rtol=1e-12, atol=1e-12)
    streamer.reset(np.array([True, False, False]))
    streamer.reset()
    assert streamer.carries is None


def test_bidirectional_models_and_bad_rows_are_refused():
    model = Model(ModelConfig(cell="gru", input_size=D, hidden_size=H, bidirectional=True))
    with pytest.raises(BpttError, match="A bidirectional model cannot stream"):
        Streamer(model, model.init(np.random.default_rng(0)))
    model, params = build("rnn")
    streamer = Streamer(model, params)
    streamer.feed(inputs(model)[:2])
    with pytest.raises(BpttError, match=r"`rows` must be batch rows in 0..2"):
        streamer.reset([3])
    with pytest.raises(BpttError, match=r"or a \(3,\) boolean mask"):
        streamer.reset(np.array([True, False]))
