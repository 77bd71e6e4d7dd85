"""Right-padded (T, B, ...) batches of variable-length sequences, and minibatch order.

Sequence-level tasks (classify or regress from the last valid step) batch sequences of lengths
L_b <= T: step t of sequence b is valid when ``mask[t, b]`` is True, that is t < L_b.

Example::

    xs, mask = pad_sequences([np.ones((3, 2)), np.ones((5, 2))])  # (5, 2, 2), (5, 2)
    last = last_valid_index(mask)  # array([2, 4]); read hs[last, np.arange(B)]
    for idx in iterate_minibatches(num_examples=1000, batch_size=32, rng=rng):
        batch = xs_all[:, idx], targets_all[idx]
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from bptt.data._checks import check_positive_int, check_rng
from bptt.errors import BpttError


def lengths_to_mask(lengths: Any, T: int | None = None) -> np.ndarray:
    """The (T, B) bool mask with ``mask[t, b] = t < lengths[b]``.

    Args:
        lengths: (B,) positive integer lengths.
        T: number of rows; defaults to ``max(lengths)``.

    Returns:
        (T, B) bool mask.

    Raises:
        ValueError: if ``lengths`` is empty or not 1-D, holds a length < 1, or exceeds ``T``.
    """
    lengths = np.asarray(lengths)
    if lengths.dtype.kind not in "iu" or lengths.ndim != 1 or lengths.size == 0:
        raise BpttError(
            f"`lengths` must be a non-empty 1-D array of integers (B,), got dtype "
            f"{lengths.dtype} and shape {lengths.shape}."
        )
    if (lengths < 1).any():
        raise BpttError(
            f"Every length must be >= 1, got {int(lengths.min())} at index "
            f"{int(np.argmin(lengths))}; drop empty sequences first."
        )
    longest = int(lengths.max())
    T = longest if T is None else check_positive_int(T, "T")
    if longest > T:
        raise BpttError(
            f"`T`={T} is shorter than the longest sequence ({longest}); use T >= {longest}."
        )
    return np.arange(T)[:, None] < lengths[None, :]  # (T, B)


def pad_sequences(
    sequences: Sequence[Any], value: float = 0, *, dtype: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Stack B sequences of shapes (L_b, ...) into a right-padded time-major batch.

    Args:
        sequences: B arrays of shape (L_b,) (token ids) or (L_b, D) (features); all have the
            same trailing shape and L_b >= 1.
        value: the fill value of padded steps.
        dtype: dtype of the result; defaults to the common dtype of the sequences.

    Returns:
        ``(xs, mask)``: xs (T, B) or (T, B, D) with T = max L_b, and the (T, B) bool mask.

    Raises:
        ValueError: for no sequences, a 0-D or empty sequence, or mismatched trailing shapes.
    """
    if len(sequences) == 0:
        raise BpttError("`sequences` is empty; pass at least one (L, ...) array.")
    arrays = [np.asarray(s) for s in sequences]
    for b, a in enumerate(arrays):
        if a.ndim == 0 or a.shape[0] == 0:
            raise BpttError(
                f"sequences[{b}] has shape {a.shape}; every sequence needs at least one step "
                "along its first (time) axis. Drop empty sequences first."
            )
        if a.shape[1:] != arrays[0].shape[1:]:
            raise BpttError(
                f"sequences[{b}] has shape {a.shape} but sequences[0] has {arrays[0].shape}; "
                "all sequences need the same trailing (feature) shape."
            )
    lengths = np.array([a.shape[0] for a in arrays])
    mask = lengths_to_mask(lengths)  # (T, B)
    dtype = np.result_type(*arrays) if dtype is None else np.dtype(dtype)
    xs = np.full((mask.shape[0], len(arrays), *arrays[0].shape[1:]), value, dtype=dtype)
    for b, a in enumerate(arrays):
        xs[: a.shape[0], b] = a
    return xs, mask


def last_valid_index(mask: Any) -> np.ndarray:
    """The last t with ``mask[t, b]`` True, for each column b of a (T, B) mask.

    Returns:
        (B,) int64 indices; ``hs[last_valid_index(mask), np.arange(B)]`` is each final state.

    Raises:
        ValueError: if ``mask`` is not 2-D or a column has no valid step.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise BpttError(f"`mask` must be (T, B), got shape {mask.shape}.")
    empty = ~mask.any(axis=0)
    if empty.any():
        raise BpttError(
            f"`mask` column {int(np.argmax(empty))} has no valid step; every sequence needs at "
            "least one."
        )
    return (mask.shape[0] - 1 - np.argmax(mask[::-1], axis=0)).astype(np.int64)


def iterate_minibatches(
    num_examples: int,
    batch_size: int,
    *,
    rng: np.random.Generator | None = None,
    drop_last: bool = False,
) -> Iterator[np.ndarray]:
    """Index arrays that split ``num_examples`` examples into minibatches, one pass.

    Index time-major arrays on axis 1 (``xs[:, idx]``, ``mask[:, idx]``) and per-sequence
    targets on axis 0 (``targets[idx]``).

    Args:
        num_examples: the number of sequences.
        batch_size: B, the sequences per minibatch.
        rng: shuffles the order with ``rng.permutation``; None keeps 0, 1, 2, ...
        drop_last: drop a final minibatch smaller than ``batch_size``.

    Returns:
        An iterator of (B,) int64 indices (the last one shorter unless ``drop_last``).

    Raises:
        ValueError: if ``num_examples`` or ``batch_size`` < 1.
    """
    n = check_positive_int(num_examples, "num_examples")
    B = check_positive_int(batch_size, "batch_size")
    order = np.arange(n) if rng is None else check_rng(rng).permutation(n)
    stop = n - n % B if drop_last else n
    return (order[start : start + B] for start in range(0, stop, B))
