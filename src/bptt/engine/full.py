"""Full BPTT over one segment: ``forward`` unrolls a cell, ``backward`` walks the steps in reverse.

Truncated and checkpointed BPTT are built from these two calls: the gradient into the initial
carry (``dcarry0``) and an incoming gradient on the final carry (``dcarry_T``) let segments be
chained or cut. ``infer`` is ``forward`` without the tape.

Inputs are checked once here (``engine.validate``); then the sequence goes to
``kernels.driver`` with the kernel of ``kernels.kernel_for``: a built-in cell's fused loops,
or the per-step loop over any other cell's step functions. The tape remembers the kernel, so
backward runs the loop that made it.

Example::

    cell = LSTMCell()
    params = cell.init_params(np.random.default_rng(0), input_size=4, hidden_size=6)
    hs, carry_T, tape = forward(cell, params, xs)          # xs (T, B, 4)
    grads, dxs, dcarry0 = backward(cell, params, tape, dhs)  # dhs = dL/dhs, (T, B, 6)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from bptt.engine.validate import check_backward, check_carry, check_forward, zero_carry
from bptt.errors import BpttTypeError
from bptt.kernels import Lease, SequenceKernel, Workspace, driver, kernel_for
from bptt.types import Array, Cell, CellParams, Observer


class Tape(NamedTuple):
    """What the forward pass keeps for the backward pass.

    Attributes:
        xs: (T, B, D) inputs, in the parameters' dtype.
        hs_ext: (T + 1, B, H) carried hidden states; hs_ext[t] is h_{t-1} for step t (after
            any reset), so ``hs_ext[:-1]`` is the stacked H_prev of the weight gradient.
        caches: the T per-step caches, as ``cell.step_forward`` returns them (a list from
            the per-step loop, views into whole-sequence arrays from a fused one). What a
            padded step's cache holds is unspecified.
        mask: (T, B) bool or None.
        resets: (T, B) bool or None.
        kernel: the loop that made the tape; backward runs the same one.
        lease: the workspace memory the caches live in (``backward(..., release=True)``
            gives it back).
    """

    xs: Array
    hs_ext: Array
    caches: Sequence[Any]
    mask: np.ndarray | None
    resets: np.ndarray | None
    kernel: SequenceKernel
    lease: Lease


def forward(
    cell: Cell,
    params: CellParams,
    xs: Array,
    carry0: Any = None,
    mask: Any = None,
    resets: Any = None,
    *,
    finite_check: bool = True,
    workspace: Workspace | None = None,
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
        finite_check: scan ``xs`` and ``carry0`` for NaN/Inf (see ``validate.check_forward``).
        workspace: memory the fused loops may reuse across calls (``Model`` passes its own);
            None for fresh memory.

    Returns:
        hs (T, B, H) outputs, the final carry, and the tape for ``backward``.

    Raises:
        BpttTypeError, BpttError: bad shapes, dtypes, NaN/Inf, empty sequences or a mask that
            is not (T, B) booleans, before any work is done.
    """
    xs, carry, mask, resets = check_forward(
        cell, params, xs, carry0, mask, resets, finite=finite_check
    )
    kernel = kernel_for(cell, xs.dtype)
    hs, hs_ext, carry, caches, lease = driver.forward(
        kernel, params, xs, carry, mask, resets, keep=True, workspace=workspace or Workspace()
    )
    return hs, carry, Tape(xs, hs_ext, caches, mask, resets, kernel, lease)


def infer(
    cell: Cell,
    params: CellParams,
    xs: Array,
    carry0: Any = None,
    mask: Any = None,
    resets: Any = None,
    *,
    finite_check: bool = True,
    workspace: Workspace | None = None,
) -> tuple[Array, Any]:
    """``forward`` for inference: the same outputs and final carry, without keeping a tape.

    Returns:
        hs (T, B, H) and the final carry; the arguments and checks are those of ``forward``.
    """
    xs, carry, mask, resets = check_forward(
        cell, params, xs, carry0, mask, resets, finite=finite_check
    )
    kernel = kernel_for(cell, xs.dtype)
    hs, _, carry, _, _ = driver.forward(
        kernel, params, xs, carry, mask, resets, keep=False, workspace=workspace or Workspace()
    )
    return hs, carry


def backward(
    cell: Cell,
    params: CellParams,
    tape: Tape,
    dhs: Array | None = None,
    dcarry_T: Any = None,
    *,
    observer: Observer | None = None,
    input_grad: bool = True,
    release: bool = False,
    workspace: Workspace | None = None,
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
        release: give the tape's memory back to its workspace afterwards, for the next forward
            pass to reuse (as PyTorch frees a graph after ``backward()``); the tape cannot be
            read again. False keeps it for another backward pass or for reading its caches.
        workspace: scratch memory for this pass, as for ``forward``.

    Returns:
        (parameter gradients shaped like ``params``, dxs (T, B, D) or None, dcarry0).
    """
    if not isinstance(tape, Tape):
        raise BpttTypeError(
            f"`tape` is {type(tape).__name__}; pass the Tape that forward returned."
        )
    tape.lease.check()
    xs, hs_ext, caches, mask, resets, kernel, lease = tape
    B = xs.shape[1]
    _, H, dtype, dhs = check_backward(cell, params, xs, hs_ext.shape[-1], dhs)
    if dcarry_T is None:
        dcarry = zero_carry(cell, B, H, dtype)
    else:
        dcarry = check_carry(cell, dcarry_T, B, H, dtype, name="dcarry_T")
    result = driver.backward(
        kernel,
        params,
        xs,
        hs_ext,
        caches,
        dhs,
        dcarry,
        mask,
        resets,
        observer=observer,
        input_grad=input_grad,
        workspace=workspace or Workspace(),
    )
    if release:
        lease.release()
    return result
