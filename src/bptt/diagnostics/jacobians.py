"""Local Jacobians, recurrent weight norms and gate saturation, read from the forward caches.

The one-step Jacobian is that of the whole carry, the state the recurrence passes on:

    RNN, GRU   J_t = dh_t / dh_{t-1}                          (H, H)
    LSTM       J_t = d(h_t, c_t) / d(h_{t-1}, c_{t-1})         (2H, 2H)

so the LSTM's cell path (dc_t/dc_{t-1} = diag(f)) and the hidden path are both in it: a
gradient travelling back l steps is multiplied by J_t^T at every step, and the spectral norm
||J_t||_2 bounds how much one step can amplify it (Pascanu, Mikolov & Bengio 2013,
arXiv:1211.5063, Sec. 2.1). Each J_t is built row by row from the cell's own step_backward
(a vector-Jacobian product per carry unit), so no derivative is written twice. For a stacked
model, J_t of layer k holds the layer's input from below fixed.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from bptt.cells import GRUCache, LSTMCache, RNNCache
from bptt.diagnostics._common import check_model, float64, measuring
from bptt.errors import BpttError, BpttTypeError
from bptt.model import Model
from bptt.types import Array, Cell, CellParams, Params
from bptt.window import Batch

GATE_NAMES = {"rnn": ("h",), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}
"""Gate blocks along W_h's columns, in PyTorch's order; a vanilla RNN has one block, h."""


class GateStats(NamedTuple):
    """Saturation of one gate's activations over the real steps of a batch.

    Attributes:
        kind: "sigmoid" (LSTM i, f, o; GRU r, z), "tanh" (LSTM g, GRU n, RNN h) or "relu".
        low: fraction of activations near the lower end: sigmoid < margin, tanh < -1 + margin,
            relu exactly 0 (an inactive unit passes no gradient).
        high: fraction near the upper end: sigmoid > 1 - margin, tanh > 1 - margin; relu has
            no upper saturation and reads 0.
        mean: mean activation (a forget gate's mean f keeps a gradient about
            ln(epsilon) / ln(f) steps).
        edges: (bins + 1,) histogram bin edges: [0, 1] for sigmoid, [-1, 1] for tanh,
            [0, max] for relu.
        counts: (bins,) number of activations per bin.
    """

    kind: str
    low: float
    high: float
    mean: float
    edges: Array
    counts: np.ndarray

    @property
    def saturated(self) -> float:
        """Fraction of activations near either end, low + high."""
        return self.low + self.high


def carry_jacobian(cell: Cell, params: CellParams, cache_t: Any) -> Array:
    """The one-step Jacobian of the carry for every sequence, from a step's cache.

    Args:
        cell, params: the cell and its parameters.
        cache_t: the cache ``cell.step_forward`` returned for step t.

    Returns:
        (B, N, N) with N = H (RNN, GRU) or 2H (LSTM, carry flattened as (h, c)):
        J[b, i, j] = d carry_t[b, i] / d carry_{t-1}[b, j].

    Example::

        carry, cache = cell.step_forward(params, xp_t, carry_prev)
        J = carry_jacobian(cell, params, cache)  # (B, H, H) for an RNN
    """
    B, H, dtype = _cache_shape(cache_t)
    fields = len(cell.carry_type._fields)  # every carry field is (B, H): h, and c for LSTM
    N = fields * H
    # One vector-Jacobian product per carry unit, all in one call: each sequence's cache is
    # repeated N times and row b * N + i of the upstream gradient is the unit vector e_i,
    # so row b * N + i of the result is e_i^T J_b, row i of J_b.
    tiled = type(cache_t)(*(np.repeat(a, N, axis=0) for a in cache_t))
    units = np.tile(np.eye(N, dtype=dtype), (B, 1))  # (B*N, N)
    dcarry = cell.carry_type(*(units[:, f * H : (f + 1) * H].copy() for f in range(fields)))
    dprev = cell.step_backward(params, tiled, dcarry)[0]
    return np.concatenate(dprev, axis=1).reshape(B, N, N)


def _cache_shape(cache_t: Any) -> tuple[int, int, np.dtype]:
    """(B, H, dtype) of a step's cache."""
    a = cache_t.tanh_c if isinstance(cache_t, LSTMCache) else cache_t[0]
    return a.shape[0], a.shape[1], a.dtype


