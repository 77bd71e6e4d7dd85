"""Gradient-check helpers, used by bptt's own tests, by ``bptt gradcheck`` and by users.

Example::

    loss = lambda: float((weights * forward(cell, params, xs)[0]).sum())
    numeric = numerical_gradient(loss, params.W_h)
    assert relative_error(analytic.W_h, numeric) < 1e-6
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from bptt.errors import BpttError, BpttTypeError
from bptt.model import Model, ModelConfig
from bptt.types import Array


def numerical_gradient(f: Callable[[], float], x: Array, *, eps: float = 1e-6) -> Array:
    """Central finite differences of ``f()`` with respect to every entry of ``x``.

    ``x`` is perturbed in place, one entry at a time, and restored exactly afterwards, so
    ``f`` must read ``x`` (not a copy of it). Use float64: in float32 the differences are noise.

    Args:
        f: a function of no arguments returning the scalar loss.
        x: the array to differentiate with respect to; any shape.
        eps: the step h of (f(x + h) - f(x - h)) / 2h.

    Returns:
        An array shaped like ``x`` holding dF/dx.
    """
    if x.dtype != np.float64:
        raise BpttTypeError(
            f"`x` has dtype {x.dtype}; finite differences need float64. "
            "Build the parameters with dtype=np.float64."
        )
    grad = np.zeros_like(x)
    flat_x, flat_g = x.reshape(-1), grad.reshape(-1)
    if not np.shares_memory(flat_x, x):
        raise BpttError("`x` must be contiguous so that it can be perturbed in place.")
    for k in range(flat_x.size):
        old = flat_x[k]
        flat_x[k] = old + eps
        f_plus = f()
        flat_x[k] = old - eps
        f_minus = f()
        flat_x[k] = old
        flat_g[k] = (f_plus - f_minus) / (2.0 * eps)
    return grad


def relative_error(analytic: Array, numeric: Array) -> float:
    """Largest entry-wise error relative to the larger gradient: max|a - n| / max(|a|, |n|).

    The denominator is the largest magnitude over the whole array (not per entry), so entries
    whose true gradient is zero do not produce huge ratios from rounding noise. Two all-zero
    arrays give 0.
    """
    analytic = np.asarray(analytic, dtype=np.float64)
    numeric = np.asarray(numeric, dtype=np.float64)
    if analytic.shape != numeric.shape:
        raise BpttError(f"shapes differ: analytic {analytic.shape}, numeric {numeric.shape}.")
    scale = max(np.abs(analytic).max(initial=0.0), np.abs(numeric).max(initial=0.0))
    if scale == 0.0:
        return 0.0
    return float(np.abs(analytic - numeric).max() / scale)


def random_linear_loss(
    rng: np.random.Generator, *shapes: tuple[int, ...]
) -> tuple[list[Array], Callable[..., float]]:
    """A loss that is a random linear function of each of several outputs.

    Upstream gradients of all ones can hide a transposed or time-reversed index; random
    weights cannot. Returns the weights (which are also the upstream gradients) and
    ``loss(*outputs) = sum_k sum(weights[k] * outputs[k])``.
    """
    weights = [rng.standard_normal(shape) for shape in shapes]

    def loss(*outputs: Array) -> float:
        return float(sum(np.sum(w * o) for w, o in zip(weights, outputs, strict=True)))

    return weights, loss


def check_model_gradients(
    config: ModelConfig,
    *,
    seq_len: int = 5,
    batch_size: int = 3,
    lengths: Any = None,
    train: bool = False,
    seed: int = 0,
) -> dict[str, float]:
    """Finite-difference check of a whole model, in float64.

    The loss is a random linear function of every output and every final carry; the
    gradients checked are every parameter, the float inputs (when the model has no
    embedding) and every field of every initial carry.

    Args:
        config: the architecture; its dtype is forced to float64 here.
        seq_len, batch_size: T and B of the random batch.
        lengths: optional (B,) sequence lengths; the batch is then right-padded and masked.
        train: run with dropout (the same dropout masks for every evaluation).
        seed: seeds parameters, inputs, carries and loss weights.

    Returns:
        {name: relative_error(analytic, numeric)} for "inputs", every parameter name and
        "carry0[k].field".
    """
    rng = np.random.default_rng(seed)
    model = Model(config)
    params = model.init(rng, dtype=np.float64)
    T, B, H = seq_len, batch_size, config.hidden_size
    if config.vocab_size is not None:
        inputs = rng.integers(0, config.vocab_size, (T, B))
    else:
        inputs = rng.standard_normal((T, B, config.layer_input_size))
    mask = None
    if lengths is not None:
        mask = np.arange(T)[:, None] < np.asarray(lengths)[None, :]
    carry_type = model.cell.carry_type
    n = len(model.layer_prefixes())
    carries0 = tuple(
        carry_type(*(0.5 * rng.standard_normal((B, H)) for _ in carry_type._fields))
        for _ in range(n)
    )

    def run() -> tuple[Array, tuple[Any, ...], Any]:
        return model.forward(
            params,
            inputs,
            mask=mask,
            carries0=carries0,
            train=train,
            rng=np.random.default_rng(seed + 1),
        )

    outputs, _, cache = run()
    weights, linear = random_linear_loss(
        rng, outputs.shape, *[(B, H)] * (n * len(carry_type._fields))
    )

    def loss() -> float:
        out, finals, _ = run()
        return linear(out, *[a for carry in finals for a in carry])

    w_carries = iter(weights[1:])
    dcarries_T = [carry_type(*(next(w_carries) for _ in carry_type._fields)) for _ in range(n)]
    grads, dxs, dcarries0 = model.backward(params, cache, weights[0], dcarries_T)
    errors: dict[str, float] = {}
    if dxs is not None:
        errors["inputs"] = relative_error(dxs, numerical_gradient(loss, inputs))
    for name, value in params.items():
        errors[name] = relative_error(grads[name], numerical_gradient(loss, value))
    for k, carry0 in enumerate(carries0):
        for field, value in zip(carry_type._fields, carry0, strict=True):
            numeric = numerical_gradient(loss, value)
            errors[f"carry0[{k}].{field}"] = relative_error(getattr(dcarries0[k], field), numeric)
    return errors
