"""Full BPTT over one segment: ``forward`` unrolls a cell, ``backward`` walks the steps in reverse.

Truncated and checkpointed BPTT are built from these two calls: the gradient into the initial
carry (``dcarry0``) and an incoming gradient on the final carry (``dcarry_T``) let segments be
chained or cut. ``infer`` is ``forward`` without the tape.

Two loops compute the same values. A cell with ``sequence_kernels`` (every built-in cell) runs
through its fused loops, which write into whole-sequence arrays; the per-step loop, which
calls ``step_forward`` and ``step_backward`` at every step, serves cells without kernels and
cells whose step functions a subclass or patch replaced. The tests compare the two.

Example::

    cell = LSTMCell()
    params = cell.init_params(np.random.default_rng(0), input_size=4, hidden_size=6)
    hs, carry_T, tape = forward(cell, params, xs)          # xs (T, B, 4)
    grads, dxs, dcarry0 = backward(cell, params, tape, dhs)  # dhs = dL/dhs, (T, B, 6)
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from bptt.cells.base import SequenceCaches, check_params
from bptt.engine.validate import (
    check_backward,
    check_carry,
    check_mask,
    check_sequence,
    zero_carry,
)
from bptt.errors import BpttTypeError
from bptt.types import Array, Cell, CellParams, Observer, SequenceKernels


class Tape(NamedTuple):
    """What the forward pass keeps for the backward pass.

    Attributes:
        xs: (T, B, D) inputs, in the parameters' dtype.
        hs_ext: (T + 1, B, H) carried hidden states; hs_ext[t] is h_{t-1} for step t, so
            ``hs_ext[:-1]`` is the stacked H_prev of the weight gradient, without a copy.
        caches: T per-step caches from ``cell.step_forward``.
        mask: (T, B) bool or None.
        resets: (T, B) bool or None.
    """

    xs: Array
    hs_ext: Array
    caches: list[Any]
    mask: np.ndarray | None
    resets: np.ndarray | None


def forward(
    cell: Cell,
    params: CellParams,
    xs: Array,
    carry0: Any = None,
    mask: Any = None,
    resets: Any = None,
    *,
    finite_check: bool = True,
) -> tuple[Array, Any, Tape]:
    """Run ``cell`` over a sequence.

    Args:
        cell: any object following the Cell protocol (bptt.types.Cell).
        params: the cell's parameters, e.g. LSTMParams(W_x (D, G*H), W_h (H, G*H), b (G*H,)).
        xs: (T, B, D) float inputs; cast once to the parameters' dtype.
        carry0: initial carry (fields (B, H)); zeros when None.
        mask: optional (T, B) booleans. A False step leaves the carry unchanged, emits zeros
            and receives no gradient, so a padded batch gives what each sequence gives alone.
        resets: optional (T, B) booleans. True zeroes that sequence's carry before step t (a
            new document starts in a stream); no gradient crosses the reset.
        finite_check: scan ``xs`` and ``carry0`` for NaN/Inf. A caller that has checked its
            inputs (Model, for its inner layers) turns it off, so values that become
            non-finite inside a model propagate and are reported by the trainer.

    Returns:
        hs (T, B, H) outputs, the final carry, and the tape for ``backward``.

    Raises:
        TypeError, ValueError: bad shapes, dtypes, NaN/Inf, empty sequences or a mask that is
            not (T, B) booleans, before any work is done.
    """
    xs, carry, mask, resets = _check_forward(cell, params, xs, carry0, mask, resets, finite_check)
    kernels = _kernels(cell)
    if kernels is not None:
        hs, hs_ext, carry, caches = kernels.forward(params, xs, carry, mask, resets, keep=True)
        return hs, carry, Tape(xs, hs_ext, caches, mask, resets)
    return _forward_steps(cell, params, xs, carry, mask, resets)


def infer(
    cell: Cell,
    params: CellParams,
    xs: Array,
    carry0: Any = None,
    mask: Any = None,
    resets: Any = None,
    *,
    finite_check: bool = True,
) -> tuple[Array, Any]:
    """``forward`` for inference: the same outputs and final carry, without keeping a tape.

    Returns:
        hs (T, B, H) and the final carry; the arguments and checks are those of ``forward``.
    """
    xs, carry, mask, resets = _check_forward(cell, params, xs, carry0, mask, resets, finite_check)
    kernels = _kernels(cell)
    if kernels is not None:
        hs, _, carry, _ = kernels.forward(params, xs, carry, mask, resets, keep=False)
        return hs, carry
    hs, carry, _ = _forward_steps(cell, params, xs, carry, mask, resets)
    return hs, carry


def _kernels(cell: Cell) -> SequenceKernels | None:
    """The cell's fused sequence kernels, or None to call its step functions step by step."""
    return getattr(cell, "sequence_kernels", None)


def _check_forward(
    cell: Cell,
    params: CellParams,
    xs: Any,
    carry0: Any,
    mask: Any,
    resets: Any,
    finite_check: bool,
) -> tuple[Array, Any, np.ndarray | None, np.ndarray | None]:
    """Every check of ``forward``; returns (xs, carry0, mask, resets) ready for the loop."""
    D, H, dtype = check_params(cell, params)
    xs = check_sequence(xs, D, dtype, finite=finite_check)
    T, B, _ = xs.shape
    mask = check_mask(mask, T, B)
    if mask is not None and mask.all():
        mask = None  # every step valid: the same as no mask, and the fused loops apply
    resets = check_mask(resets, T, B, name="resets")
    if resets is not None and not resets.any():
        resets = None
    if carry0 is None:
        carry = zero_carry(cell, B, H, dtype)
    else:
        carry = check_carry(cell, carry0, B, H, dtype, name="carry0", finite=finite_check)
    return xs, carry, mask, resets


