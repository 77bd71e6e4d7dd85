"""Gradient-check helpers, used by bptt's own tests, by ``bptt gradcheck`` and by users.

Example::

    loss = lambda: float((weights * forward(cell, params, xs)[0]).sum())
    numeric = numerical_gradient(loss, params.W_h)
    assert relative_error(analytic.W_h, numeric) < 1e-6
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

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
        raise TypeError(
            f"`x` has dtype {x.dtype}; finite differences need float64. "
            "Build the parameters with dtype=np.float64."
        )
    grad = np.zeros_like(x)
    flat_x, flat_g = x.reshape(-1), grad.reshape(-1)
    if not np.shares_memory(flat_x, x):
        raise ValueError("`x` must be contiguous so that it can be perturbed in place.")
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
        raise ValueError(f"shapes differ: analytic {analytic.shape}, numeric {numeric.shape}.")
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
