"""Ready-made optimizers, each a ``chain`` of transforms equal to its torch.optim namesake.

Every alias takes ``learning_rate`` as a positive float or a schedule (update count -> float),
and matches torch.optim (SGD, SGD with momentum or nesterov, Adam, AdamW, RMSprop, Adagrad)
with the same hyperparameters to rounding error in float64. Defaults are torch's.

Example::

    opt = with_clipping(adam(1e-3), max_norm=1.0)
    state = opt.init(params)
    updates, state = opt.update(grads, state, params)
    params = apply_updates(params, updates)
"""

from __future__ import annotations

from typing import Any

from bptt.errors import BpttError
from bptt.optim.base import GradientTransformation, ScalarOrSchedule, check_decay
from bptt.optim.combine import chain
from bptt.optim.transforms import (
    add_decayed_weights,
    scale_by_adam,
    scale_by_learning_rate,
    scale_by_rms,
    scale_by_rss,
    scale_by_stddev,
    trace,
)


def sgd(learning_rate: ScalarOrSchedule) -> GradientTransformation:
    """Plain stochastic gradient descent: p <- p - lr * g (torch.optim.SGD).

    Args:
        learning_rate: a positive float or a schedule.
    """
    return scale_by_learning_rate(learning_rate)


def momentum(
    learning_rate: ScalarOrSchedule, beta: float = 0.9, *, nesterov: bool = False
) -> GradientTransformation:
    """SGD with heavy-ball or Nesterov momentum (Sutskever et al. 2013; Nesterov 1983).

    ::

        b_t = beta b_{t-1} + g_t        p <- p - lr * b_t   (nesterov: p <- p - lr (g_t + beta b_t))

    torch.optim.SGD(lr, momentum=beta, nesterov=nesterov) with dampening=0.

    Args:
        learning_rate: a positive float or a schedule.
        beta: the momentum coefficient, in [0, 1).
        nesterov: use Nesterov's accelerated gradient.
    """
    beta = check_decay("beta", beta)  # checked here so that the message names `beta`
    return chain(trace(beta, nesterov=nesterov), scale_by_learning_rate(learning_rate))


def adam(
    learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8
) -> GradientTransformation:
    """Adam (Kingma & Ba 2015, arXiv:1412.6980): scale_by_adam, then -learning_rate.

    ::

        p <- p - lr * (m_t / (1 - b1^t)) / (sqrt(v_t) / sqrt(1 - b2^t) + eps)

    torch.optim.Adam(lr, betas=(b1, b2), eps=eps) with weight_decay=0 and amsgrad=False.

    Args:
        learning_rate: a positive float or a schedule.
        b1: decay rate of the first moment, in [0, 1).
        b2: decay rate of the second moment, in [0, 1).
        eps: positive term added to the denominator, outside the square root.
    """
    return chain(scale_by_adam(b1, b2, eps), scale_by_learning_rate(learning_rate))


def adamw(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
) -> GradientTransformation:
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019, arXiv:1711.05101).

    ::

        p <- p - lr * (adam_t + weight_decay * p)

    which equals torch.optim.AdamW's p <- p (1 - lr * weight_decay), then the Adam step. The
    decay is scaled by the learning rate (and its schedule), as in torch and optax.

    Args:
        learning_rate: a positive float or a schedule.
        b1: decay rate of the first moment, in [0, 1).
        b2: decay rate of the second moment, in [0, 1).
        eps: positive term added to the denominator, outside the square root.
        weight_decay: the decoupled decay coefficient, >= 0 (torch's default 1e-2).
    """
    return chain(
        scale_by_adam(b1, b2, eps),
        add_decayed_weights(weight_decay),
        scale_by_learning_rate(learning_rate),
    )


def rmsprop(
    learning_rate: ScalarOrSchedule,
    decay: float = 0.99,
    eps: float = 1e-8,
    *,
    momentum: float = 0.0,
    centered: bool = False,
) -> GradientTransformation:
    """RMSprop (Tieleman & Hinton 2012), optionally centered (Graves 2013) and with momentum.

    ::

        v_t = decay v_{t-1} + (1 - decay) g_t^2        a_t = sqrt(v_t) + eps
        m_t = decay m_{t-1} + (1 - decay) g_t          (centered: a_t = sqrt(v_t - m_t^2) + eps)
        b_t = momentum b_{t-1} + g_t / a_t             p <- p - lr * b_t

    torch.optim.RMSprop(lr, alpha=decay, eps, momentum, centered): eps outside the root.

    Args:
        learning_rate: a positive float or a schedule.
        decay: decay rate of the running means (torch's ``alpha``), in [0, 1).
        eps: positive term added to the denominator.
        momentum: momentum on the scaled gradient, in [0, 1); 0 for none.
        centered: divide by the running standard deviation instead of the root mean square.
    """
    scaling = (scale_by_stddev if centered else scale_by_rms)(decay, eps)
    if check_decay("momentum", momentum) == 0:
        return chain(scaling, scale_by_learning_rate(learning_rate))
    return chain(scaling, trace(momentum), scale_by_learning_rate(learning_rate))


def adagrad(
    learning_rate: ScalarOrSchedule, eps: float = 1e-10, initial_accumulator_value: float = 0.0
) -> GradientTransformation:
    """Adagrad (Duchi, Hazan & Singer 2011): p <- p - lr * g_t / (sqrt(sum_{s<=t} g_s^2) + eps).

    torch.optim.Adagrad(lr, lr_decay=0, eps=eps, initial_accumulator_value=...).

    Args:
        learning_rate: a positive float or a schedule.
        eps: positive term added to the denominator, outside the square root.
        initial_accumulator_value: the starting value of every sum of squares, >= 0.
    """
    return chain(
        scale_by_rss(initial_accumulator_value, eps), scale_by_learning_rate(learning_rate)
    )


OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad")


def make_optimizer(
    name: str, learning_rate: ScalarOrSchedule, **kwargs: Any
) -> GradientTransformation:
    """The optimizer for a name in OPTIMIZERS; ``kwargs`` go to the alias of the same name.

    "nesterov" is ``momentum(learning_rate, nesterov=True, **kwargs)``.

    Example::

        opt = make_optimizer("adamw", 3e-4, weight_decay=0.1)

    Args:
        name: one of "sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad".
        learning_rate: a positive float or a schedule.
        **kwargs: the alias's other arguments, e.g. ``b1`` for "adam" or ``beta`` for "momentum".

    Raises:
        ValueError: if ``name`` is not in OPTIMIZERS.
    """
    if name == "nesterov":
        return momentum(learning_rate, nesterov=True, **kwargs)
    aliases = {
        "sgd": sgd,
        "momentum": momentum,
        "adam": adam,
        "adamw": adamw,
        "rmsprop": rmsprop,
        "adagrad": adagrad,
    }
    if name not in aliases:
        raise BpttError(
            f"Unknown optimizer {name!r}; expected one of {', '.join(OPTIMIZERS)}. "
            "Pass one of those names as `name`."
        )
    return aliases[name](learning_rate, **kwargs)
