"""GRU cell (Cho et al. 2014) with the reset gate inside the hidden product, as PyTorch does.

Gate blocks along the last axis follow PyTorch's order r, z, n (G = 3):

    xp = x_t W_x + b                     hp = h_{t-1} W_h                 (B, 3H)
    r = s(xp_r + hp_r)
    z = s(xp_z + hp_z)
    n = tanh(xp_n + r * (hp_n + b_hn))
    h_t = (1 - z) * n + z * h_{t-1}

Efficient implementation equivalent to the following plain loop::

    for t in range(T):
        xp, hp = xs[t] @ W_x + b, h @ W_h
        r = sigmoid(xp_r + hp_r)
        z = sigmoid(xp_z + hp_z)
        n = tanh(xp_n + r * (hp_n + b_hn))
        h = (1 - z) * n + z * h

Because r multiplies the hidden product of the n block, the gradient of the hidden-projection
pre-activation differs from the input one in that block: dhp_n = r * dxp_n. ``b_hn`` is PyTorch's
``bias_hh`` n block (equinox calls it ``bias_n``).

``GRUCell.sequence_kernels`` runs the same loop fused over a whole sequence (see
``forward_sequence`` and ``backward_sequence``): feature-major steps, so every gate block is a
contiguous (H, B) array; one tanh call for r and z; no allocation inside the loop; and in the
backward pass every factor that does not depend on the incoming gradient computed for blocks
of steps at once, leaving five calls per step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from bptt.cells.base import (
    SequenceCaches,
    StackedGrads,
    block_steps,
    check_sizes,
    chunk_steps,
    kernels_if_unchanged,
    outputs_before_resets,
    padded_columns,
    project_inputs,
    projection_t,
    restart_columns,
    sigmoid,
    stacked_grads,
    step_functions,
    time_major,
    uniform_init,
    zero_padded,
)
from bptt.types import Array, Observer, SequenceKernels


class GRUParams(NamedTuple):
    W_x: Array  # (D, 3H)
    W_h: Array  # (H, 3H)
    b: Array  # (3H,)
    b_hn: Array  # (H,)


class GRUCarry(NamedTuple):
    h: Array  # (B, H)


class GRUCache(NamedTuple):
    r: Array  # (B, H)
    z: Array  # (B, H)
    n: Array  # (B, H)
    hn: Array  # (B, H) hp_n + b_hn, the term the reset gate multiplies
    h_prev: Array  # (B, H)


@dataclass(frozen=True)
class GRUCell:
    """GRU cell with PyTorch's placement of the reset gate."""

    name: str = "gru"
    num_gates: int = 3
    params_type: type = GRUParams
    carry_type: type = GRUCarry
    separate_hidden_grad: bool = True

    def init_params(
        self,
        rng: np.random.Generator,
        input_size: int,
        hidden_size: int,
        *,
        dtype: Any = np.float32,
    ) -> GRUParams:
        """U(-1/sqrt(H), 1/sqrt(H)) for every weight and bias, as PyTorch does."""
        dt = check_sizes(input_size, hidden_size, dtype)
        H = hidden_size
        return GRUParams(
            W_x=uniform_init(rng, (input_size, 3 * H), H, dt),
            W_h=uniform_init(rng, (H, 3 * H), H, dt),
            b=uniform_init(rng, (3 * H,), H, dt),
            b_hn=uniform_init(rng, (H,), H, dt),
        )

    @property
    def sequence_kernels(self) -> SequenceKernels | None:
        """The fused loops, or None once a subclass or patch replaced a step function."""
        return kernels_if_unchanged(self, _STEPS, _KERNELS)

    def input_projection(self, params: GRUParams, xs: Array) -> Array:
        return project_inputs(params.W_x, params.b, xs)  # (T, B, 3H)

    def step_forward(
        self, params: GRUParams, xp_t: Array, carry: GRUCarry
    ) -> tuple[GRUCarry, GRUCache]:
        h_prev = carry.h
        H = h_prev.shape[1]
        hp = h_prev @ params.W_h  # (B, 3H)
        rz = hp[:, : 2 * H]
        rz += xp_t[:, : 2 * H]
        sigmoid(rz, out=rz)
        r, z = rz[:, :H], rz[:, H:]
        hn = hp[:, 2 * H :]
        hn += params.b_hn
        n = r * hn  # (B, H)
        n += xp_t[:, 2 * H :]
        np.tanh(n, out=n)
        h = n - z * (n - h_prev)  # (1 - z) * n + z * h_prev
        return GRUCarry(h), GRUCache(r, z, n, hn, h_prev)

    def step_backward(
        self, params: GRUParams, cache_t: GRUCache, dcarry: GRUCarry
    ) -> tuple[GRUCarry, Array, Array]:
        r, z, n, hn, h_prev = cache_t
        H = r.shape[1]
        dh = dcarry.h
        dxp = np.empty((dh.shape[0], 3 * H), dtype=dh.dtype)  # (B, 3H)
        dn = dh * (1.0 - z) * (1.0 - n * n)  # gradient of the n pre-activation
        dxp[:, 2 * H :] = dn
        dxp[:, :H] = dn * hn * r * (1.0 - r)  # through r = s(.)
        dxp[:, H : 2 * H] = dh * (h_prev - n) * z * (1.0 - z)  # through z = s(.)
        dhp = dxp.copy()
        dhp[:, 2 * H :] *= r  # the reset gate sits inside the hidden product
        dh_prev = dhp @ params.W_h.T  # (B, H)
        dh_prev += dh * z
        return GRUCarry(dh_prev), dxp, dhp

    def weight_grads(
        self, params: GRUParams, xs: Array, hs_prev: Array, dxp: Array, dhp: Array
    ) -> tuple[GRUParams, Array]:
        dW_x, dW_h, db, dxs = stacked_grads(params.W_x, xs, hs_prev, dxp, dhp)
        H = params.b_hn.shape[0]
        db_hn = dhp[..., 2 * H :].reshape(-1, H).sum(axis=0)  # (H,)
        return GRUParams(dW_x, dW_h, db, db_hn), dxs


