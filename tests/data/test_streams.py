import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bptt.data.streams import StreamBatcher, StreamWindow, document_starts


def stream_of(windows, b, field):
    """Concatenate one field of stream b over windows: (sum of k,) ids."""
    return np.concatenate([getattr(w, field)[:, b] for w in windows])


def test_document_starts_are_cumulative_lengths():
    np.testing.assert_array_equal(document_starts(["abc", "defgh", "ij"]), [0, 3, 8])
    np.testing.assert_array_equal(document_starts([np.arange(4)]), [0])
    with pytest.raises(ValueError, match="`documents` is empty"):
        document_starts([])
    with pytest.raises(ValueError, match="Document 1 is empty"):
        document_starts(["ab", ""])


def test_window_shapes_dtypes_and_counts():
    ids = np.arange(23)  # N = 23, B = 3 -> L = 7; k = 3 -> windows of 3, 3, 1 steps
    batcher = StreamBatcher(ids, batch_size=3, window=3)
    assert batcher.stream_length == 7
    assert batcher.num_windows == len(batcher) == 3
    windows = list(batcher)
    assert [w.inputs.shape for w in windows] == [(3, 3), (3, 3), (1, 3)]
    assert [w.index for w in windows] == [0, 1, 2]
    w = windows[0]
    assert isinstance(w, StreamWindow)
    assert w.inputs.dtype == w.targets.dtype == np.int64 and w.resets.dtype == bool
    np.testing.assert_array_equal(w.inputs, [[0, 7, 14], [1, 8, 15], [2, 9, 16]])
    np.testing.assert_array_equal(w.targets, w.inputs + 1)


def test_drop_last_drops_the_short_window():
    batcher = StreamBatcher(np.arange(23), batch_size=3, window=3, drop_last=True)
    assert batcher.num_windows == 2
    assert [w.inputs.shape for w in batcher] == [(3, 3), (3, 3)]
    exact = StreamBatcher(np.arange(19), batch_size=3, window=3, drop_last=True)
    assert exact.num_windows == 2 and exact.window(1).inputs.shape == (3, 3)


