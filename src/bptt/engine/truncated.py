"""Truncated BPTT in the Williams & Peng sense, BPTT(k1, k2): the schedule and the cut.

Every k1 new time steps, one update backpropagates through the most recent k2 steps
(k2 >= k1; Williams & Peng 1990, "An Efficient Gradient-Based Algorithm for On-Line Training
of Recurrent Network Trajectories", Neural Computation 2(4); k1/k2 as in Sutskever 2013):

    k1  steps between updates: the loss of these new steps is what each update minimises;
    k2  steps backpropagated: the new steps plus k2 - k1 earlier ones, whose forward pass is
        redone with the current parameters from the carry saved at the window start.

Window j covers steps [max(0, j*k1 - (k2 - k1)), min((j + 1)*k1, T)) and its loss the steps
[j*k1, min((j + 1)*k1, T)). The state is carried from window to window, its gradient is cut
at each window start (``cut``). k1 = k2 is the common chunking; k1 = k2 = T is full BPTT; the
forward work per update is k2 steps, never more.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from bptt.errors import BpttError, BpttTypeError


class Window(NamedTuple):
    """One BPTT(k1, k2) update over steps [start, stop) of a sequence.

    Attributes:
        start: first step of the window (where the carried state enters, gradient cut).
        new_start: first step whose loss this update minimises (start + overlap).
        stop: one past the last step.
        next_start: the step where the next window starts; the carry after step
            ``next_start - 1`` is saved for it (equals ``stop`` when k1 = k2).
    """

    start: int
    new_start: int
    stop: int
    next_start: int


class Truncation(NamedTuple):
    """BPTT(k1, k2): an update every ``k1`` new steps, backpropagating the last ``k2`` steps.

    The one value that says how a sequence is truncated; full BPTT is ``None`` wherever a
    ``Truncation | None`` is taken. Build it with ``truncation(k1, k2)``, which checks it.
    """

    k1: int
    k2: int


def truncation(k1: int, k2: int | None = None) -> Truncation:
    """The checked BPTT(k1, k2), with 1 <= k1 <= k2; ``k2`` defaults to ``k1``.

    Raises:
        BpttError: k1 or k2 not an integer >= 1, or k1 > k2.
    """
    k2 = k1 if k2 is None else k2
    for name, k in (("k1", k1), ("k2", k2)):
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise BpttError(
                f"`{name}` must be an integer >= 1, got {k!r}. k1 is the number of steps "
                "between updates, k2 the number of steps backpropagated."
            )
    if k1 > k2:
        raise BpttError(
            f"`k1` ({k1}) must not exceed `k2` ({k2}): each update backpropagates through at "
            "least the k1 new steps. Use k1 <= k2 (k1 = k2 is the usual chunking)."
        )
    return Truncation(int(k1), int(k2))


def window_at(j: int, T: int, k1: int, k2: int) -> Window:
    """Window ``j`` of BPTT(k1, k2) over a sequence of T steps (see the module docstring)."""
    new_start = j * k1
    stop = min(new_start + k1, T)
    start = max(0, new_start - (k2 - k1))
    next_start = max(0, stop - (k2 - k1))
    return Window(start, new_start, stop, max(next_start, start))


def windows(T: int, truncation: Truncation | None) -> list[Window]:
    """Every window over T steps, in order: ceil(T / k1) of BPTT(k1, k2), one for full BPTT.

    Examples:
        >>> [tuple(w) for w in windows(10, Truncation(4, 6))]
        [(0, 0, 4, 2), (2, 4, 8, 6), (6, 8, 10, 8)]
        >>> windows(10, None)
        [Window(start=0, new_start=0, stop=10, next_start=10)]
    """
    if isinstance(T, bool) or not isinstance(T, int | np.integer) or T < 1:
        raise BpttError(f"`T` must be an integer >= 1, got {T!r}.")
    if truncation is None:
        return [Window(0, 0, int(T), int(T))]
    k1, k2 = truncation
    return [window_at(j, T, k1, k2) for j in range(-(-T // k1))]


def schedule(T: int, k1: int, k2: int) -> list[Window]:
    """``windows(T, truncation(k1, k2))``, under the name it had before ``windows``."""
    return windows(T, truncation(k1, k2))


def cut(carries: Any) -> Any:
    """The truncation point: the carried state continues, its gradient does not.

    In this engine a gradient only flows where ``backward`` passes ``dcarry0`` on, so cutting
    means starting the next window from the values alone, copied so that nothing from the
    previous window's tape is shared. This is PyTorch's ``h.detach()`` between windows.

    Args:
        carries: one carry (a NamedTuple of arrays), a tuple of carries (one per layer, as
            ``Model.forward`` returns them), or None (the zero state).

    Returns:
        The same structure with every array copied.
    """
    if carries is None:
        return None  # the zero state: nothing to cut
    if hasattr(carries, "_fields"):  # one carry
        return type(carries)(*(np.array(a, copy=True) for a in carries))
    if not isinstance(carries, tuple | list):
        raise BpttTypeError(
            f"`carries` is {type(carries).__name__}; expected a carry (e.g. LSTMCarry(h, c)), "
            "a tuple of carries, or None."
        )
    return tuple(cut(c) for c in carries)