_STEPS = step_functions(GRUCell)


def forward_sequence(
    params: GRUParams,
    xs: Array,
    carry0: GRUCarry,
    mask: np.ndarray | None,
    resets: np.ndarray | None,
    *,
    keep: bool,
) -> tuple[Array, Array, GRUCarry, SequenceCaches | None]:
    """``step_forward`` at every step, on feature-major (N, B) arrays.

    The r and z rows of W_x^T, W_h^T and b are halved, so r, z = 0.5 + 0.5 tanh(.) come from
    one tanh call; r, z and n then replace the input projection in place. A padded sequence
    keeps its carry; a reset zeroes it before the step (see ``engine.forward``).

    Returns:
        hs (T, B, H); hs_ext (T + 1, B, H), the carried states [h0, h_1, ...] after any reset;
        the final carry; and (when ``keep``) the caches: views of rzn (T, 3H, B) = [r, z, n]
        and hns (T, H, B), transposed back to the (B, H) shapes of GRUCache.
    """
    T, B, _ = xs.shape
    H = params.W_h.shape[0]
    dtype = params.W_h.dtype
    scale = np.repeat(np.array([0.5, 0.5, 1.0], dtype), H)  # (3H,)
    rzn = projection_t(params.W_x, params.b, xs, scale)  # (T, 3H, B): xp, then r, z, n
    W_hT = (params.W_h * scale).T.copy()  # (3H, H)
    b_hn = np.broadcast_to(params.b_hn[:, None], (H, B)).copy()  # (H, B)
    rz, r, z, n = rzn[:, : 2 * H], rzn[:, :H], rzn[:, H : 2 * H], rzn[:, 2 * H :]
    hs = np.empty((T + 1, H, B), dtype)
    hs[0] = carry0.h.T
    hns = np.empty((T, H, B), dtype)
    hp = np.empty((3 * H, B), dtype)
    hp_rz, hp_n = hp[: 2 * H], hp[2 * H :]
    rn = np.empty((H, B), dtype)
    restarts, kept = restart_columns(resets), {}
    pads = padded_columns(mask)
    steps = zip(hs, hs[1:], rz, r, z, n, hns, strict=False)
    for t, (h_prev, h, rz_t, r_t, z_t, n_t, hn) in enumerate(steps):
        if t in restarts:  # a new sequence starts in these columns: zero their carry
            if t > 0:
                kept[t - 1] = h_prev[:, restarts[t]].copy()  # the output of step t - 1
            h_prev[:, restarts[t]] = 0
        np.matmul(W_hT, h_prev, out=hp)  # (3H, B)
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
        if t in pads:  # padded sequences keep their carry
            h[:, pads[t]] = h_prev[:, pads[t]]
    hs_ext = time_major(hs)  # (T + 1, B, H)
    outputs = zero_padded(outputs_before_resets(hs_ext, kept, restarts), mask)
    carry = GRUCarry(hs_ext[T].copy())
    if not keep:
        return outputs, hs_ext, carry, None

    def cache(t: int) -> GRUCache:
        return GRUCache(r[t].T, z[t].T, n[t].T, hns[t].T, hs_ext[t])

    return outputs, hs_ext, carry, SequenceCaches(T, cache, (rzn, hns), _KERNELS)


