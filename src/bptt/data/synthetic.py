"""Synthetic long-range-dependency benchmarks, generated time-major from an explicit Generator.

- :func:`adding_problem`: Arjovsky, Shah & Bengio 2016, "Unitary Evolution Recurrent Neural
  Networks" (arXiv:1511.06464), Sec. 4.2, as in the authors' ``adding_problem.py``.
- :func:`copy_task`: the copy memory task of the same paper, Sec. 4.1 (``memory_problem.py``).
- :func:`temporal_order`: Hochreiter & Schmidhuber 1997, "Long Short-Term Memory", Neural
  Computation 9(8), Sec. 5.6, Experiment 6a (two relevant, widely separated symbols).

Each function draws everything from ``rng``, so the same seed gives the same batch.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from bptt.data._checks import check_positive_float, check_positive_int, check_rng
from bptt.errors import BpttError

ADDING_BASELINE_MSE = 1.0 / 6.0
"""MSE of always predicting 1: E[(X1 + X2 - 1)^2] = Var(X1 + X2) = 2/12 for X1, X2 ~ U[0, 1]."""

COPY_NUM_SYMBOLS = 10
"""How many symbols are shown and must be reproduced."""
COPY_VOCAB_SIZE = 10
"""Input ids: 0 blank, 1..8 symbols, 9 delimiter."""
COPY_NUM_CLASSES = 9
"""Target ids: 0 blank, 1..8 symbols (the delimiter is never a target)."""
COPY_BLANK = 0
COPY_DELIMITER = 9

TEMPORAL_ORDER_SYMBOLS = ("a", "b", "c", "d", "X", "Y", "E", "B")
"""Input ids 0..7; padded steps (beyond a sequence's length) hold 0 and are masked out."""
TEMPORAL_ORDER_CLASSES = ("XX", "XY", "YX", "YY")
"""Class ids 0..3, the paper's Q, R, S, U."""
TEMPORAL_ORDER_BASELINE_NATS = math.log(4.0)
"""Cross-entropy of the uniform guess over the 4 classes (chance accuracy 1/4)."""

_X, _Y, _E, _TRIGGER = 4, 5, 6, 7


class AddingBatch(NamedTuple):
    """Attributes: inputs (T, B, 2); targets (B, 1); positions (2, B) int64 marked steps."""

    inputs: np.ndarray
    targets: np.ndarray
    positions: np.ndarray


class CopyBatch(NamedTuple):
    """Attributes: inputs (T + 20, B) ids in 0..9; targets (T + 20, B) ids in 0..8."""

    inputs: np.ndarray
    targets: np.ndarray


class TemporalOrderBatch(NamedTuple):
    """A batch of variable-length temporal order sequences, right-padded to T = max length.

    Attributes:
        inputs: (T, B) int64 symbol ids (see ``TEMPORAL_ORDER_SYMBOLS``).
        mask: (T, B) bool, True at the valid steps of each sequence.
        targets: (B,) int64 class ids (see ``TEMPORAL_ORDER_CLASSES``), read at the last step.
        lengths: (B,) int64 sequence lengths.
    """

    inputs: np.ndarray
    mask: np.ndarray
    targets: np.ndarray
    lengths: np.ndarray


def adding_problem(
    rng: np.random.Generator, length: int, batch_size: int, *, dtype: Any = np.float64
) -> AddingBatch:
    """The adding problem of Arjovsky, Shah & Bengio 2016 (arXiv:1511.06464).

    Channel 0 holds values U[0, 1]; channel 1 is 0 except for one 1 at a uniform step of the
    first half [0, T//2) and one at a uniform step of the second half [T//2, T). The target is
    the sum of the two marked values, read after the last step. Predicting 1 scores
    ``ADDING_BASELINE_MSE`` = 1/6 (the paper's 0.167). For odd T the second half is one step
    longer (the authors' code used [T//2, 2*(T//2)), identical for even T).

    Args:
        rng: the source of randomness.
        length: T >= 2.
        batch_size: B >= 1.
        dtype: float dtype of inputs and targets.

    Returns:
        An :class:`AddingBatch`: inputs (T, B, 2), targets (B, 1), positions (2, B).

    Raises:
        ValueError: if T < 2 or B < 1.
    """
    rng = check_rng(rng)
    T = check_positive_int(length, "length", minimum=2)
    B = check_positive_int(batch_size, "batch_size")
    half = T // 2
    values = rng.uniform(0.0, 1.0, size=(T, B))  # (T, B)
    first = rng.integers(0, half, size=B)  # (B,)
    second = rng.integers(half, T, size=B)  # (B,)
    columns = np.arange(B)
    inputs = np.zeros((T, B, 2), dtype=dtype)
    inputs[:, :, 0] = values
    inputs[first, columns, 1] = 1.0
    inputs[second, columns, 1] = 1.0
    targets = (values[first, columns] + values[second, columns])[:, None]  # (B, 1)
    return AddingBatch(inputs, targets.astype(dtype), np.stack([first, second]))


def copy_baseline(length: int) -> float:
    """Cross-entropy (nats per step) of the memoryless strategy on :func:`copy_task`.

    Predict blank for the first T + 10 steps, then a uniform guess over the 8 symbols for
    the last 10: 10 ln(8) / (T + 20), as in Arjovsky et al. 2016.
    """
    T = check_positive_int(length, "length")
    return COPY_NUM_SYMBOLS * math.log(8.0) / (T + 2 * COPY_NUM_SYMBOLS)


def copy_task(rng: np.random.Generator, length: int, batch_size: int) -> CopyBatch:
    """The copy memory task of Arjovsky, Shah & Bengio 2016 (arXiv:1511.06464), Sec. 4.1.

    Input (T + 20 steps): 10 symbols i.i.d. uniform on 1..8, T - 1 blanks (0), the delimiter
    9, then 10 blanks. Target: T + 10 blanks, then the 10 symbols. Inputs take
    ``COPY_VOCAB_SIZE`` = 10 values and targets ``COPY_NUM_CLASSES`` = 9, as in the authors'
    code (n_input = 10, n_output = 9). The loss is the mean cross-entropy over all T + 20
    steps; :func:`copy_baseline` gives the memoryless score.

    Args:
        rng: the source of randomness.
        length: T >= 1; T - 1 blanks separate the last symbol from the delimiter.
        batch_size: B >= 1.

    Returns:
        A :class:`CopyBatch` of (T + 20, B) int64 inputs and targets.

    Raises:
        ValueError: if T < 1 or B < 1.
    """
    rng = check_rng(rng)
    T = check_positive_int(length, "length")
    B = check_positive_int(batch_size, "batch_size")
    n = COPY_NUM_SYMBOLS
    symbols = rng.integers(1, 9, size=(n, B))  # (10, B)
    inputs = np.full((T + 2 * n, B), COPY_BLANK, dtype=np.int64)
    inputs[:n] = symbols
    inputs[n + T - 1] = COPY_DELIMITER
    targets = np.full((T + 2 * n, B), COPY_BLANK, dtype=np.int64)
    targets[T + n :] = symbols
    return CopyBatch(inputs, targets)


def temporal_order(
    rng: np.random.Generator, batch_size: int, *, scale: float = 1.0
) -> TemporalOrderBatch:
    """Temporal order, Experiment 6a of Hochreiter & Schmidhuber 1997 ("Long Short-Term Memory").

    Each sequence starts with E, ends with the trigger B and otherwise holds symbols drawn
    uniformly from {a, b, c, d}, except at steps t1 and t2, which hold X or Y (each with
    probability 1/2). Its length is uniform in [100, 110], t1 in [10, 20] and t2 in [50, 60]
    (0-based steps, E at step 0). The class, read at the last step, is the ordered pair
    (XX, XY, YX, YY), the paper's Q, R, S, U.

    ``scale`` multiplies the five numbers 100, 110, 10, 20, 50, 60 (rounded half up) for
    shorter CI versions; the structure E < t1 < t2 < B is checked, so any scale >= 0.05 works
    (0.1 gives lengths [10, 11], t1 in [1, 2], t2 in [5, 6]).

    Args:
        rng: the source of randomness.
        batch_size: B >= 1.
        scale: factor applied to the paper's lengths and positions.

    Returns:
        A :class:`TemporalOrderBatch`: inputs and mask (T, B) with T the longest length,
        targets (B,), lengths (B,).

    Raises:
        ValueError: if B < 1, or ``scale`` is not positive or too small for the structure.
    """
    rng = check_rng(rng)
    B = check_positive_int(batch_size, "batch_size")
    scale = check_positive_float(scale, "scale")
    lo_len, hi_len, lo_t1, hi_t1, lo_t2, hi_t2 = (
        int(v * scale + 0.5) for v in (100, 110, 10, 20, 50, 60)
    )
    if not (lo_t1 >= 1 and hi_t1 < lo_t2 and hi_t2 <= lo_len - 2):
        raise BpttError(
            f"`scale`={scale} gives lengths [{lo_len}, {hi_len}], t1 in [{lo_t1}, {hi_t1}] and "
            f"t2 in [{lo_t2}, {hi_t2}], which breaks the structure 1 <= t1 < t2 <= length - 2 "
            "(E first, B last). Use scale >= 0.05."
        )
    lengths = rng.integers(lo_len, hi_len + 1, size=B)  # (B,)
    t1 = rng.integers(lo_t1, hi_t1 + 1, size=B)  # (B,)
    t2 = rng.integers(lo_t2, hi_t2 + 1, size=B)  # (B,)
    is_y = rng.integers(0, 2, size=(2, B))  # (2, B): 0 for X, 1 for Y
    T = int(lengths.max())
    inputs = rng.integers(0, 4, size=(T, B))  # (T, B) symbols a..d
    columns = np.arange(B)
    inputs[0] = _E
    inputs[t1, columns] = _X + is_y[0]
    inputs[t2, columns] = _X + is_y[1]
    inputs[lengths - 1, columns] = _TRIGGER
    mask = np.arange(T)[:, None] < lengths  # (T, B)
    inputs[~mask] = 0
    targets = 2 * is_y[0] + is_y[1]  # (B,)
    return TemporalOrderBatch(
        inputs.astype(np.int64), mask, targets.astype(np.int64), lengths.astype(np.int64)
    )
