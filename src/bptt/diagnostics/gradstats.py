"""Gradient-norm statistics over several batches, before clipping, and update-to-parameter ratios.

The clipping threshold follows Pascanu, Mikolov & Bengio 2013 (arXiv:1211.5063, Sec. 3.2),
who found global-norm clipping insensitive to the threshold and advise a value between half
and ten times the average norm over a sufficiently large number of updates. Here it is
``clip_factor`` (2) times the median norm: the median is not moved by the spikes the threshold
is meant to cut, and twice it leaves typical updates untouched while bounding any spike
above the spike level (3 x median) to at most 2/3 of its size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from bptt.errors import BpttError
from bptt.optim import global_norm
from bptt.types import Array, Params

PERCENTILES = (5, 25, 50, 75, 95)


class NormStats(NamedTuple):
    """Pre-clipping gradient norms over N batches.

    Attributes:
        norms: (N,) global norm sqrt(sum_k ||g_k||^2) of each batch's gradient.
        param_norms: per parameter name, (N,) ||g_k|| of that array.
        percentiles: {"p5": ..., "p25": ..., "p50": ..., "p75": ..., "p95": ..., "max": ...}
            of the finite norms.
        mean: mean of the finite norms.
        spikes: indices of the batches whose norm exceeds spike_factor x the median.
        spike_factor: the spike level, in medians.
        nonfinite: indices of the batches whose gradient is NaN or Inf.
        clip_threshold: the recommended global-norm clipping threshold, clip_factor x median
            (NaN without any finite norm).
        clip_factor: the threshold, in medians.
    """

    norms: Array
    param_norms: dict[str, Array]
    percentiles: dict[str, float]
    mean: float
    spikes: np.ndarray
    spike_factor: float
    nonfinite: np.ndarray
    clip_threshold: float
    clip_factor: float


def gradient_norm_stats(
    grads: Sequence[Params], *, spike_factor: float = 3.0, clip_factor: float = 2.0
) -> NormStats:
    """Percentiles, spikes and a clipping threshold of the global gradient norm.

    Args:
        grads: one gradient mapping per batch (N >= 1), before any clipping.
        spike_factor: a batch whose norm exceeds this many medians is a spike.
        clip_factor: the recommended threshold, in medians.

    Returns:
        A NormStats.

    Example::

        grads = [batch_gradient(model, params, b, loss="mse").grads for b in batches]
        gradient_norm_stats(grads).clip_threshold
    """
    if len(grads) == 0:
        raise BpttError("`grads` is empty; pass the gradient of at least one batch.")
    # Squares of tiny entries may underflow to 0 (harmless for a norm), and an Inf or NaN
    # gradient is a finding, reported below, not an error.
    with np.errstate(under="ignore", over="ignore", invalid="ignore"):
        param_norms = {
            name: np.array(
                [math.sqrt(float(np.sum(np.square(g[name], dtype=np.float64)))) for g in grads]
            )
            for name in grads[0]
        }
        norms = np.array([global_norm(g) for g in grads])
    finite = np.isfinite(norms)
    ok = norms[finite]
    if ok.size:
        values = np.percentile(ok, PERCENTILES)
        percentiles = {f"p{q}": float(v) for q, v in zip(PERCENTILES, values, strict=True)}
        percentiles["max"] = float(ok.max())
        median, mean = percentiles["p50"], float(ok.mean())
    else:
        percentiles = {f"p{q}": math.nan for q in PERCENTILES} | {"max": math.nan}
        median = mean = math.nan
    spikes = np.flatnonzero(finite & (norms > spike_factor * median)) if ok.size else np.array([])
    return NormStats(
        norms,
        param_norms,
        percentiles,
        mean,
        spikes.astype(int),
        spike_factor,
        np.flatnonzero(~finite),
        clip_factor * median,
        clip_factor,
    )


def update_ratios(updates: Params, params: Params) -> dict[str, float]:
    """log10(std(update) / std(param)) per parameter, the ratio Karpathy's makemore plots.

    Around -3 an update moves a parameter by a thousandth of its spread; much higher means
    the learning rate is too large for that array, much lower that it barely learns.

    Args:
        updates: the update of one step (what ``apply_updates`` adds), keyed like ``params``.
        params: the parameters before the update.

    Returns:
        Per parameter name, the log10 ratio; NaN where either standard deviation is 0 (a
        constant array, e.g. a bias initialised to zero, or a zero update) or not finite.
    """
    missing = sorted(set(params) - set(updates))
    if missing:
        raise BpttError(f"`updates` lacks {missing}; pass one update per parameter.")
    result = {}
    for name, p in params.items():
        # Underflow in the squares is harmless; Inf in gives NaN out, reported as such.
        with np.errstate(under="ignore", over="ignore", invalid="ignore"):
            su = float(np.std(updates[name], dtype=np.float64))
            sp = float(np.std(p, dtype=np.float64))
        usable = su > 0 and sp > 0 and math.isfinite(su) and math.isfinite(sp)
        result[name] = math.log10(su / sp) if usable else math.nan
    return result
