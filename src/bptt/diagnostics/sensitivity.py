"""How far back the last step's output reaches: the gradient and the input influence versus lag.

The probe is the last step's output alone: for each output unit o, one backward pass starts
from the upstream gradient e_o on y_last (the output at each sequence's last real step) and
zero everywhere else. The observer collects dy_last,o/dh_{last-l} for every layer, and the
input gradient dy_last,o/dx_{last-l}; summed over o they give the squared Frobenius norms of
the Jacobians

    J_h(l) = dy_last / dh_{last-l}   (O, H)        J_x(l) = dy_last / dx_{last-l}   (O, D)

per sequence, reported as the root mean square over the B sequences. This is exact (no random
probe) and independent of the targets and of how well the model fits them; it costs O backward
passes. For token inputs, x is the embedding output (T, B, E).

A reverse direction of a bidirectional layer reads the sequence backwards, so its lag is
counted in its own time from its own last step (the sequence's first step), probed by a
separate set of passes from the output at the first real step. Lags run over 0..L-1 with
L the shortest sequence's length, so that every lag has every sequence.

The decay is summarised by a per-step factor from a log-linear fit and by the memory horizon
(Bengio, Simard & Frasconi 1994, "Learning long-term dependencies with gradient descent is
difficult"; Pascanu, Mikolov & Bengio 2013, arXiv:1211.5063, Sec. 2).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from bptt.diagnostics._common import check_model, float64, float_twin, last_steps, measuring
from bptt.errors import BpttError
from bptt.model import Model
from bptt.types import Array, Params
from bptt.window import Batch


class Sensitivity(NamedTuple):
    """Raw lag curves of the last step's output.

    Attributes:
        hidden: per layer-direction name, (L,) RMS over sequences of ||dy_last/dh_{last-l}||_F.
        inputs: (L,) RMS over sequences of ||dy_last/dx_{last-l}||_F.
    """

    hidden: dict[str, Array]
    inputs: Array


class LagProfile(NamedTuple):
    """The decay of the gradient with the lag, for one layer-direction.

    Attributes:
        norms: (L,) ||dy_last/dh_{last-l}|| for l = 0..L-1.
        ratios: (L,) norms / norms[0]; NaN when norms[0] is 0 or not finite.
        decay_factor: gamma of the fit ratios[l] ~ a * gamma**l (least squares on log ratios
            over the lags with a positive, finite ratio); < 1 vanishes, > 1 explodes; NaN with
            fewer than two such lags.
        horizon: the memory horizon, the largest lag l such that ratios[j] >= epsilon for
            every j <= l (the last lag before the curve first drops below epsilon).
        reaches_start: True when the curve never drops below epsilon: the horizon is then
            only a lower bound, limited by the sequence length.
        epsilon: the threshold of the horizon.
    """

    norms: Array
    ratios: Array
    decay_factor: float
    horizon: int
    reaches_start: bool
    epsilon: float


class InputInfluence(NamedTuple):
    """How much the last output depends on each earlier input.

    Attributes:
        norms: (L,) ||dy_last/dx_{last-l}|| for l = 0..L-1.
        recent_steps: the number of most recent steps counted as recent, ceil(fraction * L).
        recent_share: sum of norms over the recent steps / sum over all lags (the recency
            bias: 1 means the output only sees the recent inputs); NaN when the sum is 0.
    """

    norms: Array
    recent_steps: int
    recent_share: float


def last_step_sensitivity(
    model: Model, params: Params, batch: Batch, *, carries0: Any = None
) -> Sensitivity:
    """The Frobenius norms of dy_last/dh_{last-l} per layer and of dy_last/dx_{last-l}.

    Args:
        model, params: the model and its parameters (evaluation mode, no dropout).
        batch: only its inputs, mask and resets are used; the targets play no part.
        carries0: the state at the batch start (None: zeros).

    Returns:
        A Sensitivity with curves of length L, the shortest sequence's number of steps.
        A reset cuts the gradient, so lags beyond one read zero.

    Example::

        sens = last_step_sensitivity(model, params, batch)
        lag_profile(sens.hidden["layers.0"]).horizon
    """
    check_model(model)
    params = float64(params)
    names = model.layer_prefixes()
    directions = model.config.directions
    twin, twin_params, xs = float_twin(model, params, batch.inputs)
    last = last_steps(batch)  # (B,)
    B = last.shape[0]
    columns = np.arange(B)
    with measuring():
        outputs, _, cache = twin.forward(
            twin_params,
            xs,
            mask=batch.mask,
            resets=batch.resets,
            carries0=carries0,
            check_finite=False,  # a non-finite model is measured, and reported as such
        )
        T, _, n_out = outputs.shape
        hidden_sq = np.zeros((len(names), T, B))  # summed over output units and H
        input_sq = np.zeros((T, B))
        for d in range(directions):
            # The forward direction is probed at the last step, a reverse one at the step
            # its own time ends on (the first real step).
            probe = last if d == 0 else cache.reverse_index[last, columns]

            def record(k: int, t: int, dcarry: Any, d: int = d) -> None:
                if k % directions == d:
                    hidden_sq[k, t] += np.sum(np.square(dcarry.h, dtype=np.float64), axis=-1)

            for o in range(n_out):
                doutputs = np.zeros_like(outputs)
                doutputs[probe, columns, o] = 1.0
                dxs = twin.backward(twin_params, cache, doutputs, observer=record)[1]
                if d == 0:
                    input_sq += np.sum(np.square(dxs, dtype=np.float64), axis=-1)
        L = int(last.min()) + 1
        lag_index = last[None, :] - np.arange(L)[:, None]  # (L, B): step of lag l
        hidden = {
            name: np.sqrt(np.mean(hidden_sq[k][lag_index, columns], axis=1))
            for k, name in enumerate(names)
        }
        inputs = np.sqrt(np.mean(input_sq[lag_index, columns], axis=1))
    return Sensitivity(hidden, inputs)


def lag_profile(norms: Array, *, epsilon: float = 1e-3) -> LagProfile:
    """Decay factor and memory horizon of a gradient-versus-lag curve.

    Args:
        norms: (L,) gradient norms at lags 0..L-1.
        epsilon: the horizon's threshold, relative to the lag-0 norm.

    Returns:
        A LagProfile (see its attributes for the definitions).

    Example::

        >>> p = lag_profile(0.5 ** np.arange(20))
        >>> round(p.decay_factor, 6), p.horizon
        (0.5, 9)
    """
    if not 0.0 < epsilon < 1.0:
        raise BpttError(f"`epsilon` must be in (0, 1), got {epsilon}.")
    norms = np.asarray(norms, dtype=np.float64)
    L = norms.shape[0]
    if L == 0 or not (np.isfinite(norms[0]) and norms[0] > 0):
        return LagProfile(norms, np.full(L, np.nan), math.nan, 0, False, epsilon)
    # A vanishing curve may hold values far below norms[0]; their ratio may underflow to 0,
    # which still reads "below epsilon".
    with np.errstate(under="ignore"):
        ratios = norms / norms[0]
    below = ~(ratios >= epsilon)  # NaN counts as below
    reaches_start = not below.any()
    horizon = L - 1 if reaches_start else int(np.argmax(below)) - 1
    usable = np.isfinite(ratios) & (ratios > 0)
    decay = math.nan
    if usable.sum() >= 2:
        lags = np.flatnonzero(usable).astype(np.float64)
        slope = np.polyfit(lags, np.log(ratios[usable]), 1)[0]
        decay = math.exp(slope) if slope < 700 else math.inf
    return LagProfile(norms, ratios, decay, horizon, reaches_start, epsilon)


def input_influence(norms: Array, *, recent_fraction: float = 0.1) -> InputInfluence:
    """The recency bias of an input-influence curve.

    Args:
        norms: (L,) ||dy_last/dx_{last-l}|| at lags 0..L-1.
        recent_fraction: the share of the L steps counted as recent.

    Returns:
        An InputInfluence.
    """
    if not 0.0 < recent_fraction <= 1.0:
        raise BpttError(f"`recent_fraction` must be in (0, 1], got {recent_fraction}.")
    norms = np.asarray(norms, dtype=np.float64)
    recent = max(1, math.ceil(recent_fraction * norms.shape[0]))
    total = float(norms.sum())
    share = float(norms[:recent].sum()) / total if math.isfinite(total) and total > 0 else math.nan
    return InputInfluence(norms, recent, share)
