"""Optimizers as composable (init, update) pairs of pure functions, after optax.

    opt = with_clipping(adam(1e-3), max_norm=1.0)   # = chain(clip_by_global_norm(1.0), adam(1e-3))
    state = opt.init(params)
    updates, state = opt.update(grads, state, params)
    params = apply_updates(params, updates)

Each alias matches its torch.optim optimizer, and each schedule its torch.optim.lr_scheduler.
"""

from bptt.optim.aliases import (
    OPTIMIZERS,
    adagrad,
    adam,
    adamw,
    make_optimizer,
    momentum,
    rmsprop,
    sgd,
)
from bptt.optim.base import (
    NO_PARAMS_MSG,
    EmptyState,
    GradientTransformation,
    OptState,
    ScalarOrSchedule,
    Schedule,
    TransformInitFn,
    TransformUpdateFn,
    apply_updates,
)
from bptt.optim.combine import chain, with_clipping
from bptt.optim.schedules import (
    constant_schedule,
    cosine_decay_schedule,
    join_schedules,
    linear_schedule,
    step_decay_schedule,
    warmup_then,
)
from bptt.optim.transforms import (
    ScaleByAdamState,
    ScaleByRmsState,
    ScaleByRssState,
    ScaleByScheduleState,
    ScaleByStddevState,
    TraceState,
    add_decayed_weights,
    clip,
    clip_by_global_norm,
    global_norm,
    scale,
    scale_by_adam,
    scale_by_learning_rate,
    scale_by_rms,
    scale_by_rss,
    scale_by_schedule,
    scale_by_stddev,
    trace,
)

__all__ = [
    "NO_PARAMS_MSG",
    "OPTIMIZERS",
    "EmptyState",
    "GradientTransformation",
    "OptState",
    "ScalarOrSchedule",
    "ScaleByAdamState",
    "ScaleByRmsState",
    "ScaleByRssState",
    "ScaleByScheduleState",
    "ScaleByStddevState",
    "Schedule",
    "TraceState",
    "TransformInitFn",
    "TransformUpdateFn",
    "adagrad",
    "adam",
    "adamw",
    "add_decayed_weights",
    "apply_updates",
    "chain",
    "clip",
    "clip_by_global_norm",
    "constant_schedule",
    "cosine_decay_schedule",
    "global_norm",
    "join_schedules",
    "linear_schedule",
    "make_optimizer",
    "momentum",
    "rmsprop",
    "scale",
    "scale_by_adam",
    "scale_by_learning_rate",
    "scale_by_rms",
    "scale_by_rss",
    "scale_by_schedule",
    "scale_by_stddev",
    "sgd",
    "step_decay_schedule",
    "trace",
    "warmup_then",
    "with_clipping",
]
