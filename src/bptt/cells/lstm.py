"""LSTM cell (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000).

Gate blocks along the last axis follow PyTorch's order i, f, g, o (G = 4):

    z = x_t W_x + b + h_{t-1} W_h                    (B, 4H)
    i = s(z_i)   f = s(z_f)   g = tanh(z_g)   o = s(z_o)
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

Efficient implementation equivalent to the following plain loop::

    for t in range(T):
        z = xs[t] @ W_x + b + h @ W_h
        i, f, g, o = sigmoid(z_i), sigmoid(z_f), tanh(z_g), sigmoid(z_o)
        c = f * c + i * g
        h = o * tanh(c)

The forget-gate bias starts at ``forget_bias`` (default 1.0, Jozefowicz et al. 2015) so that
memory is kept at initialisation.

``LSTMCell.sequence_kernels`` runs the same loop fused over a whole sequence (see
``forward_sequence`` and ``backward_sequence``): feature-major steps, so every gate block is a
contiguous (H, B) array; one product per step for the whole pre-activation and one tanh call
for all four gates; no allocation inside the loop; in the backward pass, every factor that
does not depend on the incoming gradient computed for chunks of steps at once. In float32
with numba installed, each step's elementwise work is one compiled call, and runs of steps
without padding or restarts are one compiled loop that also calls NumPy's BLAS for the
products (bptt.cells.compiled). The tape's arrays come from bptt.cells.buffers; inference
keeps one step's buffers only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

import numpy as np

from bptt.cells import buffers, compiled
from bptt.cells.base import (
    SequenceCaches,
    StackedGrads,
    block_steps,
    check_sizes,
    chunk_steps,
    gate_affine,
    kernels_if_unchanged,
    outputs_before_resets,
    padded_columns,
    project_inputs,
    restart_columns,
    sigmoid,
    stacked_grads,
    stacked_inputs,
    step_functions,
    step_runs,
    time_major,
    uniform_init,
    valid_steps,
    zero_padded,
)
from bptt.types import Array, Observer, SequenceKernels


class LSTMParams(NamedTuple):
    W_x: Array  # (D, 4H)
    W_h: Array  # (H, 4H)
    b: Array  # (4H,)


class LSTMCarry(NamedTuple):
    h: Array  # (B, H)
    c: Array  # (B, H)


class LSTMCache(NamedTuple):
    gates: Array  # (B, 4H) post-activation i, f, g, o
    tanh_c: Array  # (B, H)
    c_prev: Array  # (B, H)


@dataclass(frozen=True)
class LSTMCell:
    """LSTM cell; ``forget_bias`` is added to the forget-gate bias at initialisation."""

    forget_bias: float = 1.0
    name: str = "lstm"
    num_gates: int = 4
    params_type: type = LSTMParams
    carry_type: type = LSTMCarry
    separate_hidden_grad: bool = False

    def init_params(
        self,
        rng: np.random.Generator,
        input_size: int,
        hidden_size: int,
        *,
        dtype: Any = np.float32,
    ) -> LSTMParams:
        """U(-1/sqrt(H), 1/sqrt(H)) as PyTorch, then b_f += forget_bias."""
        dt = check_sizes(input_size, hidden_size, dtype)
        H = hidden_size
        b = uniform_init(rng, (4 * H,), H, dt)
        b[H : 2 * H] += dt.type(self.forget_bias)
        return LSTMParams(
            W_x=uniform_init(rng, (input_size, 4 * H), H, dt),
            W_h=uniform_init(rng, (H, 4 * H), H, dt),
            b=b,
        )

    @property
    def sequence_kernels(self) -> SequenceKernels | None:
        """The fused loops, or None once a subclass or patch replaced a step function."""
        return kernels_if_unchanged(self, _STEPS, _KERNELS)

    def input_projection(self, params: LSTMParams, xs: Array) -> Array:
        return project_inputs(params.W_x, params.b, xs)  # (T, B, 4H)

    def step_forward(
        self, params: LSTMParams, xp_t: Array, carry: LSTMCarry
    ) -> tuple[LSTMCarry, LSTMCache]:
        H = carry.h.shape[1]
        gates = carry.h @ params.W_h  # (B, 4H)
        gates += xp_t
        sigmoid(gates[:, : 2 * H], out=gates[:, : 2 * H])  # i, f
        np.tanh(gates[:, 2 * H : 3 * H], out=gates[:, 2 * H : 3 * H])  # g
        sigmoid(gates[:, 3 * H :], out=gates[:, 3 * H :])  # o
        i, f, g, o = (gates[:, k * H : (k + 1) * H] for k in range(4))
        c = f * carry.c  # (B, H)
        c += i * g
        tanh_c = np.tanh(c)
        h = o * tanh_c  # (B, H)
        return LSTMCarry(h, c), LSTMCache(gates, tanh_c, carry.c)

    def step_backward(
        self, params: LSTMParams, cache_t: LSTMCache, dcarry: LSTMCarry
    ) -> tuple[LSTMCarry, Array, Array]:
        gates, tanh_c = cache_t.gates, cache_t.tanh_c
        H = tanh_c.shape[1]
        i, f, g, o = (gates[:, k * H : (k + 1) * H] for k in range(4))
        dh = dcarry.h
        dc = dcarry.c + dh * o * (1.0 - tanh_c * tanh_c)  # (B, H)
        dz = np.empty_like(gates)  # (B, 4H)
        dz[:, :H] = dc * g * i * (1.0 - i)  # through i = s(z_i)
        dz[:, H : 2 * H] = dc * cache_t.c_prev * f * (1.0 - f)  # through f = s(z_f)
        dz[:, 2 * H : 3 * H] = dc * i * (1.0 - g * g)  # through g = tanh(z_g)
        dz[:, 3 * H :] = dh * tanh_c * o * (1.0 - o)  # through o = s(z_o)
        dh_prev = dz @ params.W_h.T  # (B, H)
        dc_prev = dc * f  # (B, H)
        return LSTMCarry(dh_prev, dc_prev), dz, dz

    def weight_grads(
        self, params: LSTMParams, xs: Array, hs_prev: Array, dxp: Array, dhp: Array
    ) -> tuple[LSTMParams, Array]:
        dW_x, dW_h, db, dxs = stacked_grads(params.W_x, xs, hs_prev, dxp, dhp)
        return LSTMParams(dW_x, dW_h, db), dxs


_STEPS = step_functions(LSTMCell)


def forward_sequence(
    params: LSTMParams,
    xs: Array,
    carry0: LSTMCarry,
    mask: np.ndarray | None,
    resets: np.ndarray | None,
    *,
    keep: bool,
) -> tuple[Array, Array, LSTMCarry, SequenceCaches | None]:
    """``step_forward`` at every step, on feature-major arrays.

    Each step works on transposed (N, B) arrays, in which every gate block is contiguous. One
    product per step gives the whole pre-activation, input projection and bias included:
    z^T = [W_h^T  W_x^T  b] [h_{t-1}^T; x_t^T; 1], with the sigmoid rows halved; then one tanh
    for the four gates and ``* scale + shift`` for i, f and o, written into whole-sequence
    arrays (one step's, for inference). The steps run in runs split at restarts and padding
    (``step_runs``), whose columns are handled between runs.

    Returns:
        hs (T, B, H); hs_ext (T + 1, B, H), the carried states [h0, h_1, ...] after any reset;
        the final carry; and (when ``keep``) the caches: views of gates (T, 4H, B), cs
        (T + 1, H, B) = [c0, c_1, ...] and tanh_cs (T, H, B), transposed back to the (B, .)
        shapes of LSTMCache.
    """
    T, B, _ = xs.shape
    H = params.W_h.shape[0]
    dtype = params.W_h.dtype
    scale, shift = gate_affine("ssts", H, B, dtype)  # (4H, B)
    W, hx = stacked_inputs(params.W_x, params.W_h, params.b, xs, carry0.h, scale[:, 0])
    hs = hx[:, :H]  # (T + 1, H, B) views: h_{t-1} of each step
    if keep:  # whole-sequence arrays for the tape
        gates = buffers.empty((T, 4 * H, B), dtype)  # z, then the gates
        cs = buffers.empty((T + 1, H, B), dtype)  # [c0, c_1, ...]
        tanh_cs = buffers.empty((T, H, B), dtype)
        c_steps = list(cs)
    else:  # inference: one step's buffers, so only the outputs grow with T
        gates, tanh_cs = np.empty((1, 4 * H, B), dtype), np.empty((1, H, B), dtype)
        # c_{t-1} and c_t alternate between two buffers: the compiled step vectorises only
        # when they do not overlap.
        cs = np.empty((2, H, B), dtype)
        c_steps = [cs[t % 2] for t in range(T + 1)]
    c_steps[0][...] = carry0.c.T
    restarts, kept = restart_columns(resets), {}
    pads = padded_columns(mask)
    loops = compiled.lstm_loops(dtype)
    if loops is not None:  # the compiled loop keeps padded sequences' carries itself
        run = partial(loops[0], W, hx, gates, cs, tanh_cs, valid_steps(mask, T, B))
        pads = {}
    else:
        run = _python_steps(W, hx, hs, gates, c_steps, tanh_cs, scale, shift)
    for start, stop in step_runs(0, T, restarts, pads):
        if start in restarts:  # a new sequence starts in these columns: zero their carry
            if start > 0:
                kept[start - 1] = hs[start][:, restarts[start]].copy()  # output of step - 1
            hs[start][:, restarts[start]] = 0
            c_steps[start][:, restarts[start]] = 0
        run(start, stop)
        t = stop - 1
        if t in pads:  # padded sequences keep their carry
            hs[t + 1][:, pads[t]] = hs[t][:, pads[t]]
            c_steps[t + 1][:, pads[t]] = c_steps[t][:, pads[t]]
    hs_ext = time_major(hs)  # (T + 1, B, H)
    outputs = zero_padded(outputs_before_resets(hs_ext, kept, restarts), mask)
    carry = LSTMCarry(hs_ext[T].copy(), c_steps[T].T.copy())
    if not keep:
        return outputs, hs_ext, carry, None

    def cache(t: int) -> LSTMCache:
        return LSTMCache(gates[t].T, tanh_cs[t].T, cs[t].T)

    return outputs, hs_ext, carry, SequenceCaches(T, cache, (gates, cs, tanh_cs), _KERNELS)


def _python_steps(
    W: Array,
    hx: Array,
    hs: Array,
    gates: Array,
    c_steps: list[Array],
    tanh_cs: Array,
    scale: Array,
    shift: Array,
) -> Callable[[int, int], None]:
    """``run(start, stop)``: steps [start, stop) of the forward loop, one product per step
    and the elementwise work in one compiled call per step (float32 with numba) or in NumPy.
    Inference passes one row of gates and tanh_cs, which every step reuses."""
    H, B = tanh_cs.shape[1:]
    kernels = compiled.lstm_kernels(gates.dtype)
    ig = np.empty((H, B), gates.dtype)

    def run(start: int, stop: int) -> None:
        for t in range(start, stop):
            k = t if len(gates) > 1 else 0
            z, c_prev, c, tanh_c, h = gates[k], c_steps[t], c_steps[t + 1], tanh_cs[k], hs[t + 1]
            np.matmul(W, hx[t], out=z)  # (4H, B), z with the sigmoid rows halved
            if kernels is not None:
                kernels[0](*(a.reshape(-1) for a in (z, c_prev, c, tanh_c, h)))
                continue
            i, f, g, o = (z[q * H : (q + 1) * H] for q in range(4))
            np.tanh(z, out=z)
            z *= scale
            z += shift  # i, f, g, o
            np.multiply(f, c_prev, out=c)
            np.multiply(i, g, out=ig)
            c += ig
            np.tanh(c, out=tanh_c)
            np.multiply(o, tanh_c, out=h)

    return run


def backward_sequence(
    params: LSTMParams,
    xs: Array,
    hs_ext: Array,
    caches: SequenceCaches,
    dhs: Array | None,
    dcarry: LSTMCarry,
    mask: np.ndarray | None,
    resets: np.ndarray | None,
    observer: Observer | None,
    input_grad: bool = True,
) -> tuple[LSTMParams, Array, LSTMCarry]:
    """``step_backward`` at every step in reverse, then ``weight_grads``, on whole arrays.

    dL/dz_t = [dc * g s'(z_i), dc * c_prev s'(z_f), dc * i tanh'(z_g), dh * tanh(c) s'(z_o)]
    with dh = dh_next + dhs_t and dc = dc_next + dh * o tanh'(c); then dh_prev^T = W_h dz^T
    and dc_prev = dc * f. The steps fill a block of dL/dz, feature-major (4H, steps, B), so
    that the block is a (4H, steps * B) matrix for the stacked weight gradients, which each
    block adds to (StackedGrads); dL/dz is never stored for the whole sequence.

    In NumPy, the bracketed factors (everything but dc and dh) are filled in for a chunk of
    steps that fits in cache, (chunk, 4H, B); each step multiplies them in place, and the
    chunk is copied into the block. The compiled step (float32 with numba) computes a step's
    dL/dz in one call, straight into the block, and the compiled loop runs such steps with
    their products in one call.
    """
    gates = caches.arrays[0]  # (T, 4H, B)
    T, GH, B = gates.shape
    dtype = gates.dtype
    W_h = params.W_h  # (H, 4H)
    dh_next = np.array(dcarry.h.T, dtype=dtype, order="C")  # (H, B) dL/dh_t from later steps
    dc_next = np.array(dcarry.c.T, dtype=dtype, order="C")  # (H, B) dL/dc_t through c_{t+1}
    restarts, pads = restart_columns(resets), padded_columns(mask)
    if dhs is not None and mask is not None:
        dhs = np.where(mask[:, :, None], dhs, 0).astype(dtype)
    carries = (dh_next, dc_next, restarts, pads)
    # The compiled step has no place to show dL/dcarry_t: an observer takes the NumPy loop.
    kernels = None if observer is not None else compiled.lstm_kernels(dtype)
    if kernels is None:
        steps = _numpy_steps(W_h, caches.arrays, dhs, *carries, observer)
    else:
        steps = _compiled_steps(kernels[1], W_h, caches.arrays, dhs, *carries, mask)
    block = block_steps(T, 1, GH * dtype.itemsize, B)
    stacked = StackedGrads(params.W_x, xs, hs_ext[:-1], input_grad)
    for stop in range(T, 0, -block):
        start = max(0, stop - block)
        dz = buffers.empty((GH, stop - start, B), dtype)  # dL/dz of the block, feature-major
        steps(start, stop, dz)
        rows = dz.reshape(GH, -1)  # (4H, steps * B)
        stacked.add_feature_major(start, rows, rows)
    dW_x, dW_h, db, dxs = stacked.result()
    return LSTMParams(dW_x, dW_h, db), dxs, LSTMCarry(dh_next.T.copy(), dc_next.T.copy())


def _numpy_steps(
    W_h: Array,
    arrays: tuple[Array, Array, Array],
    dhs: Array | None,
    dh_next: Array,
    dc_next: Array,
    restarts: dict[int, np.ndarray],
    pads: dict[int, np.ndarray],
    observer: Observer | None,
) -> Callable[[int, int, Array], None]:
    """``steps(start, stop, out)``: steps stop - 1 down to start, dL/dz into out (4H, n, B)."""
    gates, cs, tanh_cs = arrays
    T, GH, B = gates.shape
    H = GH // 4
    dtype = gates.dtype
    i, f, g, o = (gates[:, k * H : (k + 1) * H] for k in range(4))  # (T, H, B)
    chunk = chunk_steps(T, (GH + 2 * H) * B * dtype.itemsize)
    dz = np.empty((chunk, GH, B), dtype)  # one chunk's factors, then its dL/dz^T
    dz_i, dz_f, dz_g, dz_o = (dz[:, k * H : (k + 1) * H] for k in range(4))
    dz_ifg = dz.reshape(chunk, 4, H, B)[:, :3]  # (chunk, 3, H, B)
    slope_c = np.empty((chunk, H, B), dtype)  # o * tanh'(c)
    dhs_t = None if dhs is None else np.empty((chunk, H, B), dtype)
    dh_sum = np.empty((H, B), dtype)
    dc = np.empty((H, B), dtype)

    def steps(start: int, stop: int, out: Array) -> None:
        for c_stop in range(stop, start, -chunk):
            c_start = max(start, c_stop - chunk)
            n, s = c_stop - c_start, slice(c_start, c_stop)
            for d, a, b in ((dz_i, i, g), (dz_f, f, cs[:-1]), (dz_o, o, tanh_cs)):
                block = d[:n]  # b * s'(z) = b * a (1 - a)
                np.subtract(1, a[s], out=block)
                np.multiply(block, a[s], out=block)
                np.multiply(block, b[s], out=block)
            block = dz_g[:n]  # i * tanh'(z_g) = i * (1 - g^2)
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
                t = c_start + j
                dh = dh_next if dhs_t is None else np.add(dh_next, dhs_t[j], out=dh_sum)
                if observer is not None:
                    observer(t, LSTMCarry(dh.T.copy(), dc_next.T.copy()))
                passed = _stop_padded(pads.get(t), dh, dc_next)
                np.multiply(dh, k[j], out=dc)
                np.add(dc, dc_next, out=dc)
                np.multiply(dz_ifg[j], dc, out=dz_ifg[j])
                np.multiply(dz_o[j], dh, out=dz_o[j])
                np.matmul(W_h, dz[j], out=dh_next)  # (H, B)
                np.multiply(dc, f[t], out=dc_next)
                if passed is not None:
                    dh_next[:, passed[0]], dc_next[:, passed[0]] = passed[1:]
                if t in restarts:  # the gradient stops where the sequence restarted
                    dh_next[:, restarts[t]] = 0
                    dc_next[:, restarts[t]] = 0
            out[:, c_start - start : c_stop - start] = dz[:n].transpose(1, 0, 2)

    return steps


def _compiled_steps(
    kernel: Callable[..., None],
    W_h: Array,
    arrays: tuple[Array, Array, Array],
    dhs: Array | None,
    dh_next: Array,
    dc_next: Array,
    restarts: dict[int, np.ndarray],
    pads: dict[int, np.ndarray],
    mask: np.ndarray | None,
) -> Callable[[int, int, Array], None]:
    """``steps(start, stop, out)`` with one compiled call and one product per step.

    Runs of steps without padded or restarting sequences go to the compiled loop in one
    call (when NumPy's BLAS is reachable from it); the others, one Python step each.
    """
    loops = compiled.lstm_loops(arrays[0].dtype)
    loop = None if loops is None else loops[1]
    W_h = np.ascontiguousarray(W_h)  # (H, 4H), as the compiled loop reads it
    gates, cs, tanh_cs = (a.reshape(len(a), -1) for a in arrays)  # flat steps
    no_dhs = np.zeros((1, gates.shape[1] // 4), gates.dtype)
    dh_flat, dc_flat = dh_next.reshape(-1), dc_next.reshape(-1)
    valid = valid_steps(mask, len(gates), dh_next.shape[1])
    special = set(restarts)  # the compiled loop handles padded steps itself

    def step(t: int, dhs_t: Array, out: Array, j: int) -> None:
        passed = _stop_padded(pads.get(t), dh_next, dc_next)  # dhs_t is 0 there
        kernel(gates[t], cs[t], tanh_cs[t], dh_flat, dhs_t[j], dc_flat, out, j)
        np.matmul(W_h, out[:, j], out=dh_next)  # (H, B)
        if passed is not None:
            dh_next[:, passed[0]], dc_next[:, passed[0]] = passed[1:]
        if t in restarts:  # the gradient stops where the sequence restarted
            dh_next[:, restarts[t]] = 0
            dc_next[:, restarts[t]] = 0

    def steps(start: int, stop: int, out: Array) -> None:
        if dhs is None:
            dhs_t = no_dhs.repeat(stop - start, axis=0)
        else:  # feature-major and flat, like the other inputs of the kernel
            dhs_t = dhs[start:stop].transpose(0, 2, 1).reshape(stop - start, -1)
        if loop is None:
            for t in range(stop - 1, start - 1, -1):
                step(t, dhs_t, out, t - start)
            return
        for a, b in reversed(step_runs(start, stop, special, special)):
            if a in special:  # a run of one step
                step(a, dhs_t, out, a - start)
            else:
                loop(W_h, *arrays, dh_next, dhs_t, dc_next, out, valid, a, b, start)

    return steps


def _stop_padded(
    padded: np.ndarray | None, dh: Array, dc: Array
) -> tuple[np.ndarray, Array, Array] | None:
    """At a padded step, zero dh and dc in the padded columns (so the step gives them no
    gradient) and return (columns, dh, dc) as they were, to pass through the step."""
    if padded is None:
        return None
    passed = (padded, dh[:, padded].copy(), dc[:, padded].copy())
    dh[:, padded] = 0
    dc[:, padded] = 0
    return passed


_KERNELS = SequenceKernels(forward_sequence, backward_sequence)
