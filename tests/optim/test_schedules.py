"""Schedules: values against torch.optim.lr_scheduler, and inside optimizers."""

import math

import numpy as np
import pytest

from bptt.optim import (
    adam,
    adamw,
    constant_schedule,
    cosine_decay_schedule,
    join_schedules,
    linear_schedule,
    momentum,
    step_decay_schedule,
    warmup_then,
)


def torch_lrs(torch, make_scheduler, base_lr, steps):
    """The learning rate a torch optimizer uses at each of ``steps`` updates."""
    param = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([param], lr=base_lr)
    scheduler = make_scheduler(torch, opt)
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    return lrs


def sequential(torch, opt, start_factor, warmup_steps, decay_steps, eta_min):
    warmup = torch.optim.lr_scheduler.LinearLR(opt, start_factor, total_iters=warmup_steps)
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(opt, decay_steps, eta_min)
    return torch.optim.lr_scheduler.SequentialLR(opt, [warmup, cosine], [warmup_steps])


SCHEDULER_CASES = {
    "StepLR": (
        step_decay_schedule(0.1, step_size=3, gamma=0.5),
        lambda t, opt: t.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5),
        20,
    ),
    "CosineAnnealingLR": (
        cosine_decay_schedule(0.1, decay_steps=10, min_value=1e-3),
        lambda t, opt: t.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10, eta_min=1e-3),
        11,
    ),
    "CosineAnnealingLR-to-zero": (
        cosine_decay_schedule(0.1, decay_steps=50),
        lambda t, opt: t.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=50),
        50,
    ),
    "LinearLR-warmup": (
        linear_schedule(0.1 * 0.25, 0.1, transition_steps=5),
        lambda t, opt: t.optim.lr_scheduler.LinearLR(opt, start_factor=0.25, total_iters=5),
        12,
    ),
    "LinearLR-decay": (
        linear_schedule(0.1, 0.1 * 0.1, transition_steps=8),
        lambda t, opt: t.optim.lr_scheduler.LinearLR(opt, 1.0, end_factor=0.1, total_iters=8),
        12,
    ),
    "SequentialLR-warmup-cosine": (
        warmup_then(cosine_decay_schedule(0.1, 20, 1e-3), warmup_steps=5, start_factor=0.1),
        lambda t, opt: sequential(t, opt, 0.1, 5, 20, 1e-3),
        26,
    ),
}


@pytest.mark.parametrize("case", SCHEDULER_CASES)
def test_matches_torch_lr_scheduler(case, torch):
    schedule, make_scheduler, steps = SCHEDULER_CASES[case]
    expected = torch_lrs(torch, make_scheduler, 0.1, steps)
    np.testing.assert_allclose(
        [schedule(t) for t in range(steps)], expected, rtol=1e-12, atol=1e-15
    )


def test_optimizers_with_schedules_match_torch(assert_matches_torch):
    assert_matches_torch(
        adam(step_decay_schedule(1e-2, step_size=3, gamma=0.5)),
        lambda t, ps: t.optim.Adam(ps, lr=1e-2, foreach=False),
        make_scheduler=lambda t, opt: t.optim.lr_scheduler.StepLR(opt, 3, gamma=0.5),
    )
    assert_matches_torch(
        momentum(cosine_decay_schedule(0.1, decay_steps=8, min_value=1e-2), nesterov=True),
        lambda t, ps: t.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
        make_scheduler=lambda t, opt: t.optim.lr_scheduler.CosineAnnealingLR(opt, 8, 1e-2),
    )
    # AdamW's decoupled decay is multiplied by the scheduled rate in both libraries.
    assert_matches_torch(
        adamw(warmup_then(cosine_decay_schedule(1e-2, 5), 3, start_factor=0.5), weight_decay=0.1),
        lambda t, ps: t.optim.AdamW(ps, lr=1e-2, weight_decay=0.1, foreach=False),
        make_scheduler=lambda t, opt: sequential(t, opt, 0.5, 3, 5, 0.0),
    )


def test_cosine_decay_stays_at_min_value_after_decay_steps():
    # torch's CosineAnnealingLR would climb back up here; we hold min_value, as optax does.
    schedule = cosine_decay_schedule(1.0, decay_steps=4, min_value=0.1)
    assert [schedule(t) for t in (4, 5, 100)] == [pytest.approx(0.1)] * 3
    assert schedule(2) == pytest.approx(0.55)


def test_constant_and_linear_hold_their_end_values():
    assert constant_schedule(0.3)(10**6) == 0.3
    ramp = linear_schedule(0.0, 1.0, transition_steps=4)
    assert [ramp(t) for t in range(6)] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]


def test_join_schedules_restarts_each_count_at_its_boundary():
    schedule = join_schedules(
        [constant_schedule(1.0), lambda t: float(t), step_decay_schedule(8.0, 1, 0.5)], [2, 5]
    )
    assert [schedule(t) for t in range(8)] == [1.0, 1.0, 0.0, 1.0, 2.0, 8.0, 4.0, 2.0]


def test_warmup_then_ramps_to_the_first_value_of_the_schedule():
    schedule = warmup_then(constant_schedule(2.0), warmup_steps=4, start_factor=0.5)
    assert [schedule(t) for t in range(6)] == [1.0, 1.25, 1.5, 1.75, 2.0, 2.0]


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: constant_schedule(0.0), r"`value` must be a positive finite number, got 0.0"),
        (lambda: step_decay_schedule(0.1, 0), r"`step_size` must be a positive integer .* got 0"),
        (lambda: step_decay_schedule(0.1, 2.5), r"`step_size` must be a positive integer"),
        (lambda: step_decay_schedule(0.1, 2, gamma=-1), r"`gamma` must be a positive finite"),
        (lambda: cosine_decay_schedule(math.inf, 10), r"`init_value` must be a positive finite"),
        (lambda: cosine_decay_schedule(0.1, 10, 0.2), r"`min_value` \(0.2\) is above `init_value`"),
        (lambda: linear_schedule(-1.0, 1.0, 5), r"`init_value` must be a non-negative finite"),
        (lambda: join_schedules([constant_schedule(1.0)], [3]), r"1 `schedules` need 0 `bound"),
        (
            lambda: join_schedules([constant_schedule(1.0)] * 3, [5, 5]),
            r"`boundaries` must be strictly increasing, got \[5, 5\]",
        ),
        (lambda: warmup_then(constant_schedule(1.0), 0), r"`warmup_steps` must be a positive int"),
        (
            lambda: warmup_then(constant_schedule(1.0), 3, start_factor=0.0),
            r"`start_factor` must be a positive finite number",
        ),
        (
            lambda: warmup_then(constant_schedule(1.0), 3, start_factor=2.0),
            r"`start_factor` must be in \(0, 1\], got 2.0",
        ),
    ],
)
def test_rejects_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()