def local_jacobian_norms(
    model: Model,
    params: Params,
    batch: Batch,
    *,
    carries0: Any = None,
    max_sequences: int | None = 4,
) -> dict[str, Array]:
    """The spectral norm ||J_t||_2 of the one-step carry Jacobian, averaged over sequences.

    Args:
        model, params: the model and its parameters (evaluation mode).
        batch: inputs, mask and resets; the targets play no part.
        carries0: the state at the batch start (None: zeros).
        max_sequences: average over the first this many sequences (None: all B), since each
            step and sequence costs an (N, N) eigenvalue problem (N = 2H = 256 for a 128-unit
            LSTM: about 10 ms).

    Returns:
        Per layer-direction name, (T,) the mean of ||J_t[b]||_2 over the sequences whose step
        t is real (NaN where none is, or where J is not finite). A reverse direction counts
        its own steps.
    """
    check_model(model)
    params = float64(params)
    S = batch.inputs.shape[1] if max_sequences is None else max_sequences
    if S < 1:
        raise BpttError(f"`max_sequences` must be >= 1 or None, got {max_sequences}.")
    with measuring():
        _, _, cache = model.forward(
            params,
            batch.inputs,
            mask=batch.mask,
            resets=batch.resets,
            carries0=carries0,
            check_finite=False,  # a non-finite model is measured, and reported as such
        )
    names = model.layer_prefixes()
    result = {}
    for name, tape in zip(names, cache.tapes, strict=True):
        p = model.cell_params(params, name)
        T = len(tape.caches)
        norms = np.full(T, np.nan)
        for t, cache_t in enumerate(tape.caches):
            first = type(cache_t)(*(a[:S] for a in cache_t))  # every field is (B, ...)
            with measuring():
                J = carry_jacobian(model.cell, p, first)  # (S, N, N)
            real = np.ones(J.shape[0], dtype=bool) if tape.mask is None else tape.mask[t, :S]
            real &= np.isfinite(J).all(axis=(1, 2))
            if real.any():
                # ||J||_2 = sqrt(largest eigenvalue of J J^T): a symmetric eigensolver is several
                # times faster than an SVD and as accurate for the largest value.
                gram = J[real] @ J[real].transpose(0, 2, 1)  # (S_real, N, N)
                norms[t] = np.sqrt(np.linalg.eigvalsh(gram)[:, -1]).mean()
        result[name] = norms
    return result


def recurrent_weight_norms(model: Model, params: Params) -> dict[str, dict[str, float]]:
    """The largest singular value of each layer's W_h, whole and per gate block.

    Args:
        model, params: the model and its parameters.

    Returns:
        Per layer-direction name, {"all": sigma_max(W_h (H, G*H)), gate: sigma_max of the
        gate's (H, H) block, ...} with the gate names of ``GATE_NAMES``; NaN for a W_h that
        is not finite. A vanilla RNN's tanh(h W_h + ...) cannot amplify a gradient by more
        than sigma_max(W_h) per step (Pascanu et al. 2013, Sec. 2.1).
    """
    gates = GATE_NAMES[model.cell.name]
    result = {}
    for name in model.layer_prefixes():
        W_h = np.asarray(model.cell_params(params, name).W_h, dtype=np.float64)
        H = W_h.shape[0]
        blocks = {"all": W_h} | {g: W_h[:, j * H : (j + 1) * H] for j, g in enumerate(gates)}
        result[name] = {
            g: float(np.linalg.norm(w, 2)) if np.isfinite(w).all() else math.nan
            for g, w in blocks.items()
        }
    return result


