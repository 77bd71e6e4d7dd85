"""The interface between the sequence driver and the loops it runs.

A kernel runs a cell over *runs* of steps: stretches in which no sequence restarts, the set of
padded sequences does not change, and no observer needs to see a step. ``kernels.driver``
cuts a sequence into such runs and handles what happens between them (a reset, padding, an
observed step), so a kernel only ever computes plain steps. Both loops of a kernel expose the
carry, or its gradient, between runs as (B, H) views that the driver may read and write.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from bptt.kernels.workspace import Lease, Workspace
from bptt.types import Array, CellParams


class ForwardLoop(Protocol):
    """One forward pass of a kernel over steps 0..T-1, run by the driver run after run."""

    def carry(self, t: int) -> Any:
        """The carry entering step t (t is where the loop stands: 0, or the end of the last
        run) as writable (B, H) views: changing them changes what step t reads."""
        ...

    def run(self, start: int, stop: int) -> None:
        """Steps [start, stop), none of which has an event."""
        ...

    def hidden_states(self) -> Array:
        """After the last run (and the last read of the carry): hs_ext (T + 1, B, H), the h
        entering each step and the final h. The loop's scratch memory is given back."""
        ...

    def record(self, outputs: Array) -> Sequence[Any]:
        """After the last run of a pass that keeps its caches: the T per-step caches, given
        ``outputs`` (T, B, H), each step's h before any reset."""
        ...


class BackwardLoop(Protocol):
    """One backward pass of a kernel over steps T-1..0, run by the driver run after run."""

    def dcarry(self) -> Any:
        """dL/dcarry where the loop stands (the gradient on the carry entering the next step to
        be run, from every later step) as writable (B, H) views."""
        ...

    def run(self, start: int, stop: int) -> None:
        """Steps stop - 1 down to start, none of which has an event."""
        ...

    def finish(self) -> tuple[CellParams, Array | None]:
        """After the last run: (parameter gradients, dxs (T, B, D) or None)."""
        ...


class SequenceKernel(Protocol):
    """The fused loops of one cell type and backend.

    ``forward(params, xs, carry0, *, keep, workspace, lease)`` returns a ForwardLoop; the
    arrays of its caches come from ``lease`` (released with the tape), its scratch arrays from
    the workspace. ``backward(params, xs, hs_ext, caches, dhs, dcarry_T, *, input_grad,
    workspace)`` returns a BackwardLoop; ``dhs`` (T, B, H) is zero at padded steps, or None.
    """

    def forward(
        self,
        params: CellParams,
        xs: Array,
        carry0: Any,
        *,
        keep: bool,
        workspace: Workspace,
        lease: Lease,
    ) -> ForwardLoop: ...

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
    ) -> BackwardLoop: ...


class FusedCaches(Sequence):
    """The T per-step caches of a fused forward pass, as views into whole-sequence arrays.

    It reads as the list of caches ``step_forward`` would have returned (at every real step;
    what a padded step holds is unspecified), each made when it is read. ``arrays`` are the
    whole-sequence arrays, which the kernel's backward pass reads. Both refuse to be read once
    the lease they came from was released.
    """

    def __init__(
        self, T: int, cache: Callable[[int], Any], arrays: tuple[Array, ...], lease: Lease
    ) -> None:
        self._T, self._cache, self._arrays, self._lease = T, cache, arrays, lease

    @property
    def arrays(self) -> tuple[Array, ...]:
        self._lease.check()
        return self._arrays

    def __len__(self) -> int:
        return self._T

    def __getitem__(self, index: Any) -> Any:
        self._lease.check()
        if isinstance(index, slice):
            return [self._cache(t) for t in range(self._T)[index]]
        t = range(self._T)[index]  # IndexError beyond the steps, negative indices as a list's
        return self._cache(t)
