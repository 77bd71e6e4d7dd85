"""(T, B) stream batching for truncated BPTT over one long token sequence.

The corpus of N ids is cut into B contiguous streams of L = (N - 1) // B steps, as in the
classic PTB ``batchify``: stream b reads inputs ``ids[b*L : (b+1)*L]`` and predicts targets
``ids[b*L + 1 : (b+1)*L + 1]``, so the streams overlap by one token and every id from 1 to B*L
is a target exactly once (the last N - 1 - B*L ids, fewer than B, are never targets). Window i
holds steps [i*k, (i+1)*k) of every stream, so window i + 1 continues exactly where window i
stopped and the trainer can carry each stream's hidden state from one window to the next.

Document boundaries: ``resets[t, b]`` is True when the input at step t of stream b is the first
token of a document; the trainer zeroes stream b's carried state before that step. The target
of the step before it (the last token of a document) is the first token of the next document;
it is kept as an ordinary prediction.

The last window is shorter (L mod k steps) unless ``drop_last=True``, which drops it. Windows
are pure functions of their index, so a run resumes from a saved cursor ``i`` with
``batcher.iterate(start=i)``. Evaluation uses the same chunking; average the per-token losses
over all targets (not per window) when the last window is shorter.

Example::

    batcher = StreamBatcher(ids, batch_size=32, window=50, doc_starts=starts)
    for w in batcher.iterate(start=cursor):
        w.inputs, w.targets, w.resets  # (k, B) int64, (k, B) int64, (k, B) bool
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence, Sized
from typing import Any, NamedTuple

import numpy as np

from bptt.data._checks import check_ids, check_positive_int
from bptt.errors import BpttError


class StreamWindow(NamedTuple):
    """Window ``index`` of a :class:`StreamBatcher`; k is the window length (last may be shorter).

    Attributes:
        inputs: (k, B) int64 input ids.
        targets: (k, B) int64 target ids, ``targets[t, b]`` is the id after ``inputs[t, b]``.
        resets: (k, B) bool, True where ``inputs[t, b]`` is the first token of a document.
        index: the window number i; save ``index + 1`` as the cursor to resume after it.
    """

    inputs: np.ndarray
    targets: np.ndarray
    resets: np.ndarray
    index: int


def document_starts(documents: Sequence[Sized]) -> np.ndarray:
    """Offsets of each document in their concatenation, e.g. lengths (3, 5, 2) -> [0, 3, 8].

    Args:
        documents: texts or id arrays, in the order they are concatenated.

    Returns:
        (num_documents,) int64 start offsets.

    Raises:
        ValueError: if there are no documents or one of them is empty.
    """
    lengths = np.array([len(d) for d in documents], dtype=np.int64)
    if lengths.size == 0:
        raise BpttError("`documents` is empty; pass at least one document.")
    if (lengths == 0).any():
        raise BpttError(f"Document {int(np.argmin(lengths))} is empty; drop empty documents first.")
    return np.concatenate([[0], np.cumsum(lengths[:-1])])


class StreamBatcher:
    """B contiguous streams over ``ids``, read k steps (one window) at a time.

    Args:
        ids: (N,) integer token ids, the whole corpus (or split) in order.
        batch_size: B, the number of streams; needs N >= B + 1.
        window: k, the steps per window (the truncation length of TBPTT).
        doc_starts: optional (num_documents,) strictly increasing offsets in [0, N) where
            documents begin (see :func:`document_starts`); None means one document.
        drop_last: drop the final window when it is shorter than k (then N >= B*k + 1).

    Attributes:
        batch_size: B.
        window_size: k.
        drop_last: whether a final window shorter than k is dropped.
        stream_length: L = (N - 1) // B, the input steps in each stream.

    Raises:
        ValueError: for ``batch_size`` or ``window`` < 1, too few ids, or bad ``doc_starts``.
    """

    def __init__(
        self,
        ids: Any,
        batch_size: int,
        window: int,
        *,
        doc_starts: Any = None,
        drop_last: bool = False,
    ) -> None:
        ids = check_ids(ids, "ids").copy()
        B = check_positive_int(batch_size, "batch_size")
        k = check_positive_int(window, "window")
        num_tokens = ids.size
        required = B * k + 1 if drop_last else B + 1
        if num_tokens < required:
            what = f"one full window of {k} steps" if drop_last else "one step"
            raise BpttError(
                f"`ids` has {num_tokens} tokens but batch_size={B} streams of {what} need at least "
                f"{required} (batch_size * steps + 1 for the shifted targets). Use a smaller "
                "`batch_size` or `window`, or more text."
            )
        self._ids = ids
        self._is_start = np.zeros(num_tokens, dtype=bool)
        if doc_starts is not None:
            self._is_start[_check_doc_starts(doc_starts, num_tokens)] = True
        self.batch_size = B
        self.window_size = k
        self.drop_last = bool(drop_last)
        self.stream_length = (num_tokens - 1) // B

    @classmethod
    def from_documents(
        cls,
        documents: Sequence[Any],
        batch_size: int,
        window: int,
        *,
        drop_last: bool = False,
    ) -> StreamBatcher:
        """A batcher over the concatenation of ``documents`` ((N_j,) id arrays), with resets."""
        if len(documents) == 0:
            raise BpttError("`documents` is empty; pass at least one (N,) id array.")
        docs = [check_ids(d, f"documents[{j}]") for j, d in enumerate(documents)]
        return cls(
            np.concatenate(docs),
            batch_size,
            window,
            doc_starts=document_starts(docs),
            drop_last=drop_last,
        )

    @property
    def num_windows(self) -> int:
        """Windows per pass: ceil(L / k), or floor(L / k) with ``drop_last``."""
        L, k = self.stream_length, self.window_size
        return L // k if self.drop_last else -(-L // k)

    def __len__(self) -> int:
        return self.num_windows

    def window(self, index: int) -> StreamWindow:
        """Window ``index``: steps [index*k, min((index+1)*k, L)) of every stream.

        Raises:
            ValueError: if ``index`` is not in [0, num_windows).
        """
        i = check_positive_int(index, "index", minimum=0)
        if i >= self.num_windows:
            raise BpttError(
                f"`index` is {i} but there are only {self.num_windows} windows "
                f"(0 to {self.num_windows - 1}); start a new pass at index 0."
            )
        start = i * self.window_size
        return self.span(start, min(start + self.window_size, self.stream_length), index=i)

    def span(self, start: int, stop: int, *, index: int = -1) -> StreamWindow:
        """Steps [start, stop) of every stream, for windows that overlap (BPTT(k1, k2), k1 < k2).

        Raises:
            ValueError: unless 0 <= start < stop <= stream_length.
        """
        L, B = self.stream_length, self.batch_size
        if not 0 <= start < stop <= L:
            raise BpttError(
                f"steps [{start}, {stop}) are not inside the streams' {L} steps; "
                "expected 0 <= start < stop <= stream_length."
            )
        positions = np.arange(start, stop + 1)[:, None] + L * np.arange(B)  # (k + 1, B)
        tokens = self._ids[positions]  # (k + 1, B)
        return StreamWindow(
            inputs=tokens[:-1],
            targets=tokens[1:],
            resets=self._is_start[positions[:-1]],
            index=index,
        )

    def iterate(self, start: int = 0) -> Iterator[StreamWindow]:
        """Windows ``start``, ``start + 1``, ..., the last; ``start`` is a saved cursor.

        Raises:
            ValueError: if ``start`` is not in [0, num_windows].
        """
        start = check_positive_int(start, "start", minimum=0)
        if start > self.num_windows:
            raise BpttError(
                f"`start` is {start} but a pass has {self.num_windows} windows; a cursor "
                f"lies in [0, {self.num_windows}]."
            )
        return (self.window(i) for i in range(start, self.num_windows))

    def __iter__(self) -> Iterator[StreamWindow]:
        return self.iterate()


def _check_doc_starts(doc_starts: Any, N: int) -> np.ndarray:
    """Return ``doc_starts`` as int64, or raise unless strictly increasing ints in [0, N)."""
    starts = np.asarray(doc_starts)
    if starts.dtype.kind not in "iu" or starts.ndim != 1 or starts.size == 0:
        raise BpttError(
            f"`doc_starts` must be a non-empty 1-D integer array, got dtype {starts.dtype} and "
            f"shape {starts.shape}. Build it with document_starts(documents)."
        )
    starts = starts.astype(np.int64)
    if (np.diff(starts) <= 0).any() or starts[0] < 0 or starts[-1] >= N:
        raise BpttError(
            f"`doc_starts` must be strictly increasing offsets in [0, {N}) (N = len(ids)), got "
            f"{starts[:6].tolist()}{'...' if starts.size > 6 else ''}."
        )
    return starts