def gate_saturation(
    model: Model,
    params: Params,
    batch: Batch,
    *,
    carries0: Any = None,
    margin: float = 0.05,
    bins: int = 20,
) -> dict[str, dict[str, GateStats]]:
    """How many gate activations sit near their limits, with histograms.

    A saturated sigmoid or tanh has a derivative near 0, so the gradient through that gate
    stops; a forget gate (LSTM f) or update gate (GRU z) near 1 is the exception that
    carries memory, since its path to the previous state is then the identity.

    Args:
        model, params: the model and its parameters (evaluation mode).
        batch: inputs, mask and resets; the targets play no part.
        carries0: the state at the batch start (None: zeros).
        margin: distance to a limit that counts as saturated (0.05: sigmoid < 0.05 or
            > 0.95, |tanh| > 0.95).
        bins: number of histogram bins.

    Returns:
        Per layer-direction name, per gate (LSTM i, f, g, o; GRU r, z, n; RNN h) a GateStats
        over the real (unmasked) steps.
    """
    check_model(model)
    params = float64(params)
    if not 0.0 < margin < 0.5:
        raise BpttError(f"`margin` must be in (0, 0.5), got {margin}.")
    if bins < 1:
        raise BpttError(f"`bins` must be >= 1, got {bins}.")
    with measuring():
        _, _, cache = model.forward(
            params,
            batch.inputs,
            mask=batch.mask,
            resets=batch.resets,
            carries0=carries0,
            check_finite=False,  # a non-finite model is measured, and reported as such
        )
    result = {}
    for name, tape in zip(model.layer_prefixes(), cache.tapes, strict=True):
        kinds: dict[str, str] = {}
        values: dict[str, list[Array]] = {}
        for t, cache_t in enumerate(tape.caches):
            real = slice(None) if tape.mask is None else tape.mask[t]
            for gate, (kind, a) in _activations(model.cell, cache_t).items():
                kinds[gate] = kind
                values.setdefault(gate, []).append(a[real])  # (B_real, H)
        result[name] = {
            g: _gate_stats(kinds[g], np.concatenate(v).ravel(), margin, bins)
            for g, v in values.items()
        }
    return result


def _activations(cell: Cell, cache_t: Any) -> dict[str, tuple[str, Array]]:
    """Per gate, its kind and (B, H) post-activation values at one step."""
    if isinstance(cache_t, LSTMCache):
        H = cache_t.tanh_c.shape[1]
        kinds = ("sigmoid", "sigmoid", "tanh", "sigmoid")
        return {
            g: (kind, cache_t.gates[:, j * H : (j + 1) * H])
            for j, (g, kind) in enumerate(zip(GATE_NAMES["lstm"], kinds, strict=True))
        }
    if isinstance(cache_t, GRUCache):
        return {"r": ("sigmoid", cache_t.r), "z": ("sigmoid", cache_t.z), "n": ("tanh", cache_t.n)}
    if isinstance(cache_t, RNNCache):
        return {"h": (cell.activation, cache_t.h)}
    raise BpttTypeError(f"No gate layout known for a cache of type {type(cache_t).__name__}.")


def _gate_stats(kind: str, a: Array, margin: float, bins: int) -> GateStats:
    a = a[np.isfinite(a)]
    n = max(a.size, 1)
    if kind == "sigmoid":
        low, high, span = a < margin, a > 1.0 - margin, (0.0, 1.0)
    elif kind == "tanh":
        low, high, span = a < -1.0 + margin, a > 1.0 - margin, (-1.0, 1.0)
    else:
        low, high = a == 0.0, np.zeros(a.shape, dtype=bool)
        span = (0.0, max(float(a.max(initial=0.0)), 1.0))
    counts, edges = np.histogram(a, bins=bins, range=span)
    mean = float(a.mean()) if a.size else math.nan
    return GateStats(kind, float(low.sum() / n), float(high.sum() / n), mean, edges, counts)
