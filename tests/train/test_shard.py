"""Data-parallel shards in one process: W shards' summed buffers give the whole batch's window.

The reduction math of ``bptt.train.distributed`` without MPI: each shard runs
``window_gradients`` on its columns and packs n_r times its gradient and loss; the sum of the
buffers (what Allreduce computes) unpacks to the whole batch's mean loss and gradient, in
float64 within 1e-12 relative, for a text stream with resets and BPTT(k1 < k2), a padded
classification with the loss at each sequence's last step (shards of different counts),
checkpointed BPTT and dropout. tests/train/test_distributed.py runs the same with processes.
"""

import itertools

import numpy as np
import pytest

from bptt.data.shakespeare import load_plays
from bptt.engine.truncated import truncation, windows
from bptt.model import Model
from bptt.train.config import resolve_config
from bptt.train.factories import make_task, memory_policy, model_config_for
from bptt.train.shard import (
    FLAGS,
    ColumnDraws,
    batch_columns,
    bounds,
    carry_columns,
    join_carries,
    layout,
    pack,
    unpack,
)
from bptt.train.tasks import _stream_task
from bptt.window import WindowResult, window_gradients


def _relative(a, b):
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def test_bounds_cover_every_column_once_and_differ_by_at_most_one():
    for B in (1, 5, 6, 7, 32):
        for W in (1, 2, 3, 4):
            parts = bounds(B, W)
            assert parts[0][0] == 0 and parts[-1][1] == B
            assert all(a[1] == b[0] for a, b in itertools.pairwise(parts))
            sizes = [hi - lo for lo, hi in parts]
            assert max(sizes) - min(sizes) <= 1
    assert bounds(7, 3) == [(0, 2), (2, 4), (4, 7)]


def test_carries_split_and_join_back_in_column_order():
    from bptt.cells.lstm import LSTMCarry

    rng = np.random.default_rng(0)
    carries = tuple(LSTMCarry(rng.random((7, 5)), rng.random((7, 5))) for _ in range(2))
    parts = [carry_columns(carries, lo, hi) for lo, hi in bounds(7, 3)]
    joined = join_carries(parts)
    for whole, back in zip(carries, joined, strict=True):
        assert type(back) is LSTMCarry
        for a, b in zip(whole, back, strict=True):
            np.testing.assert_array_equal(a, b)
    assert join_carries([None, None]) is None
    assert carry_columns(carries, 3, 3) is None  # an empty shard
    np.testing.assert_array_equal(join_carries([*parts, None])[0].h, carries[0].h)


def test_column_draws_are_the_whole_batch_draws_columns():
    whole = np.random.default_rng(5).random((4, 7, 3))
    rng = np.random.default_rng(5)
    view = ColumnDraws(rng, 2, 4, 7)
    np.testing.assert_array_equal(view.random((4, 2, 3)), whole[:, 2:4])
    assert rng.bit_generator.state == _advanced(5, (4, 7, 3))
    with pytest.raises(ValueError, match=r"columns \[2, 4\)"):
        view.random((4, 3, 3))


def _advanced(seed, shape):
    rng = np.random.default_rng(seed)
    rng.random(shape)
    return rng.bit_generator.state


def _setup(text_file, **changes):
    settings = {"hidden_size": 6, "embed_size": 4, "batch_size": 7, "out": "unused"}
    if changes["task"] == "text":
        settings["text"] = str(text_file)
    config = resolve_config({**settings, **changes})
    task = make_task(config) if config.task != "text" else _documents()
    model = Model(model_config_for(config, task))
    params = model.init(np.random.default_rng(3), dtype=np.float64)
    batch = task.train_batch(config.seed, 0, config.batch_size)
    return config, task, model, params, batch


def _documents():
    """A text of several documents, so that streams reset where one starts."""
    plays = [p.text for p in load_plays()[:4]]
    docs = [play[i : i + 700] for play in plays for i in (0, 5000)]
    return _stream_task("text", {"train": docs, "valid": plays[:1], "test": plays[1:2]})


def _combined(model, params, batch, window, carries, W, **options):
    """Every shard's window, packed and summed as Allreduce would, then unpacked."""
    lay = layout(params)
    total = np.zeros(lay.size)
    results = []
    for lo, hi in bounds(batch.inputs.shape[1], W):
        part = batch_columns(batch, lo, hi)
        r = window_gradients(model, params, part, window, carry_columns(carries, lo, hi), **options)
        total += pack(lay, r, carries_finite=True, stop=False)
        results.append(r)
    reduced = unpack(lay, total, results[0])
    assert reduced.carries_finite and not reduced.stop
    return reduced.result, join_carries([r.carries_next for r in results])