def backward_sequence(
    params: GRUParams,
    xs: Array,
    hs_ext: Array,
    caches: SequenceCaches,
    dhs: Array | None,
    dcarry: GRUCarry,
    mask: np.ndarray | None,
    resets: np.ndarray | None,
    observer: Observer | None,
    input_grad: bool = True,
) -> tuple[GRUParams, Array, GRUCarry]:
    """``step_backward`` at every step in reverse, then ``weight_grads``, on whole arrays.

    Every gradient of a step is dh times a factor that does not depend on dh:

        dxp_n = dh * (1 - z)(1 - n^2)                = dh * P_n
        dxp_r = dh * P_n hn r (1 - r)                = dh * P_r
        dxp_z = dh * (h_prev - n) z (1 - z)          = dh * P_z
        dhp_n = dh * P_n r                           = dh * Q
        dh_prev = [dxp_r, dxp_z, dhp_n] W_h^T + dh * z

    The factors are stacked feature-major as [P_n, P_r, P_z, Q] (4H, B) per step, for a chunk
    of steps that fits in cache, so one multiplication by dh gives every gradient and rows
    H: 4H are dhp^T in PyTorch's gate order. Each chunk is transposed into a block of rows
    (steps, B, 4H): columns :3H are dxp in the order [n, r, z] and columns H: are dhp; each
    full block adds its stacked products to the weight gradients (StackedGrads).
    """
    rzn, hns = caches.arrays
    T, GH, B = rzn.shape
    H = GH // 3
    dtype = rzn.dtype
    r, z, n = rzn[:, :H], rzn[:, H : 2 * H], rzn[:, 2 * H :]
    hs_prev = hs_ext[:-1].transpose(0, 2, 1)  # (T, H, B) view
    steps = chunk_steps(T, 5 * H * B * dtype.itemsize)
    block = block_steps(T, steps, 4 * H * dtype.itemsize, B)
    d = np.empty((steps, 4 * H, B), dtype)  # [P_n, P_r, P_z, Q], then the gradients
    p_n, p_r, p_z, q = (d[:, k * H : (k + 1) * H] for k in range(4))
    d4 = d.reshape(steps, 4, H, B)
    dhs_t = None if dhs is None else np.empty((steps, H, B), dtype)
    rows = np.empty((block, B, 4 * H), dtype)  # [dxp_n, dxp_r, dxp_z, dhp_n] per row
    # dxp in the order [n, r, z]: reorder the small results, not the big array.
    order = np.r_[H : 3 * H, 0:H]  # [r, z, n] from [n, r, z]
    W_x_nrz = params.W_x[:, np.r_[2 * H : 3 * H, 0 : 2 * H]]
    stacked = StackedGrads(W_x_nrz, xs, hs_ext[:-1], input_grad)
    db_hn = np.zeros(H, dtype)
    W_h = params.W_h  # (H, 3H)
    dh_next = np.array(dcarry.h.T, dtype=dtype, order="C")  # (H, B) dL/dh_t from later steps
    dh_sum = np.empty((H, B), dtype)
    zdh = np.empty((H, B), dtype)
    restarts, pads = restart_columns(resets), padded_columns(mask)
    if dhs is not None and mask is not None:
        dhs = np.where(mask[:, :, None], dhs, 0).astype(dtype)
    for stop in range(T, 0, -steps):
        start = max(0, stop - steps)
        m, s = stop - start, slice(start, stop)
        pn, pr, pz, qs = p_n[:m], p_r[:m], p_z[:m], q[:m]
        np.multiply(n[s], n[s], out=pn)
        np.subtract(1, pn, out=pn)
        np.subtract(1, z[s], out=pz)  # 1 - z, for now
        np.multiply(pn, pz, out=pn)
        np.multiply(pn, r[s], out=qs)
        np.subtract(1, r[s], out=pr)
        np.multiply(pr, r[s], out=pr)
        np.multiply(pr, hns[s], out=pr)
        np.multiply(pr, pn, out=pr)
        np.multiply(pz, z[s], out=pz)
        pz *= np.subtract(hs_prev[s], n[s])
        if dhs_t is not None:
            dhs_t[:m] = dhs[s].transpose(0, 2, 1)
        for j in range(m - 1, -1, -1):
            if dhs_t is None:
                dh_sum[...] = dh_next
            else:
                np.add(dh_next, dhs_t[j], out=dh_sum)
            if observer is not None:
                observer(start + j, GRUCarry(dh_sum.T.copy()))
            padded = pads.get(start + j)
            if padded is not None:  # a padded step: no gradient inside, dh passes through
                passed = dh_sum[:, padded].copy()
                dh_sum[:, padded] = 0
            np.multiply(d4[j], dh_sum, out=d4[j])
            np.matmul(W_h, d[j, H:], out=dh_next)  # (H, B)
            np.multiply(dh_sum, z[start + j], out=zdh)
            dh_next += zdh
            if padded is not None:
                dh_next[:, padded] = passed
            if start + j in restarts:  # the gradient stops where the sequence restarted
                dh_next[:, restarts[start + j]] = 0
        block_stop = T - (T - stop) // block * block
        block_start = max(0, block_stop - block)
        rows[start - block_start : stop - block_start] = d[:m].transpose(0, 2, 1)
        if start == block_start:
            full = rows[: block_stop - block_start]
            stacked.add(block_start, full[..., :GH], full[..., H:])
            db_hn += full[..., GH:].sum(axis=(0, 1))  # (H,)
    dW_x, dW_h, db, dxs = stacked.result()
    dparams = GRUParams(dW_x[:, order], dW_h, db[order], db_hn)
    return dparams, dxs, GRUCarry(dh_next.T.copy())


_KERNELS = SequenceKernels(forward_sequence, backward_sequence)
