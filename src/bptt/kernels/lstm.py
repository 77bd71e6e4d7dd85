"""The fused loops of the LSTM (``bptt.cells.lstm``): NumPy, and compiled with numba.

Feature-major steps, so every gate block is a contiguous (H, B) array. Forward: one product
per step gives the whole pre-activation, input projection and bias included,
z^T = [W_h^T  W_x^T  b] [h_{t-1}^T; x_t^T; 1], with the sigmoid rows halved so one tanh call
gives the four gates (``layout.gate_affine``); the gates, c and tanh(c) of every step go into
whole-sequence arrays (one step's, for inference). Backward:

    dL/dz_t = [dc * g s'(z_i), dc * c_prev s'(z_f), dc * i tanh'(z_g), dh * tanh(c) s'(z_o)]

with dh = dh_next + dhs_t and dc = dc_next + dh * o tanh'(c); then dh_prev^T = W_h dz^T and
dc_prev = dc * f. In NumPy the bracketed factors (everything but dc and dh) are filled in for
a chunk of steps that fits in cache; each step multiplies them in place. The steps fill a
block of dL/dz, feature-major (4H, steps, B), which is a (4H, steps * B) matrix for the
stacked weight gradients (``layout.StackedGrads``).

The compiled backend (float32, ``kernels.compiled``) runs a whole run of steps in one call,
each step's product through NumPy's own BLAS and its elementwise work in one loop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np

from bptt.cells.lstm import LSTMCache, LSTMCarry, LSTMParams
from bptt.kernels.base import FusedCaches
from bptt.kernels.layout import (
    StackedGrads,
    block_pieces,
    block_steps,
    chunk_steps,
    gate_affine,
    stacked_inputs,
    time_major,
)
from bptt.kernels.workspace import Lease, Workspace
from bptt.types import Array

Loops = tuple[Callable[..., None], Callable[..., None]]


class LSTMKernel:
    """The fused loops of ``LSTMCell`` (a SequenceKernel); ``loops`` are the compiled
    (forward, backward) loops of ``kernels.compiled.lstm_loops``, or None for NumPy."""

    def __init__(self, loops: Loops | None = None) -> None:
        self.loops = loops

    def forward(
        self,
        params: LSTMParams,
        xs: Array,
        carry0: LSTMCarry,
        *,
        keep: bool,
        workspace: Workspace,
        lease: Lease,
    ) -> _Forward:
        return _Forward(params, xs, carry0, keep, workspace.lease(), lease, self.loops)

    def backward(
        self,
        params: LSTMParams,
        xs: Array,
        hs_ext: Array,
        caches: Sequence[Any],
        dhs: Array | None,
        dcarry_T: LSTMCarry,
        *,
        input_grad: bool,
        workspace: Workspace,
    ) -> _Backward:
        return _Backward(
            params, xs, hs_ext, caches, dhs, dcarry_T, input_grad, workspace.lease(), self.loops
        )


class _Forward:
    def __init__(
        self,
        params: LSTMParams,
        xs: Array,
        carry0: LSTMCarry,
        keep: bool,
        scratch: Lease,
        lease: Lease,
        loops: Loops | None,
    ) -> None:
        T, B, _ = xs.shape
        H = params.W_h.shape[0]
        dtype = params.W_h.dtype
        self.scratch, self.lease = scratch, lease
        scale, shift = gate_affine("ssts", H, B, dtype)  # (4H, B)
        W, hx = stacked_inputs(params.W_x, params.W_h, params.b, xs, carry0.h, scale[:, 0], scratch)
        self.hs = hx[:, :H]  # (T + 1, H, B) views: h_{t-1} of each step
        if keep:  # whole-sequence arrays for the tape
            self.gates = lease.empty((T, 4 * H, B), dtype)  # z, then the gates
            self.cs = lease.empty((T + 1, H, B), dtype)  # [c0, c_1, ...]
            self.tanh_cs = lease.empty((T, H, B), dtype)
            self.c_steps = list(self.cs)
        else:  # inference: one step's buffers, so only the outputs grow with T
            self.gates, self.tanh_cs = np.empty((1, 4 * H, B), dtype), np.empty((1, H, B), dtype)
            # c_{t-1} and c_t alternate between two buffers: the compiled step vectorises only
            # when they do not overlap.
            self.cs = np.empty((2, H, B), dtype)
            self.c_steps = [self.cs[t % 2] for t in range(T + 1)]
        self.c_steps[0][...] = carry0.c.T
        if loops is not None:
            self._run = partial(loops[0], W, hx, self.gates, self.cs, self.tanh_cs)
        else:
            arrays = (W, hx, self.gates, self.c_steps, self.tanh_cs, scale, shift)
            self._run = partial(_numpy_forward_steps, *arrays, np.empty((H, B), dtype))

    def carry(self, t: int) -> LSTMCarry:
        return LSTMCarry(self.hs[t].T, self.c_steps[t].T)

    def run(self, start: int, stop: int) -> None:
        self._run(start, stop)

    def hidden_states(self) -> Array:
        hs_ext = time_major(self.hs)  # (T + 1, B, H)
        self.scratch.release()  # hx
        return hs_ext

    def record(self, outputs: Array) -> FusedCaches:
        gates, cs, tanh_cs = self.gates, self.cs, self.tanh_cs

        def cache(t: int) -> LSTMCache:
            return LSTMCache(gates[t].T, tanh_cs[t].T, cs[t].T)

        return FusedCaches(len(gates), cache, (gates, cs, tanh_cs), self.lease)


def _numpy_forward_steps(
    W: Array,
    hx: Array,
    gates: Array,
    c_steps: list[Array],
    tanh_cs: Array,
    scale: Array,
    shift: Array,
    ig: Array,
    start: int,
    stop: int,
) -> None:
    """Steps [start, stop): one product, then the elementwise step in NumPy. With one row of
    gates and tanh_cs (inference), every step reuses it."""
    H = ig.shape[0]
    for t in range(start, stop):
        k = t if len(gates) > 1 else 0
        z, tanh_c, h = gates[k], tanh_cs[k], hx[t + 1, :H]
        c_prev, c = c_steps[t], c_steps[t + 1]
        np.matmul(W, hx[t], out=z)  # (4H, B), z with the sigmoid rows halved
        np.tanh(z, out=z)
        z *= scale
        z += shift  # i, f, g, o
        i, f, g, o = (z[q * H : (q + 1) * H] for q in range(4))
        np.multiply(f, c_prev, out=c)
        np.multiply(i, g, out=ig)
        c += ig
        np.tanh(c, out=tanh_c)
        np.multiply(o, tanh_c, out=h)


class _Backward:
    def __init__(
        self,
        params: LSTMParams,
        xs: Array,
        hs_ext: Array,
        caches: FusedCaches,
        dhs: Array | None,
        dcarry_T: LSTMCarry,
        input_grad: bool,
        scratch: Lease,
        loops: Loops | None,
    ) -> None:
        self.arrays = caches.arrays  # gates (T, 4H, B), cs (T + 1, H, B), tanh_cs (T, H, B)
        T, GH, B = self.arrays[0].shape
        dtype = self.arrays[0].dtype
        self.T, self.scratch = T, scratch
        self.dh = np.array(dcarry_T.h.T, dtype=dtype, order="C")  # (H, B) dL/dh from later
        self.dc = np.array(dcarry_T.c.T, dtype=dtype, order="C")  # (H, B) dL/dc through c_{t+1}
        self.block = block_steps(T, GH * dtype.itemsize, B)
        self.blocks = {  # dL/dz of a block, feature-major; the one short block has its own
            n: scratch.empty((GH, n, B), dtype) for n in {min(self.block, T), T % self.block} if n
        }
        self.stacked = StackedGrads(params.W_x, xs, hs_ext[:-1], input_grad)
        if loops is not None:
            self.steps = self._compiled_steps(loops[1], params.W_h, dhs)
        else:
            self.steps = self._numpy_steps(params.W_h, dhs)

    def dcarry(self) -> LSTMCarry:
        return LSTMCarry(self.dh.T, self.dc.T)

    def run(self, start: int, stop: int) -> None:
        for a, b, block_start, block_stop in block_pieces(start, stop, self.block, self.T):
            dz = self.blocks[block_stop - block_start]
            self.steps(a, b, dz, block_start)
            if a == block_start:  # the block is complete
                rows = dz.reshape(dz.shape[0], -1)  # (4H, steps * B)
                self.stacked.add_feature_major(block_start, rows, rows)

    def finish(self) -> tuple[LSTMParams, Array | None]:
        self.scratch.release()
        dW_x, dW_h, db, dxs = self.stacked.result()
        return LSTMParams(dW_x, dW_h, db), dxs

    def _compiled_steps(
        self, loop: Callable[..., None], W_h: Array, dhs: Array | None
    ) -> Callable[[int, int, Array, int], None]:
        """``steps(start, stop, dz, offset)``: one compiled call for the whole run."""
        gates, cs, tanh_cs = self.arrays
        T, GH, B = gates.shape
        if dhs is None:
            flat = np.zeros((1, GH // 4 * B), gates.dtype)
        else:  # feature-major and flat, like the other inputs of the loop
            flat = np.ascontiguousarray(dhs.transpose(0, 2, 1)).reshape(T, -1)
        W_h = np.ascontiguousarray(W_h)  # (H, 4H), as the compiled loop reads it
        dh, dc = self.dh, self.dc  # not self: no reference cycle keeps the arrays alive

        def steps(start: int, stop: int, dz: Array, offset: int) -> None:
            loop(W_h, gates, cs, tanh_cs, dh, dc, flat, dz, start, stop, offset)

        return steps

    def _numpy_steps(self, W_h: Array, dhs: Array | None) -> Callable[[int, int, Array, int], None]:
        """``steps(start, stop, dz, offset)``: steps stop - 1 down to start in NumPy, dL/dz of
        step t into dz[:, t - offset]."""
        gates, cs, tanh_cs = self.arrays
        T, GH, B = gates.shape
        H, dtype = GH // 4, gates.dtype
        i, f, g, o = (gates[:, k * H : (k + 1) * H] for k in range(4))  # (T, H, B)
        chunk = chunk_steps(T, (GH + 2 * H) * B * dtype.itemsize)
        d = np.empty((chunk, GH, B), dtype)  # one chunk's factors, then its dL/dz^T
        d_i, d_f, d_g, d_o = (d[:, k * H : (k + 1) * H] for k in range(4))
        d_ifg = d.reshape(chunk, 4, H, B)[:, :3]  # (chunk, 3, H, B)
        slope_c = np.empty((chunk, H, B), dtype)  # o * tanh'(c)
        dhs_t = None if dhs is None else np.empty((chunk, H, B), dtype)
        dh_sum, dc = np.empty((H, B), dtype), np.empty((H, B), dtype)
        dh_next, dc_next = self.dh, self.dc

        def steps(start: int, stop: int, dz: Array, offset: int) -> None:
            for c_stop in range(stop, start, -chunk):
                c_start = max(start, c_stop - chunk)
                n, s = c_stop - c_start, slice(c_start, c_stop)
                for out, a, b in ((d_i, i, g), (d_f, f, cs[:-1]), (d_o, o, tanh_cs)):
                    block = out[:n]  # b * s'(z) = b * a (1 - a)
                    np.subtract(1, a[s], out=block)
                    np.multiply(block, a[s], out=block)
                    np.multiply(block, b[s], out=block)
                block = d_g[:n]  # i * tanh'(z_g) = i * (1 - g^2)
                np.multiply(g[s], g[s], out=block)
                np.subtract(1, block, out=block)
                np.multiply(block, i[s], out=block)
                k = slope_c[:n]  # o * (1 - tanh(c)^2)
                np.multiply(tanh_cs[s], tanh_cs[s], out=k)
                np.subtract(1, k, out=k)
                np.multiply(k, o[s], out=k)
                if dhs_t is not None:
                    dhs_t[:n] = dhs[s].transpose(0, 2, 1)
                for j in range(n - 1, -1, -1):
                    dh = dh_next if dhs_t is None else np.add(dh_next, dhs_t[j], out=dh_sum)
                    np.multiply(dh, k[j], out=dc)
                    np.add(dc, dc_next, out=dc)
                    np.multiply(d_ifg[j], dc, out=d_ifg[j])
                    np.multiply(d_o[j], dh, out=d_o[j])
                    np.matmul(W_h, d[j], out=dh_next)  # (H, B)
                    np.multiply(dc, f[c_start + j], out=dc_next)
                dz[:, c_start - offset : c_stop - offset] = d[:n].transpose(1, 0, 2)

        return steps
