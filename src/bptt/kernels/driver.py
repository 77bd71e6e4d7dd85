"""The one sequence driver: what a reset, a padded step and an observed step mean.

The engine hands every sequence to ``forward`` and ``backward`` here, with a kernel: a cell's
fused loops, or the per-step loop over its step functions (``kernels.steps``). The driver
cuts steps 0..T-1 into *runs* (``find_runs``) before every step where some sequence restarts,
around every step where some sequence is padded, and, in a backward pass with an observer,
between all steps; the kernel runs each run as plain steps, and the driver applies the events
between runs:

- reset at step t (``resets[t, b]``): before step t, sequence b's carry is zeroed (its output
  of step t - 1 is kept as it was); in the backward pass no gradient crosses it.
- padded step (``mask[t, b]`` False): the step leaves sequence b's carry unchanged, outputs
  zeros and receives no gradient. Every step with a padded sequence is a run of its own:
  the kernel computes it from the kept carry, like any step, and the driver puts the carry
  back afterwards, so a padded column never runs away over many steps (a ReLU cell would
  overflow); backward, its dL/dcarry is set aside before the step (so the kernel sees zero
  there and gives it no gradient) and put back after it.
- observed step: ``observer(t, dcarry_t)`` gets dL/dcarry_t, the total gradient reaching the
  carry after step t (from step t's own output and every later step), with dL/dh_t first.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any, NamedTuple

import numpy as np

from bptt.kernels.base import SequenceKernel
from bptt.kernels.workspace import Lease, Workspace
from bptt.types import Array, CellParams, Observer


class Runs(NamedTuple):
    """A sequence cut at its events.

    Attributes:
        bounds: [start, stop) of each run, in order, covering 0..T-1.
        restarts: {t: (B,) bool} the sequences whose carry is zeroed before step t.
        padded: {t: (B,) bool} the sequences padded at step t, a run of one step.
    """

    bounds: list[tuple[int, int]]
    restarts: dict[int, np.ndarray]
    padded: dict[int, np.ndarray]


def find_runs(
    T: int, mask: np.ndarray | None, resets: np.ndarray | None, *, every_step: bool = False
) -> Runs:
    """Cut steps 0..T-1 before every restart and around every step with a padded sequence
    (and between all steps with ``every_step``). ``mask`` and ``resets`` are (T, B) bool or
    None."""
    restarts = {}
    if resets is not None:
        restarts = {int(t): resets[t] for t in np.flatnonzero(resets.any(axis=1))}
    cuts = {0, T, *restarts}
    if every_step:
        cuts.update(range(T))
    elif mask is not None:
        padded = np.flatnonzero(~mask.all(axis=1))
        cuts.update(int(t) for t in padded)
        cuts.update(int(t) + 1 for t in padded)
    bounds = list(pairwise(sorted(cuts)))
    padded = {}
    if mask is not None:
        padded = {a: ~mask[a] for a, _ in bounds if not mask[a].all()}
    return Runs(bounds, restarts, padded)


def forward(
    kernel: SequenceKernel,
    params: CellParams,
    xs: Array,
    carry0: Any,
    mask: np.ndarray | None,
    resets: np.ndarray | None,
    *,
    keep: bool,
    workspace: Workspace,
) -> tuple[Array, Array, Any, Sequence[Any] | None, Lease]:
    """Run ``kernel`` over a sequence, applying resets and padding between runs.

    Args:
        xs: (T, B, D) inputs; carry0: a carry of (B, H) fields; mask, resets: (T, B) or None.
        keep: keep the per-step caches for a backward pass.

    Returns:
        (outputs (T, B, H), hs_ext (T + 1, B, H), final carry, caches or None, the lease that
        holds the caches' arrays, released already when ``keep`` is False).
    """
    T = xs.shape[0]
    lease = workspace.lease()
    loop = kernel.forward(params, xs, carry0, keep=keep, workspace=workspace, lease=lease)
    runs = find_runs(T, mask, resets)
    kept = {}  # t -> the output of step t of the sequences that restart at t + 1
    for start, stop in runs.bounds:
        restart = runs.restarts.get(start)
        if restart is not None:
            carry = loop.carry(start)
            if start > 0:
                kept[start - 1] = carry.h[restart].copy()  # (B_restart, H)
            for a in carry:
                a[restart] = 0
        padded = runs.padded.get(start)
        if padded is not None:
            saved = [a[padded].copy() for a in loop.carry(start)]
        loop.run(start, stop)
        if padded is not None:  # the padded sequences keep their carry
            for a, values in zip(loop.carry(stop), saved, strict=True):
                a[padded] = values
    carry_T = type(carry0)(*(np.array(a, order="C") for a in loop.carry(T)))
    hs_ext = loop.hidden_states()
    outputs = hs_ext[1:]
    if kept:
        outputs = outputs.copy()
        for t, values in kept.items():
            outputs[t][runs.restarts[t + 1]] = values
    caches = loop.record(outputs) if keep else None
    if not keep:
        lease.release()
    if mask is not None:
        outputs = np.where(mask[:, :, None], outputs, 0).astype(outputs.dtype)
    return outputs, hs_ext, carry_T, caches, lease


def backward(
    kernel: SequenceKernel,
    params: CellParams,
    xs: Array,
    hs_ext: Array,
    caches: Sequence[Any],
    dhs: Array | None,
    dcarry_T: Any,
    mask: np.ndarray | None,
    resets: np.ndarray | None,
    *,
    observer: Observer | None,
    input_grad: bool,
    workspace: Workspace,
) -> tuple[CellParams, Array | None, Any]:
    """Backpropagate ``kernel`` through a sequence, applying resets and padding between runs.

    Returns:
        (parameter gradients, dxs (T, B, D) or None without ``input_grad``, dcarry0).
    """
    T = xs.shape[0]
    if dhs is not None and mask is not None:
        dhs = np.where(mask[:, :, None], dhs, 0).astype(dhs.dtype)  # no gradient when padded
    loop = kernel.backward(
        params, xs, hs_ext, caches, dhs, dcarry_T, input_grad=input_grad, workspace=workspace
    )
    runs = find_runs(T, mask, resets, every_step=observer is not None)
    for start, stop in reversed(runs.bounds):
        if observer is not None:  # a run of one step
            d = loop.dcarry()
            h = d.h if dhs is None else d.h + dhs[start]
            observer(start, type(d)(*(np.array(a, order="C") for a in (h, *d[1:]))))
        padded = runs.padded.get(start)
        if padded is not None:
            saved = [a[padded].copy() for a in loop.dcarry()]
            for a in loop.dcarry():
                a[padded] = 0
        loop.run(start, stop)
        if padded is not None:  # a padded step passes its carry's gradient through
            for a, values in zip(loop.dcarry(), saved, strict=True):
                a[padded] = values
        restart = runs.restarts.get(start)
        if restart is not None:  # the gradient stops where the sequence restarted
            for a in loop.dcarry():
                a[restart] = 0
    grads, dxs = loop.finish()
    dcarry0 = type(dcarry_T)(*(np.array(a, order="C") for a in loop.dcarry()))
    return grads, dxs, dcarry0