def _forward_steps(
    cell: Cell,
    params: CellParams,
    xs: Array,
    carry: Any,
    mask: np.ndarray | None,
    resets: np.ndarray | None,
) -> tuple[Array, Any, Tape]:
    """The generic loop: ``cell.step_forward`` at every step, for any cell, mask and resets."""
    T, B, _ = xs.shape
    H = carry.h.shape[1]
    dtype = xs.dtype
    xp = cell.input_projection(params, xs)  # (T, B, G*H)
    hs_ext = np.empty((T + 1, B, H), dtype=dtype)
    hs_ext[0] = carry.h
    # With resets, hs_ext holds the carry after the reset, so the outputs need their own array.
    hs_out = None if resets is None else np.empty((T, B, H), dtype=dtype)
    caches = [None] * T
    columns = None if mask is None else mask[:, :, None]  # (T, B, 1)
    for t in range(T):
        if resets is not None and resets[t].any():
            carry = _zero_rows(carry, resets[t])
            hs_ext[t] = carry.h
        new_carry, caches[t] = cell.step_forward(params, xp[t], carry)
        if columns is not None:
            m = columns[t]
            new_carry = type(carry)(
                *(np.where(m, n, o) for n, o in zip(new_carry, carry, strict=True))
            )
        hs_ext[t + 1] = new_carry.h
        if hs_out is not None:
            hs_out[t] = new_carry.h
        carry = new_carry
    hs = hs_ext[1:] if hs_out is None else hs_out
    if columns is not None:
        hs = np.where(columns, hs, 0).astype(dtype, copy=False)
    return hs, carry, Tape(xs, hs_ext, caches, mask, resets)


def _zero_rows(carry: Any, rows: np.ndarray) -> Any:
    """The carry with the sequences selected by ``rows`` (B,) set to zero."""
    keep = ~rows[:, None]  # (B, 1)
    return type(carry)(*(a * keep for a in carry))


def backward(
    cell: Cell,
    params: CellParams,
    tape: Tape,
    dhs: Array | None = None,
    dcarry_T: Any = None,
    *,
    observer: Observer | None = None,
    input_grad: bool = True,
) -> tuple[CellParams, Array | None, Any]:
    """Backpropagate through every step of the tape.

    Args:
        cell, params: as given to ``forward``.
        tape: the tape ``forward`` returned.
        dhs: (T, B, H) gradient of the loss with respect to the outputs hs, or None for zero.
        dcarry_T: gradient with respect to the final carry (e.g. from the next segment), or None.
        observer: optional ``observer(t, dcarry_t)``, called at each step with dL/dcarry_t, the
            total gradient reaching the carry after step t (dL/dh_t, and dL/dc_t for LSTM).
        input_grad: False when no gradient of the inputs is needed (a first layer fed with
            data, like a torch input without requires_grad): dxs is then None, and the fused
            loops skip its product.

    Returns:
        (parameter gradients shaped like ``params``, dxs (T, B, D) or None, dcarry0).
    """
    if not isinstance(tape, Tape):
        raise BpttTypeError(
            f"`tape` is {type(tape).__name__}; pass the Tape that forward returned."
        )
    xs, hs_ext, caches, mask, resets = tape
    T, B, _ = xs.shape
    _, H, dtype, dhs = check_backward(cell, params, xs, hs_ext.shape[-1], dhs, finite=False)
    if dcarry_T is None:
        dcarry = zero_carry(cell, B, H, dtype)
    else:
        dcarry = check_carry(cell, dcarry_T, B, H, dtype, name="dcarry_T")

    kernels = _kernels(cell)
    if (
        kernels is not None
        and isinstance(caches, SequenceCaches)
        and caches.kernels is kernels
        and len(caches) == T
    ):
        return kernels.backward(
            params, xs, hs_ext, caches, dhs, dcarry, mask, resets, observer, input_grad
        )

    GH = cell.num_gates * H
    dxp = np.empty((T, B, GH), dtype=dtype)
    dhp = np.empty((T, B, GH), dtype=dtype) if cell.separate_hidden_grad else dxp
    columns = None if mask is None else mask[:, :, None]  # (T, B, 1)
    for t in range(T - 1, -1, -1):
        if dhs is not None:
            dh_out = dhs[t] if columns is None else np.where(columns[t], dhs[t], 0)
            dcarry = dcarry._replace(h=dcarry.h + dh_out)
        if observer is not None:
            observer(t, dcarry)
        if columns is None:
            dcarry, dxp[t], dhp_t = cell.step_backward(params, caches[t], dcarry)
        else:
            m = columns[t]
            d_in = type(dcarry)(*(np.where(m, d, 0) for d in dcarry))
            d_prev, dxp[t], dhp_t = cell.step_backward(params, caches[t], d_in)
            # A padded step passes its carry through unchanged, and so its gradient.
            dcarry = type(dcarry)(*(np.where(m, p, d) for p, d in zip(d_prev, dcarry, strict=True)))
        if cell.separate_hidden_grad:
            dhp[t] = dhp_t
        if resets is not None and resets[t].any():
            dcarry = _zero_rows(dcarry, resets[t])  # the gradient stops at a reset
    grads, dxs = cell.weight_grads(params, xs, hs_ext[:-1], dxp, dhp)
    return grads, dxs if input_grad else None, dcarry