def check_streams(ids, batcher, doc_starts):
    """Every stream property the trainer relies on, for one batcher."""
    windows = list(batcher)
    B, L, k = batcher.batch_size, batcher.stream_length, batcher.window_size
    steps = sum(w.inputs.shape[0] for w in windows)
    assert steps == (k * (L // k) if batcher.drop_last else L)
    for b in range(B):
        # Stream b is one contiguous slice; targets are the inputs shifted by one.
        np.testing.assert_array_equal(stream_of(windows, b, "inputs"), ids[b * L : b * L + steps])
        np.testing.assert_array_equal(
            stream_of(windows, b, "targets"), ids[b * L + 1 : b * L + steps + 1]
        )
        # Window i + 1 continues exactly where window i stopped.
        for w, nxt in itertools.pairwise(windows):
            assert w.targets[-1, b] == nxt.inputs[0, b]
        # resets[t, b] is True exactly where the input position starts a document.
        positions = np.arange(b * L, b * L + steps)
        np.testing.assert_array_equal(
            stream_of(windows, b, "resets"), np.isin(positions, doc_starts)
        )
    for w in windows:
        np.testing.assert_array_equal(w.inputs[1:], w.targets[:-1])


def test_streams_are_contiguous_and_cover_every_target_once():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 50, size=101)
    batcher = StreamBatcher(ids, batch_size=4, window=6, doc_starts=[0, 10, 25, 26, 99])
    check_streams(ids, batcher, [0, 10, 25, 26, 99])
    positions = np.arange(101)
    batcher = StreamBatcher(positions, batch_size=4, window=6)
    targets = np.concatenate([w.targets.ravel() for w in batcher])
    np.testing.assert_array_equal(np.sort(targets), np.arange(1, 4 * 25 + 1))


@settings(max_examples=60, deadline=None)
@given(
    num_tokens=st.integers(2, 120),
    B=st.integers(1, 7),
    k=st.integers(1, 12),
    drop_last=st.booleans(),
    data=st.data(),
)
def test_stream_properties_for_any_sizes(num_tokens, B, k, drop_last, data):
    needed = B * k + 1 if drop_last else B + 1
    if num_tokens < needed:
        with pytest.raises(ValueError, match=f"has {num_tokens} tokens .* at least {needed}"):
            StreamBatcher(np.arange(num_tokens), B, k, drop_last=drop_last)
        return
    starts = sorted(data.draw(st.sets(st.integers(0, num_tokens - 1), min_size=1, max_size=8)))
    ids = np.arange(num_tokens) * 3 + 1
    batcher = StreamBatcher(ids, B, k, doc_starts=starts, drop_last=drop_last)
    check_streams(ids, batcher, starts)


def test_resets_fire_at_document_starts_within_a_stream():
    docs = [np.full(5, 1), np.full(7, 2), np.full(8, 3)]  # starts 0, 5, 12; N = 20
    batcher = StreamBatcher.from_documents(docs, batch_size=2, window=4)  # L = 9
    w0, w1, w2 = batcher.window(0), batcher.window(1), batcher.window(2)
    # Stream 0 covers positions 0..8 (start 0 at t=0, start 5 at t=5 = window 1, step 1);
    # stream 1 covers positions 9..17 (start 12 at t=3 = window 0, step 3).
    expected_w0 = [[True, False], [False, False], [False, False], [False, True]]
    expected_w1 = [[False, False], [True, False], [False, False], [False, False]]
    np.testing.assert_array_equal(w0.resets, expected_w0)
    np.testing.assert_array_equal(w1.resets, expected_w1)
    assert not w2.resets.any()
    assert w0.inputs[0, 0] == 1 and w1.inputs[1, 0] == 2 and w0.inputs[3, 1] == 3


def test_from_documents_matches_manual_concatenation():
    docs = [np.arange(6), np.arange(3) + 10, np.arange(9) + 20]
    manual = StreamBatcher(np.concatenate(docs), 3, 2, doc_starts=document_starts(docs))
    auto = StreamBatcher.from_documents(docs, 3, 2)
    for a, m in zip(auto, manual, strict=True):
        for field in ("inputs", "targets", "resets"):
            np.testing.assert_array_equal(getattr(a, field), getattr(m, field))


def test_resume_from_a_cursor_gives_the_same_windows():
    ids = np.random.default_rng(1).integers(0, 30, size=200)
    batcher = StreamBatcher(ids, batch_size=5, window=7, doc_starts=[0, 50, 120])
    full = list(batcher)
    for cursor in (0, 3, len(full) - 1, len(full)):
        resumed = list(
            StreamBatcher(ids, batch_size=5, window=7, doc_starts=[0, 50, 120]).iterate(cursor)
        )
        assert len(resumed) == len(full) - cursor
        for r, f in zip(resumed, full[cursor:], strict=True):
            assert r.index == f.index
            np.testing.assert_array_equal(r.inputs, f.inputs)
            np.testing.assert_array_equal(r.targets, f.targets)
            np.testing.assert_array_equal(r.resets, f.resets)


def test_window_is_pure_and_the_batcher_copies_ids():
    ids = np.arange(40)
    batcher = StreamBatcher(ids, batch_size=3, window=4)
    first = batcher.window(2).inputs.copy()
    ids[:] = -1
    np.testing.assert_array_equal(batcher.window(2).inputs, first)


def test_too_short_text_reports_actual_and_required_lengths():
    with pytest.raises(ValueError, match=r"`ids` has 4 tokens but batch_size=4 .* at least 5"):
        StreamBatcher(np.arange(4), batch_size=4, window=3)
    with pytest.raises(ValueError, match=r"has 12 tokens .* one full window of 3 steps .* 13"):
        StreamBatcher(np.arange(12), batch_size=4, window=3, drop_last=True)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"batch_size": 0}, ValueError, "`batch_size` must be >= 1, got 0"),
        ({"window": 0}, ValueError, "`window` must be >= 1, got 0"),
        ({"window": -2}, ValueError, "`window` must be >= 1, got -2"),
        ({"batch_size": 2.0}, TypeError, "`batch_size` must be an integer"),
        ({"doc_starts": [0, 0, 5]}, ValueError, r"strictly increasing offsets in \[0, 30\)"),
        ({"doc_starts": [3, 1]}, ValueError, "strictly increasing"),
        ({"doc_starts": [-1, 4]}, ValueError, "strictly increasing"),
        ({"doc_starts": [0, 30]}, ValueError, r"got \[0, 30\]"),
        ({"doc_starts": [0.0, 3.0]}, ValueError, "1-D integer array, got dtype float64"),
        ({"doc_starts": []}, ValueError, "non-empty 1-D integer array"),
    ],
)
def test_bad_arguments_raise(kwargs, error, message):
    args = {"ids": np.arange(30), "batch_size": 2, "window": 4, **kwargs}
    with pytest.raises(error, match=message):
        StreamBatcher(**args)


def test_bad_ids_raise():
    with pytest.raises(TypeError, match="integer token ids, got dtype float64"):
        StreamBatcher(np.zeros(10), 2, 2)
    with pytest.raises(ValueError, match=r"must be 1-D \(N,\), got shape \(5, 2\)"):
        StreamBatcher(np.zeros((5, 2), dtype=int), 2, 2)
    with pytest.raises(ValueError, match="`ids` is empty"):
        StreamBatcher(np.array([], dtype=int), 2, 2)
    with pytest.raises(ValueError, match="`documents` is empty"):
        StreamBatcher.from_documents([], 2, 2)


def test_bad_cursor_raises_eagerly():
    batcher = StreamBatcher(np.arange(30), batch_size=2, window=4)  # L = 14: 4 windows
    with pytest.raises(ValueError, match=r"`index` is 4 but there are only 4 windows"):
        batcher.window(4)
    with pytest.raises(ValueError, match="`index` must be >= 0, got -1"):
        batcher.window(-1)
    with pytest.raises(ValueError, match=r"`start` is 5 but a pass has 4 windows"):
        batcher.iterate(5)


def test_span_equals_the_windows_it_covers():
    ids = np.arange(103) % 17
    batcher = StreamBatcher(ids, batch_size=4, window=5)
    joined = np.concatenate([batcher.window(i).inputs for i in range(3)])
    span = batcher.span(2, 13)
    np.testing.assert_array_equal(span.inputs, joined[2:13])
    np.testing.assert_array_equal(span.targets[:-1], span.inputs[1:])
    with pytest.raises(ValueError, match=r"steps \[20, 30\) are not inside the streams' 25 steps"):
        batcher.span(20, 30)
