"""Array layouts and stacked products shared by the fused loops.

The LSTM and GRU loops work feature-major: a step's arrays are (N, B), so every gate block is
a contiguous (H, B) slab. The backward loops hand their dL/dz to ``StackedGrads`` in blocks of
steps, and fill each block run by run (``block_pieces``), so dL/dz never exists whole.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bptt.kernels.workspace import Lease
from bptt.types import Array


def time_major(a: Array) -> Array:
    """(T, N, B) feature-major steps -> a C-contiguous (T, B, N) copy."""
    return np.ascontiguousarray(a.transpose(0, 2, 1))


def gate_affine(blocks: str, H: int, B: int, dtype: Any) -> tuple[Array, Array]:
    """(scale, shift), each (G*H, B), that turn tanh into the gate activations block by block.

    A block marked "s" is a sigmoid, computed as s(z) = 0.5 + 0.5 tanh(z / 2); "t" is tanh.
    The fused loops scale the sigmoid rows of W_x^T, W_h^T and b by 0.5 (exact in floating
    point), so one tanh call covers every gate, followed by ``y * scale + shift``. Both are
    full (G*H, B) arrays: a ufunc over two same-shaped arrays is faster than a broadcast.
    """
    scale = np.repeat([0.5 if k == "s" else 1.0 for k in blocks], H).astype(dtype)
    shift = np.repeat([0.5 if k == "s" else 0.0 for k in blocks], H).astype(dtype)
    full = (scale.shape[0], B)
    return np.broadcast_to(scale[:, None], full).copy(), np.broadcast_to(
        shift[:, None], full
    ).copy()


def projection_t(W_x: Array, b: Array, xs: Array, scale: Array) -> Array:
    """The input projection, feature-major: xp[t] = ((x_t W_x + b) * scale)^T, (T, G*H, B).

    One (G*H, D) x (D, B) product per step, written straight into the (T, G*H, B) array;
    ``scale`` (G*H,) multiplies the columns of W_x and b.
    """
    W_xT = (W_x * scale).T  # (G*H, D)
    xp = np.matmul(W_xT, xs.transpose(0, 2, 1))  # (T, G*H, B)
    xp += (b * scale)[:, None]
    return xp


def stacked_inputs(
    W_x: Array, W_h: Array, b: Array, xs: Array, h0: Array, scale: Array, lease: Lease
) -> tuple[Array, Array]:
    """The operands of one product per step that gives the whole pre-activation.

    Returns:
        W (G*H, H + D + 1) = [W_h^T  W_x^T  b], C-ordered, with every row multiplied by
        ``scale`` (G*H,), and hx (T + 1, H + D + 1, B), drawn from ``lease``, holding
        [h_{t-1}^T; x_t^T; 1] for each step t: rows :H are h0^T at t = 0 and are to be filled
        with h_t^T by the loop (row H: of the last step are unused). Then z_t^T = W @ hx[t].
    """
    T, B, D = xs.shape
    H = W_h.shape[0]
    W = np.concatenate([W_h.T, W_x.T, b[:, None]], axis=1)  # (G*H, H + D + 1)
    W = np.multiply(W, scale[:, None], order="C")
    hx = lease.empty((T + 1, H + D + 1, B), W.dtype)
    hx[0, :H] = h0.T
    hx[:T, H : H + D] = xs.transpose(0, 2, 1)
    hx[:, H + D] = 1
    return W, hx


def chunk_steps(T: int, bytes_per_step: int, budget: int = 1 << 21) -> int:
    """Steps per chunk of whole-sequence elementwise work, so a chunk's arrays stay in cache."""
    return max(1, min(T, budget // max(bytes_per_step, 1)))


def block_steps(T: int, row_bytes: int, B: int, *, rows: int = 4096, budget: int = 64 << 20) -> int:
    """Steps per block of the stacked weight gradients.

    Enough steps for about ``rows`` stacked rows, so each product stays efficient, but at
    most ``budget`` bytes of (steps, B, G*H) gradient rows (``row_bytes`` per row).
    """
    want = min(-(-rows // B), max(1, budget // max(B * row_bytes, 1)))
    return max(1, min(T, want))


def block_pieces(start: int, stop: int, block: int, T: int) -> list[tuple[int, int, int, int]]:
    """Steps [start, stop) cut at the blocks of ``block`` steps counted from T down, in
    reverse: (a, b, block_start, block_stop) per piece. Block k is
    [max(0, T - (k + 1) block), T - k block); a backward loop that fills steps b - 1 down to a
    of the block has filled it whole when a == block_start."""
    pieces = []
    t = stop
    while t > start:
        block_stop = T - (T - t) // block * block
        block_start = max(0, block_stop - block)
        a = max(start, block_start)
        pieces.append((a, t, block_start, block_stop))
        t = a
    return pieces


TRANSPOSED_PRODUCT_H = 256
"""From this H on, a feature-major block's dW_h is computed in its (H, G*H) layout directly;
below, as (G*H, H) and added transposed. Measured on the benchmark machine (OpenBLAS,
SkylakeX kernel), per block: 59 against 90 ms at H=1024 (B=64, 50 steps), 16.1 against 20.0 ms
at H=512 and 1.34 against 1.18 ms at H=128 (B=32, 100 steps); 256 lies between."""


class StackedGrads:
    """The stacked weight gradients accumulated over blocks of steps.

    dW_x = X^T dXP, dW_h = H_prev^T dHP, db = sum dXP and dxs = dXP W_x^T, with one product
    per block: the backward loops hand over blocks in any order; each adds its products and
    fills its rows of dxs (skipped, and dxs None, without ``input_grad``: a first layer whose
    inputs need no gradient).
    """

    def __init__(self, W_x: Array, xs: Array, hs_prev: Array, input_grad: bool = True) -> None:
        T, B, D = xs.shape
        GH = W_x.shape[1]
        H = hs_prev.shape[-1]
        self.W_x, self.xs, self.hs_prev = W_x, xs, hs_prev
        self.dW_x = np.zeros((D, GH), W_x.dtype)
        self.dW_h = np.zeros((H, GH), W_x.dtype)
        self.db = np.zeros(GH, W_x.dtype)
        self.dxs = np.empty((T, B, D), W_x.dtype) if input_grad else None

    def add(self, start: int, dxp: Array, dhp: Array) -> None:
        """Steps [start, start + len(dxp)): dxp and dhp (steps, B, G*H), views allowed."""
        stop = start + dxp.shape[0]
        rows = dxp.shape[0] * dxp.shape[1]
        dxp2 = dxp.reshape(rows, -1)  # (rows, G*H)
        dhp2 = dhp.reshape(rows, -1)
        D, H = self.dW_x.shape[0], self.dW_h.shape[0]
        self.dW_x += self.xs[start:stop].reshape(rows, D).T @ dxp2  # (D, G*H)
        self.dW_h += self.hs_prev[start:stop].reshape(rows, H).T @ dhp2  # (H, G*H)
        self.db += dxp2.sum(axis=0)
        if self.dxs is not None:
            np.matmul(dxp2, self.W_x.T, out=self.dxs[start:stop].reshape(rows, D))

    def add_feature_major(self, start: int, dxp: Array, dhp: Array) -> None:
        """Like ``add``, for blocks stored feature-major: dxp and dhp (G*H, steps * B)."""
        rows = dxp.shape[1]
        stop = start + rows // self.xs.shape[1]
        D, H = self.dW_x.shape[0], self.dW_h.shape[0]
        self.dW_x += (dxp @ self.xs[start:stop].reshape(rows, D)).T  # (D, G*H)
        hs_prev = self.hs_prev[start:stop].reshape(rows, H)
        if H >= TRANSPOSED_PRODUCT_H:  # H_prev^T dhp^T, in dW_h's own layout: no strided add
            self.dW_h += hs_prev.T @ dhp.T  # (H, G*H)
        else:
            self.dW_h += (dhp @ hs_prev).T  # (H, G*H)
        self.db += dxp.sum(axis=1)
        if self.dxs is not None:
            np.matmul(dxp.T, self.W_x.T, out=self.dxs[start:stop].reshape(rows, D))

    def result(self) -> tuple[Array, Array, Array, Array | None]:
        """(dW_x (D, G*H), dW_h (H, G*H), db (G*H,), dxs (T, B, D) or None without
        ``input_grad``)."""
        return self.dW_x, self.dW_h, self.db, self.dxs
