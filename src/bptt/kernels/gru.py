"""The fused loops of the GRU (``bptt.cells.gru``), in NumPy.

Feature-major steps, so every gate block is a contiguous (H, B) array. Forward: the input
projection of every step is one product (``layout.projection_t``) with the r and z rows of
W_x^T, W_h^T and b halved, so r, z = 0.5 + 0.5 tanh(.) come from one tanh call; r, z and n then
replace the projection in place. Backward: every gradient of a step is dh times a factor that
does not depend on dh:

    dxp_n = dh * (1 - z)(1 - n^2)                = dh * P_n
    dxp_r = dh * P_n hn r (1 - r)                = dh * P_r
    dxp_z = dh * (h_prev - n) z (1 - z)          = dh * P_z
    dhp_n = dh * P_n r                           = dh * Q
    dh_prev = [dxp_r, dxp_z, dhp_n] W_h^T + dh * z

The factors are stacked feature-major as [P_n, P_r, P_z, Q] (4H, B) per step, for a chunk of
steps that fits in cache, so one multiplication by dh gives every gradient and rows H: 4H are
dhp^T in PyTorch's gate order. Each chunk is transposed into a block of rows (steps, B, 4H):
columns :3H are dxp in the order [n, r, z] and columns H: are dhp; each full block adds its
stacked products to the weight gradients (``layout.StackedGrads``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bptt.cells.gru import GRUCache, GRUCarry, GRUParams
from bptt.kernels.base import FusedCaches
from bptt.kernels.layout import (
    StackedGrads,
    block_pieces,
    block_steps,
    chunk_steps,
    projection_t,
    time_major,
)
from bptt.kernels.workspace import Lease, Workspace
from bptt.types import Array


class GRUKernel:
    """The fused loops of ``GRUCell`` (a SequenceKernel)."""

    def forward(
        self,
        params: GRUParams,
        xs: Array,
        carry0: GRUCarry,
        *,
        keep: bool,
        workspace: Workspace,
        lease: Lease,
    ) -> _Forward:
        return _Forward(params, xs, carry0, lease)

    def backward(
        self,
        params: GRUParams,
        xs: Array,
        hs_ext: Array,
        caches: Sequence[Any],
        dhs: Array | None,
        dcarry_T: GRUCarry,
        *,
        input_grad: bool,
        workspace: Workspace,
    ) -> _Backward:
        return _Backward(params, xs, hs_ext, caches, dhs, dcarry_T, input_grad)


class _Forward:
    def __init__(self, params: GRUParams, xs: Array, carry0: GRUCarry, lease: Lease) -> None:
        T, B, _ = xs.shape
        H = params.W_h.shape[0]
        dtype = params.W_h.dtype
        self.lease = lease
        scale = np.repeat(np.array([0.5, 0.5, 1.0], dtype), H)  # (3H,)
        self.rzn = projection_t(params.W_x, params.b, xs, scale)  # (T, 3H, B): xp, then r, z, n
        self.W_hT = (params.W_h * scale).T.copy()  # (3H, H)
        self.b_hn = np.broadcast_to(params.b_hn[:, None], (H, B)).copy()  # (H, B)
        self.hs = np.empty((T + 1, H, B), dtype)  # [h0, h_1, ...], feature-major
        self.hs[0] = carry0.h.T
        self.hns = np.empty((T, H, B), dtype)  # hp_n + b_hn of every step
        self.hp = np.empty((3 * H, B), dtype)
        self.rn = np.empty((H, B), dtype)
        rzn = self.rzn  # [r, z] (for one tanh), r, z and n of every step:
        self.gates = (rzn[:, : 2 * H], rzn[:, :H], rzn[:, H : 2 * H], rzn[:, 2 * H :])
        self.hs_ext: Array | None = None

    def carry(self, t: int) -> GRUCarry:
        return GRUCarry(self.hs[t].T)

    def run(self, start: int, stop: int) -> None:
        H = self.hs.shape[1]
        hp, rn, b_hn = self.hp, self.rn, self.b_hn
        hp_rz, hp_n = hp[: 2 * H], hp[2 * H :]
        rz, r, z, n = self.gates
        for t in range(start, stop):
            h_prev, h, hn = self.hs[t], self.hs[t + 1], self.hns[t]
            rz_t, r_t, z_t, n_t = rz[t], r[t], z[t], n[t]
            np.matmul(self.W_hT, h_prev, out=hp)  # (3H, B)
            rz_t += hp_rz
            np.tanh(rz_t, out=rz_t)
            rz_t *= 0.5
            rz_t += 0.5  # r, z
            np.add(hp_n, b_hn, out=hn)
            np.multiply(r_t, hn, out=rn)
            n_t += rn
            np.tanh(n_t, out=n_t)
            np.subtract(h_prev, n_t, out=h)
            h *= z_t
            h += n_t  # (1 - z) * n + z * h_prev

    def hidden_states(self) -> Array:
        self.hs_ext = time_major(self.hs)  # (T + 1, B, H)
        return self.hs_ext

    def record(self, outputs: Array) -> FusedCaches:
        H = self.hs.shape[1]
        rzn, hns, hs_ext = self.rzn, self.hns, self.hs_ext
        r, z, n = rzn[:, :H], rzn[:, H : 2 * H], rzn[:, 2 * H :]

        def cache(t: int) -> GRUCache:
            return GRUCache(r[t].T, z[t].T, n[t].T, hns[t].T, hs_ext[t])

        return FusedCaches(len(rzn), cache, (rzn, hns), self.lease)


class _Backward:
    def __init__(
        self,
        params: GRUParams,
        xs: Array,
        hs_ext: Array,
        caches: FusedCaches,
        dhs: Array | None,
        dcarry_T: GRUCarry,
        input_grad: bool,
    ) -> None:
        self.rzn, self.hns = caches.arrays
        T, GH, B = self.rzn.shape
        H = GH // 3
        dtype = self.rzn.dtype
        self.T, self.H, self.dhs = T, H, dhs
        self.hs_prev = hs_ext[:-1].transpose(0, 2, 1)  # (T, H, B) view
        self.chunk = chunk_steps(T, 5 * H * B * dtype.itemsize)
        self.block = block_steps(T, 4 * H * dtype.itemsize, B)
        self.d = np.empty((self.chunk, 4 * H, B), dtype)  # [P_n, P_r, P_z, Q], then gradients
        self.dhs_t = None if dhs is None else np.empty((self.chunk, H, B), dtype)
        self.rows = np.empty((self.block, B, 4 * H), dtype)  # [dxp_n, dxp_r, dxp_z, dhp_n]
        # dxp comes in the order [n, r, z]: reorder the small results, not the big array.
        self.order = np.r_[H : 3 * H, 0:H]  # [r, z, n] from [n, r, z]
        W_x_nrz = params.W_x[:, np.r_[2 * H : 3 * H, 0 : 2 * H]]
        self.stacked = StackedGrads(W_x_nrz, xs, hs_ext[:-1], input_grad)
        self.db_hn = np.zeros(H, dtype)
        self.W_h = params.W_h  # (H, 3H)
        self.dh = np.array(dcarry_T.h.T, dtype=dtype, order="C")  # (H, B) dL/dh from later
        self.dh_sum = np.empty((H, B), dtype)
        self.zdh = np.empty((H, B), dtype)

    def dcarry(self) -> GRUCarry:
        return GRUCarry(self.dh.T)

    def run(self, start: int, stop: int) -> None:
        for a, b, block_start, block_stop in block_pieces(start, stop, self.block, self.T):
            for c_stop in range(b, a, -self.chunk):
                c_start = max(a, c_stop - self.chunk)
                self._chunk(c_start, c_stop)
                m = c_stop - c_start
                rows = self.rows[c_start - block_start : c_stop - block_start]
                rows[...] = self.d[:m].transpose(0, 2, 1)
            if a == block_start:  # the block is complete
                full = self.rows[: block_stop - block_start]
                GH = 3 * self.H
                self.stacked.add(block_start, full[..., :GH], full[..., self.H :])
                self.db_hn += full[..., GH:].sum(axis=(0, 1))  # (H,)

    def _chunk(self, start: int, stop: int) -> None:
        """Steps stop - 1 down to start: the factors for all of them, then step by step."""
        H, m, s = self.H, stop - start, slice(start, stop)
        r, z, n = self.rzn[s, :H], self.rzn[s, H : 2 * H], self.rzn[s, 2 * H :]
        pn, pr, pz, qs = (self.d[:m, k * H : (k + 1) * H] for k in range(4))
        np.multiply(n, n, out=pn)
        np.subtract(1, pn, out=pn)
        np.subtract(1, z, out=pz)  # 1 - z, for now
        np.multiply(pn, pz, out=pn)
        np.multiply(pn, r, out=qs)
        np.subtract(1, r, out=pr)
        np.multiply(pr, r, out=pr)
        np.multiply(pr, self.hns[s], out=pr)
        np.multiply(pr, pn, out=pr)
        np.multiply(pz, z, out=pz)
        pz *= np.subtract(self.hs_prev[s], n)
        if self.dhs_t is not None:
            self.dhs_t[:m] = self.dhs[s].transpose(0, 2, 1)
        d4 = self.d.reshape(self.d.shape[0], 4, H, -1)
        dh_sum = self.dh_sum
        for j in range(m - 1, -1, -1):
            if self.dhs_t is None:
                dh_sum[...] = self.dh
            else:
                np.add(self.dh, self.dhs_t[j], out=dh_sum)
            np.multiply(d4[j], dh_sum, out=d4[j])
            np.matmul(self.W_h, self.d[j, H:], out=self.dh)  # (H, B)
            np.multiply(dh_sum, z[j], out=self.zdh)
            self.dh += self.zdh

    def finish(self) -> tuple[GRUParams, Array | None]:
        dW_x, dW_h, db, dxs = self.stacked.result()
        return GRUParams(dW_x[:, self.order], dW_h, db[self.order], self.db_hn), dxs
