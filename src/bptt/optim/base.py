"""The optimizer interface, after optax: a GradientTransformation is an (init, update) pair.

A transformation turns gradients into updates and threads its own state explicitly::

    opt = adam(1e-3)
    state = opt.init(params)
    updates, state = opt.update(grads, state, params)
    params = apply_updates(params, updates)

Parameters, gradients and updates are ``Params``: dicts from names to arrays, all with the
same keys. Every function here is pure: inputs are never mutated, and states are NamedTuples.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import NamedTuple, Protocol

from bptt.errors import BpttError, BpttTypeError
from bptt.types import Params

OptState = tuple
"""A transformation's state: a NamedTuple of counters and Params, or a tuple of those (chain)."""

Schedule = Callable[[int], float]
"""A learning-rate schedule: the number of updates already applied (0, 1, ...) -> a float."""

ScalarOrSchedule = float | Schedule
"""A fixed learning rate or a schedule."""

NO_PARAMS_MSG = (
    "`params` is None, but this transformation needs the current parameters. "
    "Call `update(grads, state, params)` with the params being optimized."
)


class TransformInitFn(Protocol):
    def __call__(self, params: Params) -> OptState:
        """Build the initial state for ``params``."""
        ...


class TransformUpdateFn(Protocol):
    def __call__(
        self, updates: Params, state: OptState, params: Params | None = None
    ) -> tuple[Params, OptState]:
        """Transform ``updates`` (the gradients, at the start of a chain) and the state."""
        ...


class GradientTransformation(NamedTuple):
    """A pair of pure functions: ``init(params) -> state`` and ``update(grads, state, params)``."""

    init: TransformInitFn
    update: TransformUpdateFn


class EmptyState(NamedTuple):
    """The state of a stateless transformation."""


def apply_updates(params: Params, updates: Params) -> Params:
    """Return a new dict ``{k: params[k] + updates[k]}``, keeping each parameter's dtype.

    Args:
        params: the current parameters.
        updates: the output of ``update``, with the same keys.

    Returns:
        New arrays; ``params`` and ``updates`` are not modified.
    """
    if params.keys() != updates.keys():
        raise BpttError(
            f"`updates` has keys {sorted(updates)} but `params` has keys {sorted(params)}. "
            "Pass the updates computed from gradients of these same params."
        )
    return {k: (p + updates[k]).astype(p.dtype, copy=False) for k, p in params.items()}


def _as_float(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise BpttTypeError(
            f"`{name}` must be a real number, got {value!r} ({type(value).__name__})."
        )
    return float(value)


def check_positive(name: str, value: float, hint: str) -> float:
    """Return ``value`` as a float; raise ValueError unless it is finite and > 0."""
    value = _as_float(name, value)
    if not (math.isfinite(value) and value > 0):
        raise BpttError(f"`{name}` must be a positive finite number, got {value}. {hint}")
    return value


def check_nonnegative(name: str, value: float, hint: str) -> float:
    """Return ``value`` as a float; raise ValueError unless it is finite and >= 0."""
    value = _as_float(name, value)
    if not (math.isfinite(value) and value >= 0):
        raise BpttError(f"`{name}` must be a non-negative finite number, got {value}. {hint}")
    return value


def check_decay(name: str, value: float) -> float:
    """Return an exponential decay rate as a float; raise ValueError unless it is in [0, 1)."""
    value = _as_float(name, value)
    if not 0 <= value < 1:
        raise BpttError(
            f"`{name}` is a decay rate and must be in [0, 1), got {value}. "
            "Typical values are 0.9 to 0.999."
        )
    return value


def check_learning_rate(learning_rate: ScalarOrSchedule) -> ScalarOrSchedule:
    """Return a schedule unchanged, or a fixed rate as a float after checking it is > 0."""
    if callable(learning_rate):
        return learning_rate
    return check_positive(
        "learning_rate",
        learning_rate,
        "Pass e.g. learning_rate=1e-3, or a schedule such as cosine_decay_schedule(1e-3, 1000).",
    )
