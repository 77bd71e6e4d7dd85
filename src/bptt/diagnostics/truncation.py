"""Truncation bias: how far the BPTT(k, k) gradient is from the full-BPTT gradient.

BPTT(k, k) (Williams & Peng 1990) cuts the sequence into windows of k steps, carries the state
from one window to the next and backpropagates within each window only. With the parameters
held fixed, its gradient for the batch is

    g_k = (1 / N) sum_w N_w g_w

where g_w is window w's gradient of the mean loss over its N_w loss positions (as
``window_gradients`` returns it) and N = sum_w N_w: the gradient of the batch's total loss,
divided by the same N as the full gradient g (the gradient of the mean loss over the whole
batch), so the two are directly comparable and g_T = g. Both start from the same state.
The bias is measured by cos(g_k, g) and ||g_k|| / ||g|| over the whole parameter vector,
for a sweep of k.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, NamedTuple

import numpy as np

from bptt.diagnostics._common import check_model, flat, float64, measuring
from bptt.diagnostics.flow import batch_gradient
from bptt.engine.truncated import truncation, windows
from bptt.errors import BpttError
from bptt.model import Model
from bptt.types import Array, Params
from bptt.window import Batch, window_gradients


class TruncationBias(NamedTuple):
    """The truncation-bias curve.

    Attributes:
        ks: (S,) the swept window lengths, increasing, ending at T (full BPTT).
        cosine: (S,) cos(g_k, g) over all parameters.
        norm_ratio: (S,) ||g_k|| / ||g||.
        param_cosine: per parameter name, (S,) the cosine for that array alone (the
            readout's is 1 for every k: its gradient does not flow through time).
        threshold: the cosine a window must reach.
        recommended_k: the smallest swept k such that it and every longer swept window
            reach ``threshold`` (k = T always does). Requiring the longer ones too guards
            against a short window that lines up with the data by chance.
    """

    ks: np.ndarray
    cosine: Array
    norm_ratio: Array
    param_cosine: dict[str, Array]
    threshold: float
    recommended_k: int


def default_sweep(T: int, *, max_windows: int = 24) -> list[int]:
    """Window lengths to sweep for a sequence of T steps, from 1 to T.

    BPTT(k, k) cuts T steps into windows of k and a last window of ((T - 1) mod k) + 1
    steps, so a loss on the last step only (the adding problem) sees that many steps: k = 9
    over T = 100 leaves it a single step, less than k = 2 does. The sweep keeps the k whose
    last window is longer than that of every smaller k (for T = 100: 1, 2, 4, 5, 10, 17,
    20, 25, 34, 50, 100), so that a longer window never sees less of any sequence, evenly
    thinned to ``max_windows`` values.

    Example::

        >>> default_sweep(70)
        [1, 2, 5, 7, 10, 14, 18, 24, 35, 70]
    """
    if isinstance(T, bool) or not isinstance(T, int | np.integer) or T < 1:
        raise BpttError(f"`T` must be a positive integer, got {T!r}.")
    ks, longest = [], 0
    for k in range(1, T + 1):
        last = (T - 1) % k + 1
        if last > longest:
            ks.append(k)
            longest = last
    keep = np.unique(np.round(np.linspace(0, len(ks) - 1, min(len(ks), max_windows))))
    return [ks[int(i)] for i in keep]


def check_sweep(sweep: Iterable[int] | None, T: int) -> list[int]:
    """The sorted, unique sweep with T added; ``default_sweep(T)`` for None.

    Raises:
        ValueError: a value that is not an integer in [1, T], naming it.
    """
    if sweep is None:
        return default_sweep(T)
    ks = list(sweep)
    if not ks:
        raise BpttError("`sweep` is empty; give window lengths k with 1 <= k <= T, or None.")
    return sorted({_check_window(k, T, "`sweep` holds") for k in ks} | {T})


def _check_window(k: Any, T: int, where: str) -> int:
    """k as an int after checking 1 <= k <= T; ``where`` starts the error message."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise BpttError(f"{where} {k!r}; window lengths must be integers >= 1.")
    if k > T:
        raise BpttError(
            f"{where} {k}, longer than the sequence (T={T} steps). Use window lengths "
            f"1 <= k <= {T}; k = {T} is full BPTT."
        )
    return int(k)


def truncated_gradient(
    model: Model, params: Params, batch: Batch, k: int, *, loss: str, carries0: Any = None
) -> Params:
    """g_k, the BPTT(k, k) gradient of the batch with the parameters held fixed.

    Args:
        model, params: the model and its parameters (evaluation mode).
        batch: the whole batch (T steps).
        k: window length, 1 <= k <= T.
        loss: "xent" or "mse".
        carries0: the state at the batch start (None: zeros).

    Returns:
        (1 / N) sum_w N_w g_w, with the keys of ``params`` (see the module docstring).
    """
    check_model(model)
    params = float64(params)
    T = batch.inputs.shape[0]
    k = _check_window(k, T, "`k` is")
    total: Params | None = None
    count, carries = 0, carries0
    with measuring():
        for w in windows(T, truncation(k)):
            r = window_gradients(model, params, batch, w, carries, loss=loss)
            carries = r.carries_next  # the state goes on; no gradient flows back into it
            if r.count == 0:
                continue
            count += r.count
            summed = {name: r.count * g for name, g in r.grads.items()}
            total = summed if total is None else {n: total[n] + summed[n] for n in total}
    if total is None:
        raise BpttError("`batch` has no loss position: there is no gradient to compare.")
    return {name: g / count for name, g in total.items()}


def truncation_bias(
    model: Model,
    params: Params,
    batch: Batch,
    *,
    loss: str,
    sweep: Iterable[int] | None = None,
    threshold: float = 0.9,
    carries0: Any = None,
) -> TruncationBias:
    """cos(g_k, g) and ||g_k|| / ||g|| for every k of the sweep, and the recommended window.

    Args:
        model, params: the model and its parameters (evaluation mode).
        batch: the batch, T steps.
        loss: "xent" or "mse".
        sweep: window lengths 1 <= k <= T (None: ``default_sweep(T)``); T is always added.
        threshold: the cosine the recommended window must reach, in (0, 1].
        carries0: the state at the batch start (None: zeros).

    Returns:
        A TruncationBias.

    Raises:
        ValueError: a sweep value outside [1, T], or a threshold outside (0, 1].

    Example::

        bias = truncation_bias(model, params, batch, loss="mse", sweep=[5, 10, 50])
        bias.recommended_k
    """
    check_model(model)
    params = float64(params)
    T = batch.inputs.shape[0]
    ks = check_sweep(sweep, T)
    if not 0.0 < threshold <= 1.0:
        raise BpttError(f"`threshold` must be in (0, 1], got {threshold}.")
    full = batch_gradient(model, params, batch, loss=loss, carries0=carries0).grads
    full_vec = flat(full)
    full_norm = _norm(full_vec)
    cosine, ratio = np.empty(len(ks)), np.empty(len(ks))
    param_cosine = {name: np.empty(len(ks)) for name in params}
    for i, k in enumerate(ks):
        g = truncated_gradient(model, params, batch, k, loss=loss, carries0=carries0)
        cosine[i] = _cosine(flat(g), full_vec)
        ratio[i] = _norm(flat(g)) / full_norm if full_norm > 0 else math.nan
        for name in params:
            param_cosine[name][i] = _cosine(np.ravel(g[name]), np.ravel(full[name]))
    reached = cosine >= threshold
    # The last index from which every longer window reaches the threshold (k = T always does).
    failing = np.flatnonzero(~reached)
    start = int(failing[-1]) + 1 if failing.size else 0
    recommended = ks[min(start, len(ks) - 1)]
    return TruncationBias(np.array(ks), cosine, ratio, param_cosine, threshold, recommended)


def _cosine(a: Array, b: Array) -> float:
    """cos(a, b); 1 when both are zero (identical), 0 when only one is, NaN if not finite."""
    na, nb = _norm(a), _norm(b)
    with np.errstate(under="ignore"):  # products of tiny entries may underflow: harmless
        dot = float(a @ b)
    if not (math.isfinite(na) and math.isfinite(nb)):
        return math.nan
    if na == 0.0 or nb == 0.0:
        return 1.0 if na == nb else 0.0
    return dot / (na * nb)


def _norm(a: Array) -> float:
    """||a||_2; squares of tiny entries may underflow to zero, which is harmless here."""
    with np.errstate(under="ignore"):
        return float(np.linalg.norm(a))
