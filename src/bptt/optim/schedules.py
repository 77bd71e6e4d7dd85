"""Learning-rate schedules: pure functions from the update count (0, 1, ...) to a float.

Step t is the learning rate of the (t+1)-th update, which is what a torch.optim.lr_scheduler
holds after t calls to ``scheduler.step()``. Each schedule below equals its torch scheduler's
closed form (``_get_closed_form_lr``) in float64; torch's recursive ``get_lr`` agrees with it
up to rounding. Pass a schedule wherever an alias takes ``learning_rate``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from bptt.errors import BpttError
from bptt.optim.base import Schedule, check_nonnegative, check_positive

VALUE_HINT = "Pass the learning rate itself, e.g. 1e-3."


def _check_steps(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BpttError(
            f"`{name}` must be a positive integer number of updates, got {value!r}. "
            f"Pass e.g. {name}=1000."
        )
    return value


def constant_schedule(value: float) -> Schedule:
    """lr(t) = value: the schedule form of a fixed learning rate."""
    value = check_positive("value", value, VALUE_HINT)
    return lambda count: value


def step_decay_schedule(init_value: float, step_size: int, gamma: float = 0.1) -> Schedule:
    """Multiply by ``gamma`` every ``step_size`` updates, as torch's StepLR.

    ::

        lr(t) = init_value * gamma ** (t // step_size)

    Args:
        init_value: the initial learning rate (torch's optimizer ``lr``), > 0.
        step_size: updates between two decays, >= 1.
        gamma: the factor applied at each decay, > 0.
    """
    init_value = check_positive("init_value", init_value, VALUE_HINT)
    step_size = _check_steps("step_size", step_size)
    gamma = check_positive("gamma", gamma, "A decay factor such as 0.1 or 0.5.")
    return lambda count: init_value * gamma ** (count // step_size)


def cosine_decay_schedule(init_value: float, decay_steps: int, min_value: float = 0.0) -> Schedule:
    """Half a cosine from ``init_value`` to ``min_value`` over ``decay_steps``, then constant.

    ::

        lr(t) = min_value + (init_value - min_value) * (1 + cos(pi * min(t, T) / T)) / 2

    with T = decay_steps.

    For t <= T this is torch's CosineAnnealingLR(T_max=decay_steps, eta_min=min_value)
    (Loshchilov & Hutter 2017, SGDR, arXiv:1608.03983, without restarts). After T torch's
    schedule rises again along the cosine; here it stays at ``min_value``, as optax's
    cosine_decay_schedule does.

    Args:
        init_value: the peak learning rate, > 0.
        decay_steps: the number of updates T to reach ``min_value``, >= 1.
        min_value: the final learning rate, in [0, init_value].
    """
    init_value = check_positive("init_value", init_value, VALUE_HINT)
    decay_steps = _check_steps("decay_steps", decay_steps)
    min_value = check_nonnegative("min_value", min_value, "Use 0 to decay to zero.")
    if min_value > init_value:
        raise BpttError(
            f"`min_value` ({min_value}) is above `init_value` ({init_value}); a decay needs "
            "min_value <= init_value. Swap them, or use linear_schedule to increase the rate."
        )

    def schedule(count: int) -> float:
        progress = min(count, decay_steps)
        return (
            min_value
            + (init_value - min_value) * (1 + math.cos(math.pi * progress / decay_steps)) / 2
        )

    return schedule


def linear_schedule(init_value: float, end_value: float, transition_steps: int) -> Schedule:
    """Interpolate linearly from ``init_value`` to ``end_value``, then stay at ``end_value``.

    ::

        lr(t) = init_value + (end_value - init_value) * min(t, transition_steps) / transition_steps

    torch's LinearLR(start_factor, end_factor, total_iters) on a base rate lr is
    linear_schedule(lr * start_factor, lr * end_factor, total_iters).

    Args:
        init_value: the rate at t = 0, >= 0.
        end_value: the rate from t = transition_steps on, >= 0.
        transition_steps: the length of the ramp, >= 1.
    """
    init_value = check_nonnegative("init_value", init_value, VALUE_HINT)
    end_value = check_nonnegative("end_value", end_value, VALUE_HINT)
    transition_steps = _check_steps("transition_steps", transition_steps)
    return lambda count: (
        init_value + (end_value - init_value) * min(count, transition_steps) / transition_steps
    )


def join_schedules(schedules: Sequence[Schedule], boundaries: Sequence[int]) -> Schedule:
    """Run ``schedules[i]`` from ``boundaries[i-1]`` on, restarting its count at 0 there.

    As optax's join_schedules and torch's SequentialLR(schedulers, milestones=boundaries).

    Args:
        schedules: n schedules.
        boundaries: n - 1 strictly increasing positive update counts.
    """
    boundaries = list(boundaries)
    if len(schedules) != len(boundaries) + 1:
        raise BpttError(
            f"{len(schedules)} `schedules` need {len(schedules) - 1} `boundaries`, got "
            f"{len(boundaries)}. Give one boundary between each pair of schedules."
        )
    starts = [0, *(_check_steps("boundaries", b) for b in boundaries)]
    if any(a >= b for a, b in itertools.pairwise(starts)):
        raise BpttError(f"`boundaries` must be strictly increasing, got {boundaries}. Sort them.")

    def schedule(count: int) -> float:
        i = max(i for i, start in enumerate(starts) if start <= count)
        return schedules[i](count - starts[i])

    return schedule


def warmup_then(schedule: Schedule, warmup_steps: int, *, start_factor: float = 1 / 3) -> Schedule:
    """Ramp linearly from ``start_factor * schedule(0)`` to ``schedule(0)``, then run ``schedule``.

    ::

        lr(t) = schedule(0) * (start_factor + (1 - start_factor) * t / W)    for t < W
        lr(t) = schedule(t - W)                                               for t >= W

    with W = warmup_steps.

    torch: SequentialLR([LinearLR(start_factor, 1.0, warmup_steps), <schedule>],
    milestones=[warmup_steps]). Warm-up keeps Adam's early, poorly estimated steps small
    (Goyal et al. 2017, arXiv:1706.02677).

    Args:
        schedule: the schedule after warm-up, e.g. cosine_decay_schedule(1e-3, 10_000).
        warmup_steps: the number of warm-up updates, >= 1.
        start_factor: the first rate as a fraction of ``schedule(0)``, in (0, 1]; torch's default.
    """
    warmup_steps = _check_steps("warmup_steps", warmup_steps)
    start_factor = check_positive("start_factor", start_factor, "torch's LinearLR default is 1/3.")
    if start_factor > 1:
        raise BpttError(
            f"`start_factor` must be in (0, 1], got {start_factor}; warm-up increases the rate."
        )
    peak = schedule(0)
    return join_schedules(
        [linear_schedule(peak * start_factor, peak, warmup_steps), schedule], [warmup_steps]
    )
