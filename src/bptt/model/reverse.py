"""Time permutations of a bidirectional layer: each sequence's valid steps reversed."""

from __future__ import annotations

import numpy as np

from bptt.types import Array


def reverse_index(mask: np.ndarray | None, T: int, B: int) -> np.ndarray:
    """(T, B) indices that reverse each sequence's valid steps in time, padding left in place.

    For a right-padded sequence of length L this maps t -> L - 1 - t for t < L, as
    ``pack_padded_sequence`` does for PyTorch's reverse direction. The map is an involution.
    """
    index = np.tile(np.arange(T)[:, None], (1, B))  # (T, B)
    if mask is None:
        return index[::-1].copy()
    for b in range(B):
        valid = np.flatnonzero(mask[:, b])
        index[valid, b] = valid[::-1]
    return index


def gather_time(xs: Array, index: np.ndarray) -> Array:
    """xs (T, B, F) reordered in time per column: out[t, b] = xs[index[t, b], b]."""
    return np.take_along_axis(xs, index[:, :, None], axis=0)
