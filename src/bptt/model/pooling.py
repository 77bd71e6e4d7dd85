"""Readouts over time: one feature vector per sequence from the top layer's outputs.

A classifier of whole sequences reads either the last step (readout "last") or a summary of
every valid step. The summaries here, each over the valid steps of ``mask`` only:

    mean        f = (1 / L) sum_t h_t
    max         f_j = max_t h_t,j                       (per feature j)
    meanmax     f = [mean, max]                         (2 * H_out features)
    attention   e_t = v . tanh(h_t W_a + b_a),  alpha = softmax_t(e),  f = sum_t alpha_t h_t

Mean and max pooling over the outputs of a recurrent layer are the "temporal pooling" of
speech and time-series classifiers; attention is Raffel & Ellis's feed-forward attention
("Feed-Forward Networks with Attention Can Solve Some Long-Term Memory Problems",
arXiv:1512.08756), the additive score of Bahdanau et al. (arXiv:1409.0473) without a query.
Gradients:

    mean        dh_t = df / L
    max         dh_t,j = df_j where t is the (first) argmax of feature j, else 0
    attention   dalpha_t = df . h_t;  de_t = alpha_t (dalpha_t - sum_s alpha_s dalpha_s)
                da_t = de_t v (1 - u_t^2) with u_t = tanh(h_t W_a + b_a)
                dh_t = alpha_t df + da_t W_a^T;  dW_a = sum_t h_t^T da_t;  db_a = sum_t da_t
                dv = sum_t de_t u_t

Shapes: hs (T, B, F_in) with F_in = H_out (H * directions), mask (T, B), features (B, F).
The attention parameters are ``attention.W`` (F_in, A), ``attention.b`` (A,) and
``attention.v`` (A,), with A = hidden_size. Pure functions; nothing is kept between calls.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from bptt.types import Array, Params

POOLINGS = ("mean", "max", "meanmax", "attention")
ATTENTION_PARAMS = ("attention.W", "attention.b", "attention.v")


class PoolCache(NamedTuple):
    """What ``pool_forward`` keeps for ``pool_backward``.

    Attributes:
        kind: one of :data:`POOLINGS`.
        hs: (T, B, F_in) the pooled outputs.
        weights: (T, B) 1 on valid steps, 0 on padding, in the outputs' dtype.
        lengths: (B, 1) valid steps per sequence.
        argmax: (B, F_in) the step of each feature's maximum (max, meanmax), else None.
        alpha: (T, B) attention weights, else None.
        u: (T, B, A) tanh(h_t W_a + b_a), else None.
    """

    kind: str
    hs: Array
    weights: Array
    lengths: Array
    argmax: np.ndarray | None = None
    alpha: Array | None = None
    u: Array | None = None


def feature_size(kind: str, width: int) -> int:
    """F, the width of the pooled vector of outputs ``width`` wide."""
    return 2 * width if kind == "meanmax" else width


def init_attention(rng: np.random.Generator, width: int, size: int, dtype: Any) -> Params:
    """``attention.W`` (width, size) and ``attention.v`` (size,) drawn U(-1/sqrt(fan_in),
    1/sqrt(fan_in)) like torch.nn.Linear; ``attention.b`` (size,) zeros."""
    bound_w, bound_v = 1.0 / np.sqrt(width), 1.0 / np.sqrt(size)
    return {
        "attention.W": rng.uniform(-bound_w, bound_w, (width, size)).astype(dtype),
        "attention.b": np.zeros(size, dtype=dtype),
        "attention.v": rng.uniform(-bound_v, bound_v, size).astype(dtype),
    }


def pool_forward(
    kind: str, hs: Array, mask: np.ndarray | None, params: Params
) -> tuple[Array, PoolCache]:
    """Pool ``hs`` (T, B, F_in) over the valid steps of ``mask`` (T, B) into (B, F)."""
    T, B, _ = hs.shape
    valid = np.ones((T, B), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    weights = valid.astype(hs.dtype)  # (T, B)
    lengths = weights.sum(axis=0)[:, None]  # (B, 1)
    parts, argmax, alpha, u = [], None, None, None
    if kind in ("mean", "meanmax"):
        parts.append((hs * weights[..., None]).sum(axis=0) / lengths)  # (B, F_in)
    if kind in ("max", "meanmax"):
        lowest = np.finfo(hs.dtype).min
        masked = np.where(valid[..., None], hs, lowest)  # (T, B, F_in)
        argmax = masked.argmax(axis=0)  # (B, F_in)
        parts.append(np.take_along_axis(hs, argmax[None], axis=0)[0])  # (B, F_in)
    if kind == "attention":
        u = np.tanh(hs @ params["attention.W"] + params["attention.b"])  # (T, B, A)
        scores = u @ params["attention.v"]  # (T, B)
        top = np.where(valid, scores, -np.inf).max(axis=0)  # (B,)
        with np.errstate(under="ignore"):  # a step far below the best one weighs 0
            e = np.exp(np.where(valid, scores - top, 0.0)) * weights  # (T, B)
            alpha = (e / e.sum(axis=0)).astype(hs.dtype)  # (T, B)
            parts.append((alpha[..., None] * hs).sum(axis=0))  # (B, F_in)
    if not parts:
        raise ValueError(f"Unknown pooling {kind!r}; expected one of {POOLINGS}.")
    features = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=-1)  # (B, F)
    return features, PoolCache(kind, hs, weights, lengths, argmax, alpha, u)


def pool_backward(cache: PoolCache, params: Params, dfeatures: Array) -> tuple[Array, Params]:
    """(dhs (T, B, F_in), the attention parameters' gradients or {}) from dL/dfeatures (B, F)."""
    kind, hs, weights = cache.kind, cache.hs, cache.weights
    width = hs.shape[-1]
    dhs = np.zeros_like(hs)
    grads: Params = {}
    dmean = dmax = None
    if kind == "meanmax":
        dmean, dmax = dfeatures[:, :width], dfeatures[:, width:]
    elif kind == "mean":
        dmean = dfeatures
    elif kind == "max":
        dmax = dfeatures
    if dmean is not None:
        dhs += weights[..., None] * (dmean / cache.lengths)[None]  # (T, B, F_in)
    if dmax is not None:
        B = hs.shape[1]
        columns = np.arange(B)[:, None]
        features = np.arange(width)[None, :]
        dhs[cache.argmax, columns, features] += dmax  # one step per (b, j): no repeats
    if kind == "attention":
        with np.errstate(under="ignore"):  # products with weights that underflowed to ~0
            dhs += _attention_backward(cache, params, dfeatures, grads)
    return dhs, grads


def _attention_backward(cache: PoolCache, params: Params, dfeatures: Array, grads: Params) -> Array:
    """The attention readout's dhs (T, B, F_in); its parameters' gradients into ``grads``."""
    hs, alpha, u = cache.hs, cache.alpha, cache.u
    width = hs.shape[-1]
    dalpha = (hs * dfeatures[None]).sum(axis=-1)  # (T, B)
    de = alpha * (dalpha - (alpha * dalpha).sum(axis=0))  # (T, B)
    da = de[..., None] * params["attention.v"] * (1.0 - u * u)  # (T, B, A)
    A = u.shape[-1]
    grads["attention.W"] = hs.reshape(-1, width).T @ da.reshape(-1, A)  # (F_in, A)
    grads["attention.b"] = da.sum(axis=(0, 1))  # (A,)
    grads["attention.v"] = (de[..., None] * u).sum(axis=(0, 1))  # (A,)
    return alpha[..., None] * dfeatures[None] + da @ params["attention.W"].T