CASES = {
    "text-k1<k2": {"task": "text", "k1": 5, "k2": 8},
    "padded-classification": {"task": "temporal", "seq_len": 12, "cell": "gru"},
    "checkpointed": {"task": "copy", "seq_len": 6, "memory_budget": "sqrt"},
}


@pytest.mark.parametrize("W", [2, 3])
@pytest.mark.parametrize("changes", CASES.values(), ids=CASES.keys())
def test_summed_shards_equal_the_whole_batch(text_file, changes, W):
    config, task, model, params, batch = _setup(text_file, **changes)
    options = {"loss": task.loss, "memory_policy": memory_policy(config, model)}
    T = batch.inputs.shape[0]
    cut = config.truncation or truncation(T)
    whole_carries = shard_carries = None
    sizes = {hi - lo for lo, hi in bounds(batch.inputs.shape[1], W)}
    assert len(sizes) == 2  # B = 7: shards of different sizes, so of different loss counts
    for window in windows(T, cut)[:4]:
        whole = window_gradients(model, params, batch, window, whole_carries, **options)
        shard, joined = _combined(model, params, batch, window, shard_carries, W, **options)
        assert shard.count == whole.count
        if whole.count:
            assert abs(shard.loss - whole.loss) <= 1e-12 * abs(whole.loss)
            for k in params:
                assert _relative(shard.grads[k], whole.grads[k]) <= 1e-12, k
        for a, b in zip(whole.carries_next or (), joined or (), strict=True):
            for x, y in zip(a, b, strict=True):
                np.testing.assert_allclose(y, x, rtol=1e-12, atol=1e-15)
        whole_carries, shard_carries = whole.carries_next, joined
    if config.task == "text":  # documents start inside the streams, not only at step 0
        assert batch.resets[1:].sum() >= 3
    if config.task == "temporal":  # padded, the loss at each sequence's last real step
        assert batch.mask is not None and not batch.mask.all()


def test_dropout_masks_of_the_shards_are_the_whole_batch_masks(text_file):
    config, _task, model, params, batch = _setup(
        text_file, task="text", k1=5, k2=5, num_layers=2, dropout=0.3
    )
    window = windows(batch.inputs.shape[0], config.truncation)[0]
    rng = np.random.default_rng(11)
    whole = window_gradients(model, params, batch, window, loss="xent", train=True, rng=rng)
    lay = layout(params)
    total = np.zeros(lay.size)
    for lo, hi in bounds(7, 3):
        draws = ColumnDraws(np.random.default_rng(11), lo, hi, 7)
        part = batch_columns(batch, lo, hi)
        r = window_gradients(model, params, part, window, loss="xent", train=True, rng=draws)
        total += pack(lay, r, carries_finite=True, stop=False)
    shard = unpack(lay, total, whole).result
    for k in params:
        assert _relative(shard.grads[k], whole.grads[k]) <= 1e-12, k


def test_flags_travel_in_the_buffer():
    params = {"w": np.ones((2, 3)), "b": np.ones(3)}
    lay = layout(params)
    assert lay.size == 9 + len(FLAGS) and lay.dtype == np.float64
    grads = {"w": np.full((2, 3), 0.5), "b": np.full(3, 2.0)}
    finite = WindowResult(1.5, 4, grads, None, None)
    empty = WindowResult(float("nan"), 0, None, None, None)
    total = pack(lay, finite, carries_finite=True, stop=False) + pack(
        lay, empty, carries_finite=True, stop=True
    )
    reduced = unpack(lay, total, empty)
    assert reduced.result.count == 4 and reduced.result.loss == 1.5
    np.testing.assert_array_equal(reduced.result.grads["w"], grads["w"])
    assert reduced.stop and reduced.carries_finite
    broken = WindowResult(float("nan"), 2, None, None, None)  # a non-finite loss on one shard
    total = pack(lay, finite, carries_finite=True, stop=False) + pack(
        lay, broken, carries_finite=True, stop=False
    )
    reduced = unpack(lay, total, finite)
    assert not reduced.carries_finite and np.isnan(reduced.result.loss)
    nothing = unpack(lay, 2 * pack(lay, empty, carries_finite=False, stop=False), empty)
    assert nothing.result.count == 0 and nothing.result.grads is None
    assert not nothing.carries_finite


def test_float32_buffers_keep_the_parameters_dtype():
    params = {"w": np.ones(3, dtype=np.float32)}
    lay = layout(params)
    r = WindowResult(0.25, 3, {"w": np.full(3, 1 / 3, dtype=np.float32)}, None, None)
    buf = pack(lay, r, carries_finite=True, stop=False)
    assert buf.dtype == np.float32
    out = unpack(lay, buf, r).result
    assert out.grads["w"].dtype == np.float32 and out.count == 3
