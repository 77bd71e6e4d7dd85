"""Vanilla (Elman) RNN cell with tanh or ReLU, and the IRNN initialisation.

Equations, per step (G = 1):

    h_t = act(x_t W_x + b + h_{t-1} W_h)          act = tanh or relu

Efficient implementation equivalent to the following plain loop::

    for t in range(T):
        h = act(xs[t] @ W_x + b + h @ W_h)

here split into one input projection for all steps (``input_projection``) and the
recurrent product ``h_prev @ W_h`` inside the loop (``step_forward``).

IRNN (Le, Jaitly & Hinton 2015, arXiv:1504.00941): ReLU activation, W_h = identity, b = 0 and
small Gaussian input weights, so that at initialisation the state is copied from step to step.

``RNNCell.sequence_kernels`` runs the same loop fused over a whole sequence: the input
projection is written straight into the output array and each step adds h_{t-1} W_h and applies
the activation in place (three calls per step, three per step backward as well).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

import numpy as np

from bptt.cells.base import (
    SequenceCaches,
    StackedGrads,
    block_steps,
    check_sizes,
    kernels_if_unchanged,
    outputs_before_resets,
    padded_columns,
    project_inputs,
    restart_columns,
    stacked_grads,
    step_functions,
    uniform_init,
    zero_padded,
)
from bptt.errors import BpttError
from bptt.types import Array, Observer, SequenceKernels

ACTIVATIONS = ("tanh", "relu")


class RNNParams(NamedTuple):
    W_x: Array  # (D, H)
    W_h: Array  # (H, H)
    b: Array  # (H,)


class RNNCarry(NamedTuple):
    h: Array  # (B, H)


class RNNCache(NamedTuple):
    h: Array  # (B, H) post-activation output of the step


@dataclass(frozen=True)
class RNNCell:
    """Elman RNN cell; ``activation`` is "tanh" (default) or "relu"."""

    activation: str = "tanh"
    name: str = "rnn"
    num_gates: int = 1
    params_type: type = RNNParams
    carry_type: type = RNNCarry
    separate_hidden_grad: bool = False

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise BpttError(f"`activation` must be one of {ACTIVATIONS}, got {self.activation!r}.")

    def init_params(
        self,
        rng: np.random.Generator,
        input_size: int,
        hidden_size: int,
        *,
        dtype: Any = np.float32,
    ) -> RNNParams:
        """U(-1/sqrt(H), 1/sqrt(H)) for every weight and bias, as PyTorch does."""
        dt = check_sizes(input_size, hidden_size, dtype)
        H = hidden_size
        return RNNParams(
            W_x=uniform_init(rng, (input_size, H), H, dt),
            W_h=uniform_init(rng, (H, H), H, dt),
            b=uniform_init(rng, (H,), H, dt),
        )

    def init_irnn(
        self,
        rng: np.random.Generator,
        input_size: int,
        hidden_size: int,
        *,
        input_scale: float = 0.001,
        dtype: Any = np.float32,
    ) -> RNNParams:
        """IRNN initialisation: W_h = I, b = 0, W_x ~ N(0, input_scale^2) (Le et al. 2015)."""
        dt = check_sizes(input_size, hidden_size, dtype)
        H = hidden_size
        return RNNParams(
            W_x=(rng.standard_normal((input_size, H)) * input_scale).astype(dt),
            W_h=np.eye(H, dtype=dt),
            b=np.zeros(H, dtype=dt),
        )

    @property
    def sequence_kernels(self) -> SequenceKernels | None:
        """The fused loops, or None once a subclass or patch replaced a step function."""
        kernels = _KERNELS[self.activation]
        return kernels_if_unchanged(self, _STEPS, kernels)

    def input_projection(self, params: RNNParams, xs: Array) -> Array:
        return project_inputs(params.W_x, params.b, xs)  # (T, B, H)

    def step_forward(
        self, params: RNNParams, xp_t: Array, carry: RNNCarry
    ) -> tuple[RNNCarry, RNNCache]:
        h = carry.h @ params.W_h  # (B, H)
        h += xp_t
        if self.activation == "tanh":
            np.tanh(h, out=h)
        else:
            np.maximum(h, 0.0, out=h)
        return RNNCarry(h), RNNCache(h)

    def step_backward(
        self, params: RNNParams, cache_t: RNNCache, dcarry: RNNCarry
    ) -> tuple[RNNCarry, Array, Array]:
        h = cache_t.h
        # tanh' = 1 - h^2; relu' = 1 where the output is positive.
        slope = 1.0 - h * h if self.activation == "tanh" else h > 0
        dz = dcarry.h * slope  # (B, H)
        dh_prev = dz @ params.W_h.T  # (B, H)
        return RNNCarry(dh_prev), dz, dz

    def weight_grads(
        self, params: RNNParams, xs: Array, hs_prev: Array, dxp: Array, dhp: Array
    ) -> tuple[RNNParams, Array]:
        dW_x, dW_h, db, dxs = stacked_grads(params.W_x, xs, hs_prev, dxp, dhp)
        return RNNParams(dW_x, dW_h, db), dxs


_STEPS = step_functions(RNNCell)


def _forward_sequence(
    activation: str,
    params: RNNParams,
    xs: Array,
    carry0: RNNCarry,
    mask: np.ndarray | None,
    resets: np.ndarray | None,
    *,
    keep: bool,
) -> tuple[Array, Array, RNNCarry, SequenceCaches | None]:
    """``step_forward`` at every step: hs_ext[t + 1] = act(xp_t + hs_ext[t] W_h) in place.

    A padded sequence keeps its carry (the computed h goes to the cache only); a reset zeroes
    it before the step. See ``engine.forward``.
    """
    T, B, D = xs.shape
    H = params.W_h.shape[0]
    dtype = params.W_h.dtype
    hs_ext = np.empty((T + 1, B, H), dtype)  # [h0, h_1, ..., h_T]
    hs_ext[0] = carry0.h
    np.matmul(xs.reshape(T * B, D), params.W_x, out=hs_ext[1:].reshape(T * B, H))
    hs_ext[1:] += params.b  # xp, replaced by h step by step
    hp = np.empty((B, H), dtype)
    restarts, kept = restart_columns(resets), {}
    pads, computed = padded_columns(mask), {}
    for t in range(T):
        if t in restarts:  # a new sequence starts in these rows: zero their carry
            if t > 0:
                kept[t - 1] = hs_ext[t][restarts[t]].T.copy()  # the output of step t - 1
            hs_ext[t][restarts[t]] = 0
        np.matmul(hs_ext[t], params.W_h, out=hp)
        h = hs_ext[t + 1]
        h += hp
        if activation == "tanh":
            np.tanh(h, out=h)
        else:
            np.maximum(h, 0.0, out=h)
        if t in pads:  # padded sequences keep their carry
            computed[t] = h[pads[t]].copy()
            h[pads[t]] = hs_ext[t][pads[t]]
    carried = outputs_before_resets(hs_ext, kept, restarts)  # h_t of each step
    carry = RNNCarry(hs_ext[T].copy())
    outputs = zero_padded(carried, mask)
    if not keep:
        return outputs, hs_ext, carry, None
    acts = carried.copy() if computed else carried  # what step_forward returned
    for t, values in computed.items():
        acts[t][pads[t]] = values

    def cache(t: int) -> RNNCache:
        return RNNCache(acts[t])

    return outputs, hs_ext, carry, SequenceCaches(T, cache, (acts,), _KERNELS[activation])


def _backward_sequence(
    activation: str,
    params: RNNParams,
    xs: Array,
    hs_ext: Array,
    caches: SequenceCaches,
    dhs: Array | None,
    dcarry: RNNCarry,
    mask: np.ndarray | None,
    resets: np.ndarray | None,
    observer: Observer | None,
    input_grad: bool = True,
) -> tuple[RNNParams, Array, RNNCarry]:
    """``step_backward`` at every step in reverse, then ``weight_grads``, on whole arrays.

    dz_t = dh_t * act'(h_t), with act' = 1 - h^2 (tanh) or [h > 0] (ReLU) filled in for a
    block of steps at once, then multiplied in place by dh_t. A padded step passes dh through.
    """
    T, B, _ = xs.shape
    H = hs_ext.shape[-1]
    dtype = hs_ext.dtype
    (acts,) = caches.arrays  # the h_t that step_forward computed, (T, B, H)
    if dhs is not None and mask is not None:
        dhs = np.where(mask[:, :, None], dhs, 0).astype(dtype)
    steps = block_steps(T, 1, H * dtype.itemsize, B)
    dz = np.empty((steps, B, H), dtype)  # act'(h) for a block of steps, then dL/dz
    stacked = StackedGrads(params.W_x, xs, hs_ext[:-1], input_grad)
    W_hT = np.ascontiguousarray(params.W_h.T)  # (H, H)
    dh_next = np.array(dcarry.h, dtype=dtype)
    dh_sum = np.empty_like(dh_next)
    restarts, pads = restart_columns(resets), padded_columns(mask)
    for stop in range(T, 0, -steps):
        start = max(0, stop - steps)
        d = dz[: stop - start]
        if activation == "tanh":
            np.multiply(acts[start:stop], acts[start:stop], out=d)
            np.subtract(1, d, out=d)
        else:
            np.greater(acts[start:stop], 0, out=d, casting="unsafe")
        for j in range(stop - start - 1, -1, -1):
            t = start + j
            dh = dh_next if dhs is None else np.add(dh_next, dhs[t], out=dh_sum)
            if observer is not None:
                observer(t, RNNCarry(dh.copy()))
            if t in pads:  # a padded step: no gradient inside, dh passes through
                passed = dh[pads[t]].copy()
                dh[pads[t]] = 0
            np.multiply(d[j], dh, out=d[j])
            np.matmul(d[j], W_hT, out=dh_next)
            if t in pads:
                dh_next[pads[t]] = passed
            if t in restarts:  # the gradient stops where the sequence restarted
                dh_next[restarts[t]] = 0
        stacked.add(start, d, d)
    dW_x, dW_h, db, dxs = stacked.result()
    return RNNParams(dW_x, dW_h, db), dxs, RNNCarry(dh_next)


def _kernels_for(activation: str) -> SequenceKernels:
    return SequenceKernels(
        partial(_forward_sequence, activation), partial(_backward_sequence, activation)
    )


_KERNELS = {activation: _kernels_for(activation) for activation in ACTIVATIONS}
