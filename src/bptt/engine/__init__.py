"""The BPTT engine: whole sequences through a cell, forward and backward.

``forward`` and ``backward`` here are the one entry point: full BPTT (``engine.full``), or
checkpointed BPTT (``engine.checkpointed``) when a ``memory_policy`` is given; ``backward``
runs whichever made the tape. Truncated BPTT (``engine.truncated``) cuts a sequence into
windows of these calls.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bptt.engine.checkpointed import CheckpointTape, backward_checkpointed, forward_checkpointed
from bptt.engine.full import Tape, infer
from bptt.engine.full import backward as backward_full
from bptt.engine.full import forward as forward_full
from bptt.engine.truncated import Truncation, Window, cut, truncation, windows
from bptt.engine.validate import zero_carry
from bptt.kernels import Workspace
from bptt.types import Array, Cell, CellParams, Observer

MemoryPolicy = str | int | Iterable[int] | None
"""None for full BPTT (every step's cache kept), else a checkpointing policy: "sqrt", a
number of stored states, or the positions to store (see ``engine.checkpointed``)."""


def forward(
    cell: Cell,
    params: CellParams,
    xs: Array,
    carry0: Any = None,
    mask: Any = None,
    resets: Any = None,
    *,
    memory_policy: MemoryPolicy = None,
    outputs: bool = True,
    finite_check: bool = True,
    workspace: Workspace | None = None,
) -> tuple[Array | None, Any, Tape | CheckpointTape]:
    """Run ``cell`` over a sequence and keep what ``backward`` needs.

    Args:
        cell, params, xs, carry0, mask, resets, finite_check, workspace: as for
            ``engine.full.forward``: xs (T, B, D), mask and resets (T, B), carry0 fields
            (B, H).
        memory_policy: None for full BPTT, else checkpointed BPTT with this policy (the same
            gradients, less memory, some steps replayed).
        outputs: with a memory policy, False keeps no outputs (hs is None) for a caller that
            reads only the final carry.

    Returns:
        (hs (T, B, H) or None, the final carry, the tape for ``backward``).
    """
    if memory_policy is None:
        return forward_full(
            cell,
            params,
            xs,
            carry0,
            mask,
            resets,
            finite_check=finite_check,
            workspace=workspace,
        )
    return forward_checkpointed(
        cell,
        params,
        xs,
        carry0,
        mask,
        resets,
        policy=memory_policy,
        outputs=outputs,
        finite_check=finite_check,
        workspace=workspace,
    )


def backward(
    cell: Cell,
    params: CellParams,
    tape: Tape | CheckpointTape,
    dhs: Array | None = None,
    dcarry_T: Any = None,
    *,
    observer: Observer | None = None,
    input_grad: bool = True,
    release: bool = False,
    workspace: Workspace | None = None,
) -> tuple[CellParams, Array | None, Any]:
    """Backpropagate through the tape ``forward`` returned (full or checkpointed).

    Returns:
        (parameter gradients, dxs (T, B, D) or None without ``input_grad``, dcarry0). A
        checkpointed tape is used up by its backward pass, whatever ``release`` says.
    """
    if isinstance(tape, CheckpointTape):
        return backward_checkpointed(
            cell, params, tape, dhs, dcarry_T, observer=observer, input_grad=input_grad
        )
    return backward_full(
        cell,
        params,
        tape,
        dhs,
        dcarry_T,
        observer=observer,
        input_grad=input_grad,
        release=release,
        workspace=workspace,
    )


__all__ = [
    "CheckpointTape",
    "MemoryPolicy",
    "Tape",
    "Truncation",
    "Window",
    "backward",
    "backward_checkpointed",
    "cut",
    "forward",
    "forward_checkpointed",
    "infer",
    "truncation",
    "windows",
    "zero_carry",
]
