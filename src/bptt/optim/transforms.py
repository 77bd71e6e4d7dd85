"""Small gradient transformations that ``chain`` composes into optimizers.

Each function returns a GradientTransformation whose ``update`` maps a Params dict of
gradients (or of the previous link's updates) to a dict with the same keys and dtypes.
Scalars stay Python floats, so float32 arrays are never promoted to float64.
The formulas follow torch.optim where torch and optax differ (see each docstring), so that
every alias matches its torch.optim counterpart to rounding error.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from bptt.errors import BpttError
from bptt.optim.base import (
    NO_PARAMS_MSG,
    EmptyState,
    GradientTransformation,
    ScalarOrSchedule,
    Schedule,
    check_decay,
    check_learning_rate,
    check_nonnegative,
    check_positive,
)
from bptt.types import Params

EPS_HINT = "It only guards against division by zero; typical values are 1e-10 to 1e-8."

CLIP_NORM_EPS = 1e-6
"""Added to the global norm before dividing, exactly as torch.nn.utils.clip_grad_norm_ does."""


class ScaleByScheduleState(NamedTuple):
    count: int  # updates applied so far


class ScaleByAdamState(NamedTuple):
    count: int  # updates applied so far
    mu: Params  # first-moment estimate
    nu: Params  # second-moment estimate


class ScaleByRmsState(NamedTuple):
    nu: Params  # running mean of squared gradients


class ScaleByStddevState(NamedTuple):
    mu: Params  # running mean of gradients
    nu: Params  # running mean of squared gradients


class ScaleByRssState(NamedTuple):
    sum_of_squares: Params  # accumulated squared gradients


class TraceState(NamedTuple):
    trace: Params  # momentum buffer


def _zeros(params: Params) -> Params:
    return {k: np.zeros_like(p) for k, p in params.items()}


def scale(step_size: float) -> GradientTransformation:
    """Multiply every update by a constant: u = step_size * g.

    Args:
        step_size: the factor; negative values turn gradients into descent directions.
    """
    step_size = float(step_size)

    def init(params: Params) -> EmptyState:
        return EmptyState()

    def update(updates: Params, state: EmptyState, params: Params | None = None):
        return {k: step_size * g for k, g in updates.items()}, state

    return GradientTransformation(init, update)


def scale_by_schedule(step_size_fn: Schedule) -> GradientTransformation:
    """Multiply the updates by ``step_size_fn(count)``, where count = updates applied so far.

    The first update uses ``step_size_fn(0)``, as a torch.optim.lr_scheduler does before its
    first ``step()``.

    Args:
        step_size_fn: a schedule, e.g. from bptt.optim.schedules.
    """

    def init(params: Params) -> ScaleByScheduleState:
        return ScaleByScheduleState(count=0)

    def update(updates: Params, state: ScaleByScheduleState, params: Params | None = None):
        step_size = float(step_size_fn(state.count))
        return {k: step_size * g for k, g in updates.items()}, ScaleByScheduleState(
            count=state.count + 1
        )

    return GradientTransformation(init, update)


def scale_by_learning_rate(
    learning_rate: ScalarOrSchedule, *, flip_sign: bool = True
) -> GradientTransformation:
    """Scale by -learning_rate (a float or a schedule), turning gradients into descent steps.

    Args:
        learning_rate: a positive float, or a schedule (step count -> float).
        flip_sign: negate the rate, so that ``apply_updates`` descends. Default True.

    Raises:
        ValueError: if a float ``learning_rate`` is not positive and finite.
    """
    learning_rate = check_learning_rate(learning_rate)
    sign = -1.0 if flip_sign else 1.0
    if callable(learning_rate):
        return scale_by_schedule(lambda count: sign * learning_rate(count))
    return scale(sign * learning_rate)


def scale_by_adam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> GradientTransformation:
    """Rescale by Adam's bias-corrected moment estimates (Kingma & Ba 2015, arXiv:1412.6980).

    With t the 1-based update count::

        m_t = b1 m_{t-1} + (1 - b1) g_t          v_t = b2 v_{t-1} + (1 - b2) g_t^2
        u_t = (m_t / (1 - b1^t)) / (sqrt(v_t) / sqrt(1 - b2^t) + eps)

    eps is added outside the square root, as in the paper, torch.optim.Adam and optax.

    Args:
        b1: decay rate of the first moment, in [0, 1).
        b2: decay rate of the second moment, in [0, 1).
        eps: positive term added to the denominator.
    """
    b1, b2 = check_decay("b1", b1), check_decay("b2", b2)
    eps = check_positive("eps", eps, EPS_HINT)

    def init(params: Params) -> ScaleByAdamState:
        return ScaleByAdamState(count=0, mu=_zeros(params), nu=_zeros(params))

    def update(updates: Params, state: ScaleByAdamState, params: Params | None = None):
        count = state.count + 1
        mu = {k: b1 * state.mu[k] + (1 - b1) * g for k, g in updates.items()}
        nu = {k: b2 * state.nu[k] + (1 - b2) * g * g for k, g in updates.items()}
        c1, sqrt_c2 = 1 - b1**count, math.sqrt(1 - b2**count)
        out = {k: (mu[k] / c1) / (np.sqrt(nu[k]) / sqrt_c2 + eps) for k in updates}
        return out, ScaleByAdamState(count=count, mu=mu, nu=nu)

    return GradientTransformation(init, update)


def scale_by_rms(decay: float = 0.99, eps: float = 1e-8) -> GradientTransformation:
    """Divide by the root of a running mean of squared gradients (Tieleman & Hinton 2012).

    ::

        v_t = decay v_{t-1} + (1 - decay) g_t^2      u_t = g_t / (sqrt(v_t) + eps),  v_0 = 0

    eps is added outside the square root, as torch.optim.RMSprop does; optax's default adds it
    inside (1 / sqrt(v_t + eps)). Lecture 6.5 of Tieleman & Hinton's Coursera course.

    Args:
        decay: decay rate of the running mean (torch's ``alpha``), in [0, 1).
        eps: positive term added to the denominator.
    """
    decay = check_decay("decay", decay)
    eps = check_positive("eps", eps, EPS_HINT)

    def init(params: Params) -> ScaleByRmsState:
        return ScaleByRmsState(nu=_zeros(params))

    def update(updates: Params, state: ScaleByRmsState, params: Params | None = None):
        nu = {k: decay * state.nu[k] + (1 - decay) * g * g for k, g in updates.items()}
        out = {k: g / (np.sqrt(nu[k]) + eps) for k, g in updates.items()}
        return out, ScaleByRmsState(nu=nu)

    return GradientTransformation(init, update)


def scale_by_stddev(decay: float = 0.99, eps: float = 1e-8) -> GradientTransformation:
    """Centered RMSprop: divide by a running estimate of the gradient's standard deviation.

    ::

        m_t = decay m_{t-1} + (1 - decay) g_t        v_t = decay v_{t-1} + (1 - decay) g_t^2
        u_t = g_t / (sqrt(max(v_t - m_t^2, 0)) + eps)

    As torch.optim.RMSprop(centered=True), with eps outside the root (Graves 2013,
    arXiv:1308.0850, eq. 38-45). The max(., 0) only removes negative rounding error, where
    torch would return NaN.

    Args:
        decay: decay rate of both running means (torch's ``alpha``), in [0, 1).
        eps: positive term added to the denominator.
    """
    decay = check_decay("decay", decay)
    eps = check_positive("eps", eps, EPS_HINT)

    def init(params: Params) -> ScaleByStddevState:
        return ScaleByStddevState(mu=_zeros(params), nu=_zeros(params))

    def update(updates: Params, state: ScaleByStddevState, params: Params | None = None):
        mu = {k: decay * state.mu[k] + (1 - decay) * g for k, g in updates.items()}
        nu = {k: decay * state.nu[k] + (1 - decay) * g * g for k, g in updates.items()}
        std = {k: np.sqrt(np.maximum(nu[k] - mu[k] * mu[k], 0.0)) for k in updates}
        out = {k: g / (std[k] + eps) for k, g in updates.items()}
        return out, ScaleByStddevState(mu=mu, nu=nu)

    return GradientTransformation(init, update)


def scale_by_rss(
    initial_accumulator_value: float = 0.0, eps: float = 1e-10
) -> GradientTransformation:
    """Adagrad: divide by the root of the sum of all squared gradients (Duchi et al. 2011).

    ::

        s_t = s_{t-1} + g_t^2,  s_0 = initial_accumulator_value      u_t = g_t / (sqrt(s_t) + eps)

    As torch.optim.Adagrad (with lr_decay=0): eps outside the root. optax instead uses
    g / sqrt(s_t + eps). Duchi, Hazan & Singer, JMLR 12 (2011).

    Args:
        initial_accumulator_value: the starting value of every sum, >= 0.
        eps: positive term added to the denominator.
    """
    initial = check_nonnegative(
        "initial_accumulator_value", initial_accumulator_value, "torch's default is 0."
    )
    eps = check_positive("eps", eps, EPS_HINT)

    def init(params: Params) -> ScaleByRssState:
        return ScaleByRssState(
            sum_of_squares={k: np.full_like(p, initial) for k, p in params.items()}
        )

    def update(updates: Params, state: ScaleByRssState, params: Params | None = None):
        sums = {k: state.sum_of_squares[k] + g * g for k, g in updates.items()}
        out = {k: g / (np.sqrt(sums[k]) + eps) for k, g in updates.items()}
        return out, ScaleByRssState(sum_of_squares=sums)

    return GradientTransformation(init, update)


def trace(decay: float = 0.9, *, nesterov: bool = False) -> GradientTransformation:
    """Heavy-ball momentum, or Nesterov's accelerated gradient (Sutskever et al. 2013).

    ::

        b_t = decay b_{t-1} + g_t,  b_0 = 0      u_t = b_t  (or g_t + decay b_t if nesterov)

    This is torch.optim.SGD's buffer with dampening=0 (torch starts it at b_1 = g_1, which is
    the same) and its Nesterov form. Sutskever, Martens, Dahl & Hinton, ICML 2013; Nesterov 1983.

    Args:
        decay: the momentum coefficient, in [0, 1).
        nesterov: use the Nesterov update.
    """
    decay = check_decay("decay", decay)

    def init(params: Params) -> TraceState:
        return TraceState(trace=_zeros(params))

    def update(updates: Params, state: TraceState, params: Params | None = None):
        buf = {k: decay * state.trace[k] + g for k, g in updates.items()}
        out = {k: g + decay * buf[k] for k, g in updates.items()} if nesterov else buf
        return out, TraceState(trace=buf)

    return GradientTransformation(init, update)


def add_decayed_weights(weight_decay: float = 0.0) -> GradientTransformation:
    """Add ``weight_decay * params`` to the updates: u = g + weight_decay * p.

    Placed after an adaptive scaling and before the learning rate, this is the decoupled
    weight decay of AdamW (Loshchilov & Hutter 2019, arXiv:1711.05101).

    Args:
        weight_decay: the coefficient, >= 0.

    Raises:
        ValueError: from ``update`` if ``params`` is None.
    """
    weight_decay = check_nonnegative(
        "weight_decay", weight_decay, "Typical values are 1e-4 to 1e-1."
    )

    def init(params: Params) -> EmptyState:
        return EmptyState()

    def update(updates: Params, state: EmptyState, params: Params | None = None):
        if params is None:
            raise BpttError(NO_PARAMS_MSG)
        return {k: g + weight_decay * params[k] for k, g in updates.items()}, state

    return GradientTransformation(init, update)


def global_norm(updates: Params) -> float:
    """The L2 norm of all arrays together, sqrt(sum_k ||g_k||^2), accumulated in float64."""
    return math.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in updates.values()))


def clip_by_global_norm(max_norm: float) -> GradientTransformation:
    """Scale all updates together so their global norm is at most about ``max_norm``.

    ::

        u_k = g_k * min(1, max_norm / (||g|| + 1e-6)),    ||g|| = global_norm(g)

    Every array gets the same factor, so the direction is unchanged (Pascanu, Mikolov & Bengio
    2013, arXiv:1211.5063). The 1e-6 reproduces torch.nn.utils.clip_grad_norm_ exactly, so the
    clipped norm is max_norm * ||g|| / (||g|| + 1e-6), a hair below max_norm; optax divides by
    ||g|| alone.

    Args:
        max_norm: the largest allowed global norm, >= 0.
    """
    max_norm = check_nonnegative("max_norm", max_norm, "Typical values are 1 to 5.")

    def init(params: Params) -> EmptyState:
        return EmptyState()

    def update(updates: Params, state: EmptyState, params: Params | None = None):
        factor = min(1.0, max_norm / (global_norm(updates) + CLIP_NORM_EPS))
        return {k: factor * g for k, g in updates.items()}, state

    return GradientTransformation(init, update)


def clip(max_delta: float) -> GradientTransformation:
    """Clip every entry to [-max_delta, max_delta]; unlike clip_by_global_norm, this turns the step.

    min-char-rnn's ``np.clip(dparam, -5, 5)``. Never a default: prefer clip_by_global_norm.

    Args:
        max_delta: the largest allowed absolute value of an entry, >= 0.
    """
    max_delta = check_nonnegative("max_delta", max_delta, "min-char-rnn uses 5.")

    def init(params: Params) -> EmptyState:
        return EmptyState()

    def update(updates: Params, state: EmptyState, params: Params | None = None):
        return {k: np.clip(g, -max_delta, max_delta) for k, g in updates.items()}, state

    return GradientTransformation(init, update)
