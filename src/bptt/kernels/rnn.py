"""The fused loops of the vanilla RNN (``bptt.cells.rnn``), in NumPy.

Forward: the input projection is written straight into hs_ext[1:], and each step adds
h_{t-1} W_h and applies the activation in place (three calls per step). Backward: the
activation's derivative, act' = 1 - h^2 (tanh) or [h > 0] (ReLU), is filled in for a block of
steps at once and multiplied in place by dL/dh_t at each step; each block adds its stacked
weight-gradient products (three calls per step).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bptt.cells.rnn import RNNCache, RNNCarry, RNNParams
from bptt.kernels.base import FusedCaches
from bptt.kernels.layout import StackedGrads, block_pieces, block_steps
from bptt.kernels.workspace import Lease, Workspace
from bptt.types import Array


class RNNKernel:
    """The fused loops of ``RNNCell(activation)`` (a SequenceKernel)."""

    def __init__(self, activation: str) -> None:
        self.activation = activation

    def forward(
        self,
        params: RNNParams,
        xs: Array,
        carry0: RNNCarry,
        *,
        keep: bool,
        workspace: Workspace,
        lease: Lease,
    ) -> _Forward:
        return _Forward(self.activation, params, xs, carry0, lease)

    def backward(
        self,
        params: RNNParams,
        xs: Array,
        hs_ext: Array,
        caches: Sequence[Any],
        dhs: Array | None,
        dcarry_T: RNNCarry,
        *,
        input_grad: bool,
        workspace: Workspace,
    ) -> _Backward:
        return _Backward(self.activation, params, xs, hs_ext, caches, dhs, dcarry_T, input_grad)


class _Forward:
    """hs_ext[t + 1] = act(xp_t + hs_ext[t] W_h), in place."""

    def __init__(
        self, activation: str, params: RNNParams, xs: Array, carry0: RNNCarry, lease: Lease
    ) -> None:
        T, B, D = xs.shape
        H = params.W_h.shape[0]
        self.activation, self.W_h, self.lease = activation, params.W_h, lease
        self.hs_ext = np.empty((T + 1, B, H), params.W_h.dtype)  # [h0, h_1, ..., h_T]
        self.hs_ext[0] = carry0.h
        np.matmul(xs.reshape(T * B, D), params.W_x, out=self.hs_ext[1:].reshape(T * B, H))
        self.hs_ext[1:] += params.b  # xp, replaced by h step by step
        self.hp = np.empty((B, H), params.W_h.dtype)

    def carry(self, t: int) -> RNNCarry:
        return RNNCarry(self.hs_ext[t])

    def run(self, start: int, stop: int) -> None:
        hs_ext, hp = self.hs_ext, self.hp
        for t in range(start, stop):
            np.matmul(hs_ext[t], self.W_h, out=hp)
            h = hs_ext[t + 1]
            h += hp
            if self.activation == "tanh":
                np.tanh(h, out=h)
            else:
                np.maximum(h, 0.0, out=h)

    def hidden_states(self) -> Array:
        return self.hs_ext

    def record(self, outputs: Array) -> FusedCaches:
        """The caches are the outputs: step t's h before any reset zeroed it."""

        def cache(t: int) -> RNNCache:
            return RNNCache(outputs[t])

        return FusedCaches(len(outputs), cache, (outputs,), self.lease)


class _Backward:
    """dz_t = dh_t * act'(h_t) and dh_{t-1} = dz_t W_h^T, step by step in reverse."""

    def __init__(
        self,
        activation: str,
        params: RNNParams,
        xs: Array,
        hs_ext: Array,
        caches: FusedCaches,
        dhs: Array | None,
        dcarry_T: RNNCarry,
        input_grad: bool,
    ) -> None:
        T, B, _ = xs.shape
        H = hs_ext.shape[-1]
        dtype = hs_ext.dtype
        self.activation, self.T, self.dhs = activation, T, dhs
        (self.acts,) = caches.arrays  # the h_t that each step computed, (T, B, H)
        self.block = block_steps(T, H * dtype.itemsize, B)
        self.dz = np.empty((self.block, B, H), dtype)  # act'(h) for a block, then dL/dz
        self.stacked = StackedGrads(params.W_x, xs, hs_ext[:-1], input_grad)
        self.W_hT = np.ascontiguousarray(params.W_h.T)  # (H, H)
        self.dh_next = np.array(dcarry_T.h, dtype=dtype)  # (B, H) dL/dh_t from later steps
        self.dh_sum = np.empty_like(self.dh_next)

    def dcarry(self) -> RNNCarry:
        return RNNCarry(self.dh_next)

    def run(self, start: int, stop: int) -> None:
        acts = self.acts
        for a, b, block_start, block_stop in block_pieces(start, stop, self.block, self.T):
            d = self.dz[a - block_start : b - block_start]
            if self.activation == "tanh":
                np.multiply(acts[a:b], acts[a:b], out=d)
                np.subtract(1, d, out=d)
            else:
                np.greater(acts[a:b], 0, out=d, casting="unsafe")
            for j in range(b - a - 1, -1, -1):
                dh = self.dh_next
                if self.dhs is not None:
                    dh = np.add(self.dh_next, self.dhs[a + j], out=self.dh_sum)
                np.multiply(d[j], dh, out=d[j])
                np.matmul(d[j], self.W_hT, out=self.dh_next)
            if a == block_start:  # the block is complete
                full = self.dz[: block_stop - block_start]
                self.stacked.add(block_start, full, full)

    def finish(self) -> tuple[RNNParams, Array | None]:
        dW_x, dW_h, db, dxs = self.stacked.result()
        return RNNParams(dW_x, dW_h, db), dxs
