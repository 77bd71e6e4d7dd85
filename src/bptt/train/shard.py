"""Data-parallel shards: which columns of a batch a process owns, and the one buffer it sends.

Pure functions and small types shared by ``bptt.train.distributed`` (the MPI side) and the
tests, which can stand in for W processes by summing the buffers themselves.

Sharding. Every process builds the same whole batch (a text's B streams, or batch ``index``
of a sequence task, drawn from ``default_rng([seed, index])``) and keeps its columns:
process r of W owns columns [r B // W, (r + 1) B // W) (``bounds``), with their carried
states and their document resets. Columns are the batch axis of every field of a Batch
(time-major, (T, B, ...)), of every carry ((B, H)) and of every dropout mask ((T, B, D)), so
a split never crosses the time axis (the pitfall of PyTorch issue #7890, a hidden state
split along the wrong axis). Every process sees the same T and so the same BPTT windows.

Reduction. ``window_gradients`` returns the mean loss over a shard's loss positions and its
count n_r. A process sends sum_r = n_r * (gradient, loss) and n_r: the sums add up over the
processes to the whole batch's sums, and one division by N = sum_r n_r gives the mean over
the whole batch, exact when shards hold different numbers of tokens or sequences. The buffer
(``pack``) is one contiguous array of the gradients' dtype:

    [ n_r * dtheta_1.ravel(), ..., n_r * dtheta_K.ravel(), n_r * loss, n_r, bad, stop ]

``bad`` is 1 where a process found a non-finite loss, gradient or carried state (the window
is then skipped everywhere, as one process skips it) and ``stop`` 1 where a process was asked
to stop (SIGINT/SIGTERM), so that every process stops after the same window. Counts are
exact in float32 up to 2**24 loss positions per window.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from bptt.types import Params
from bptt.window import Batch, WindowResult

FLAGS = ("loss_sum", "count", "bad", "stop")
"""The values after the gradients in the buffer, in order."""


def bounds(B: int, W: int) -> list[tuple[int, int]]:
    """Columns [lo, hi) of each of W processes over B columns: [r B // W, (r + 1) B // W).

    Shards differ by at most one column; with W > B some are empty.
    """
    return [(r * B // W, (r + 1) * B // W) for r in range(W)]


def batch_columns(batch: Batch, lo: int, hi: int) -> Batch:
    """Columns [lo, hi) of every field of ``batch`` (all are (T, B, ...))."""
    return Batch(*(None if a is None else a[:, lo:hi] for a in batch))


def carry_columns(carries: Any, lo: int, hi: int) -> Any:
    """Rows [lo, hi) of every (B, H) array of a tuple of carries (None stays None; an empty
    shard gets None, the zero state of no columns)."""
    if carries is None or hi <= lo:
        return None
    return tuple(type(c)(*(np.array(a[lo:hi]) for a in c)) for c in carries)


def join_carries(parts: list[Any]) -> Any:
    """The whole batch's carries from every process's columns, in process order: one (B, H)
    array per field. None when no process carries a state; an empty shard's None adds no rows.
    """
    given = [p for p in parts if p is not None]
    if not given:
        return None
    return tuple(
        type(first)(*(np.concatenate(arrays) for arrays in zip(*layer, strict=True)))
        for first, layer in zip(given[0], zip(*given, strict=True), strict=True)
    )


class ColumnDraws:
    """A generator view for dropout: draws what ``rng`` draws for the whole batch of B columns
    and keeps columns [lo, hi), so every process's masks are the one-process masks' columns
    and ``rng`` advances alike everywhere (one state to save)."""

    def __init__(self, rng: np.random.Generator, lo: int, hi: int, B: int) -> None:
        self.rng, self.lo, self.hi, self.B = rng, lo, hi, B

    def random(self, size: tuple[int, ...]) -> np.ndarray:
        """(T, hi - lo, ...) uniform draws: columns [lo, hi) of a (T, B, ...) draw."""
        if len(size) < 2 or size[1] != self.hi - self.lo:
            raise ValueError(
                f"ColumnDraws holds columns [{self.lo}, {self.hi}) but was asked for {size}."
            )
        return self.rng.random((size[0], self.B, *size[2:]))[:, self.lo : self.hi]


class Layout(NamedTuple):
    """Where each gradient lies in the flat buffer.

    Attributes:
        keys: parameter names, in the params' order (the same in every process).
        shapes: each parameter's shape.
        offsets: where each one starts; offsets[-1] is P, the parameter count.
        dtype: the buffer's dtype, the parameters' (float64 if they mix).
    """

    keys: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    offsets: tuple[int, ...]
    dtype: np.dtype

    @property
    def size(self) -> int:
        """P + len(FLAGS): the buffer's length."""
        return self.offsets[-1] + len(FLAGS)


def layout(params: Params) -> Layout:
    """The buffer layout of ``params``."""
    sizes = [int(np.asarray(p).size) for p in params.values()]
    offsets = tuple(int(o) for o in np.concatenate([[0], np.cumsum(sizes)]))
    dtype = np.result_type(*(np.asarray(p).dtype for p in params.values()))
    return Layout(
        tuple(params), tuple(np.shape(p) for p in params.values()), offsets, np.dtype(dtype)
    )


def pack(
    lay: Layout,
    result: WindowResult,
    *,
    carries_finite: bool,
    stop: bool,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """This process's buffer: n_r times its gradients and loss, n_r, bad, stop (see above).

    Args:
        lay: the layout (``layout(params)``).
        result: the shard's ``window_gradients`` result (mean over its n_r positions).
        carries_finite: whether the state it carries on is finite.
        stop: whether this process was asked to stop.
        out: a buffer of ``lay.size`` to fill (a new one if None).
    """
    buf = np.empty(lay.size, dtype=lay.dtype) if out is None else out
    P, n = lay.offsets[-1], result.count
    if n == 0:
        buf[: P + 1] = 0.0
    elif result.grads is None:  # a non-finite loss or output gradient: skipped everywhere
        buf[: P + 1] = math.nan
    else:
        for key, a, b in zip(lay.keys, lay.offsets[:-1], lay.offsets[1:], strict=True):
            np.multiply(np.ravel(result.grads[key]), n, out=buf[a:b])
        buf[P] = result.loss * n
    bad = n > 0 and not math.isfinite(result.loss)
    buf[P + 1 :] = (n, float(bad or not carries_finite), float(stop))
    return buf


class Reduced(NamedTuple):
    """What the summed buffers say about a window of the whole batch.

    Attributes:
        result: the whole batch's WindowResult: the mean loss and gradient over all N loss
            positions, with this process's ``carries_next`` and ``outputs``.
        carries_finite: False when any process's carried state is not finite.
        stop: whether any process was asked to stop.
    """

    result: WindowResult
    carries_finite: bool
    stop: bool


def unpack(lay: Layout, total: np.ndarray, local: WindowResult) -> Reduced:
    """The whole batch's result from the buffers summed over every process (``total``)."""
    P = lay.offsets[-1]
    loss_sum, count, bad, stop = (float(v) for v in total[P:])
    N = round(count)
    grads = None
    loss = math.nan
    if N > 0:
        scale = total.dtype.type(N)
        grads = {
            key: (total[a:b] / scale).reshape(shape)
            for key, shape, a, b in zip(
                lay.keys, lay.shapes, lay.offsets[:-1], lay.offsets[1:], strict=True
            )
        }
        loss = loss_sum / N
    result = WindowResult(loss, N, grads, local.carries_next, local.outputs)
    return Reduced(result, bad == 0, stop > 0)
