"""The per-step loop: a cell's own ``step_forward`` and ``step_backward`` at every step.

It runs any cell that follows the Cell protocol (bptt.types.Cell), with the same events as the
fused loops (``kernels.driver`` handles them for both), and it is the reference the fused loops
are tested against.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bptt.kernels.workspace import Lease, Workspace
from bptt.types import Array, Cell, CellParams


class StepKernel:
    """The per-step loop of ``cell`` (a SequenceKernel)."""

    def __init__(self, cell: Cell) -> None:
        self.cell = cell

    def forward(
        self,
        params: CellParams,
        xs: Array,
        carry0: Any,
        *,
        keep: bool,
        workspace: Workspace,
        lease: Lease,
    ) -> _Forward:
        return _Forward(self.cell, params, xs, carry0, keep)

    def backward(
        self,
        params: CellParams,
        xs: Array,
        hs_ext: Array,
        caches: Sequence[Any],
        dhs: Array | None,
        dcarry_T: Any,
        *,
        input_grad: bool,
        workspace: Workspace,
    ) -> _Backward:
        return _Backward(self.cell, params, xs, hs_ext, caches, dhs, dcarry_T, input_grad)


def _writable(carry: Any) -> Any:
    """A copy of ``carry`` that the driver may change without touching any cache."""
    return type(carry)(*(np.array(a, copy=True) for a in carry))


class _Forward:
    """``xp = input_projection(xs)`` once, then ``step_forward`` at every step."""

    def __init__(self, cell: Cell, params: CellParams, xs: Array, carry0: Any, keep: bool):
        T, B, _ = xs.shape
        self.cell, self.params = cell, params
        self.xp = cell.input_projection(params, xs)  # (T, B, P)
        self.current = carry0
        self.hs_ext = np.empty((T + 1, B, carry0.h.shape[1]), xs.dtype)  # [h0, h_1, ...]
        self.caches: list[Any] | None = [None] * T if keep else None

    def carry(self, t: int) -> Any:
        self.current = _writable(self.current)
        return self.current

    def run(self, start: int, stop: int) -> None:
        carry = self.current
        for t in range(start, stop):
            self.hs_ext[t] = carry.h  # the carry entering step t, after any event
            carry, cache = self.cell.step_forward(self.params, self.xp[t], carry)
            if self.caches is not None:
                self.caches[t] = cache
        self.current = carry

    def hidden_states(self) -> Array:
        self.hs_ext[-1] = self.current.h
        return self.hs_ext

    def record(self, outputs: Array) -> list[Any]:
        return self.caches


class _Backward:
    """``step_backward`` at every step in reverse, then ``weight_grads`` over all steps."""

    def __init__(
        self,
        cell: Cell,
        params: CellParams,
        xs: Array,
        hs_ext: Array,
        caches: Sequence[Any],
        dhs: Array | None,
        dcarry_T: Any,
        input_grad: bool,
    ) -> None:
        T = xs.shape[0]
        self.cell, self.params, self.xs, self.hs_ext = cell, params, xs, hs_ext
        self.caches, self.dhs, self.input_grad = caches, dhs, input_grad
        self.current = dcarry_T
        self.dxp: list[Array] = [None] * T
        self.dhp: list[Array] = [None] * T

    def dcarry(self) -> Any:
        self.current = _writable(self.current)
        return self.current

    def run(self, start: int, stop: int) -> None:
        d = self.current
        for t in range(stop - 1, start - 1, -1):
            if self.dhs is not None:
                d = d._replace(h=d.h + self.dhs[t])  # dL/dh_t: from step t's output and later
            d, self.dxp[t], self.dhp[t] = self.cell.step_backward(self.params, self.caches[t], d)
        self.current = d

    def finish(self) -> tuple[CellParams, Array | None]:
        dxp = np.stack(self.dxp)  # (T, B, P)
        same = all(a is b for a, b in zip(self.dxp, self.dhp, strict=True))
        dhp = dxp if same else np.stack(self.dhp)
        grads, dxs = self.cell.weight_grads(self.params, self.xs, self.hs_ext[:-1], dxp, dhp)
        return grads, dxs if self.input_grad else None
