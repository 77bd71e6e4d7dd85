"""Helpers shared by the cells' step functions: activations, initialisation, shape checks and
the stacked products of the input projection and the weight gradients."""

from __future__ import annotations

from typing import Any

import numpy as np

from bptt.errors import BpttError, BpttTypeError
from bptt.types import Array

FLOAT_DTYPES = (np.float32, np.float64)


def sigmoid(x: Array, out: Array | None = None) -> Array:
    """Logistic sigmoid through tanh: s(x) = (1 + tanh(x / 2)) / 2.

    One transcendental call instead of exp plus a division, and it never overflows
    (``np.seterr(all="raise")`` safe for any input).
    """
    out = np.multiply(x, 0.5, out=out)
    np.tanh(out, out=out)
    out += 1.0
    out *= 0.5
    return out


def uniform_init(
    rng: np.random.Generator, shape: tuple[int, ...], hidden_size: int, dtype: Any
) -> Array:
    """PyTorch's default RNN initialisation: U(-1/sqrt(H), 1/sqrt(H))."""
    bound = 1.0 / np.sqrt(hidden_size)
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


def check_sizes(input_size: int, hidden_size: int, dtype: Any) -> np.dtype:
    """Validate the sizes and dtype given to ``init_params``; return the dtype."""
    for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise BpttError(f"`{name}` must be a positive integer, got {value!r}.")
    dt = np.dtype(dtype)
    if dt not in FLOAT_DTYPES:
        raise BpttTypeError(f"`dtype` must be float32 or float64, got {dt}.")
    return dt


def gate_sizes(name: str, num_gates: int, params: Any) -> tuple[int, int]:
    """(D, H) of the parameters W_x (D, G*H), W_h (H, G*H), b (G*H,) [, b_hn (H,)].

    Raises:
        BpttError: weight shapes that do not fit together.
    """
    W_x, W_h, b = params.W_x, params.W_h, params.b
    G = num_gates
    if W_h.ndim != 2 or W_h.shape[1] != G * W_h.shape[0]:
        raise BpttError(
            f"`params.W_h` has shape {W_h.shape} but the {name} cell expects (H, {G}*H)."
        )
    H = W_h.shape[0]
    if W_x.ndim != 2 or W_x.shape[1] != G * H:
        raise BpttError(
            f"`params.W_x` has shape {W_x.shape} but the {name} cell expects (D, {G * H})."
        )
    if b.shape != (G * H,):
        raise BpttError(f"`params.b` has shape {b.shape}, expected ({G * H},).")
    b_hn = getattr(params, "b_hn", None)
    if b_hn is not None and b_hn.shape != (H,):
        raise BpttError(f"`params.b_hn` has shape {b_hn.shape}, expected ({H},) = (H,).")
    return W_x.shape[0], H


def project_inputs(W_x: Array, b: Array, xs: Array) -> Array:
    """xp = xs @ W_x + b for every step at once, one (T*B, D) x (D, G*H) product."""
    T, B, D = xs.shape
    xp = xs.reshape(T * B, D) @ W_x  # (T*B, G*H)
    xp += b
    return xp.reshape(T, B, -1)  # (T, B, G*H)


def stacked_grads(
    W_x: Array, xs: Array, hs_prev: Array, dxp: Array, dhp: Array
) -> tuple[Array, Array, Array, Array]:
    """One product per weight over the stacked T*B rows.

    Returns:
        (dW_x (D, G*H), dW_h (H, G*H), db (G*H,), dxs (T, B, D)).
    """
    T, B, D = xs.shape
    GH = dxp.shape[-1]
    dxp2 = dxp.reshape(T * B, GH)
    dW_x = xs.reshape(T * B, D).T @ dxp2  # (D, G*H)
    dW_h = hs_prev.reshape(T * B, -1).T @ dhp.reshape(T * B, GH)  # (H, G*H)
    db = dxp2.sum(axis=0)  # (G*H,)
    dxs = (dxp2 @ W_x.T).reshape(T, B, D)  # (T, B, D)
    return dW_x, dW_h, db, dxs
