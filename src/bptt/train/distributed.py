"""Data-parallel truncated BPTT on MPI: W processes, each a shard of every batch, exact
against one process.

    mpiexec -n 2 bptt train ...            (or a script that calls Trainer(config).fit())

``current_world()`` is None, and nothing here is imported or called, when the process was not
started by an MPI launcher (or by one with a single process): the one-process path is the
same code as before. Under ``mpiexec -n W`` (MPICH, Open MPI, MVAPICH, Slurm's ``srun
--mpi=pmi2|pmix``) it returns the World, a thin wrapper of the communicator that the Trainer
calls at a few points:

- data: every process builds the whole batch and keeps its columns (``own``), see
  ``bptt.train.shard``; dropout masks are drawn for the whole batch and cut the same way.
- each window: local BPTT(k1, k2) (``gradients``), then ONE ``Allreduce`` of one contiguous
  buffer of summed gradients, summed loss, loss count and two flags (``combine``); every
  process divides by the global count and takes the same optimizer step, clipping included,
  so parameters stay bitwise identical without ever being broadcast after the start.
- evaluation: each process scores its columns; one Allreduce of (loss sum, count, correct).
- files: process 0 writes checkpoints (with every process's carried state, joined in column
  order, so a checkpoint is laid out as a one-process run's and resumes with any W), metrics
  and config.toml; the outcome of a write is broadcast, so a failed write fails everywhere.
- signals: SIGINT/SIGTERM on any process sets a flag that travels in the next window's
  buffer; every process stops after that same window and joins one checkpoint.
- failures: an exception that only one process raised ends every process with
  ``MPI_Abort`` (``guard``, and an excepthook for scripts), so no process waits forever in a
  collective; a process killed outright is cleaned up by the launcher (measured with MPICH's
  hydra: the others end within a second; under Slurm use ``srun --kill-on-bad-exit=1``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np

from bptt.errors import BpttError, MissingExtraError
from bptt.train.shard import (
    ColumnDraws,
    Layout,
    batch_columns,
    bounds,
    carry_columns,
    join_carries,
    layout,
    pack,
    unpack,
)
from bptt.window import Batch, WindowResult, window_gradients

T = TypeVar("T")

SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")
"""Environment variables in which MPI launchers give the number of processes."""
RANK_VARIABLES = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK", "PMIX_RANK")
INSTALL = "pip install 'bptt[mpi]' (mpi4py and MPICH from the package index)"


def launched_size() -> int | None:
    """How many processes an MPI launcher started (0: launched, size unknown), or None.

    ``BPTT_MPI=0`` ignores a launcher; ``BPTT_MPI=1`` asks MPI even where no known variable
    is set (another launcher).
    """
    setting = os.environ.get("BPTT_MPI", "").strip()
    if setting == "0":
        return None
    for name in SIZE_VARIABLES:
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    if setting == "1" or "PMIX_RANK" in os.environ:
        return 0
    return None


def launched_rank() -> int:
    """This process's rank as the launcher's environment gives it (0 if it gives none)."""
    for name in RANK_VARIABLES:
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    return 0


def current_world() -> World | None:
    """The World of this run's processes, or None for one process (no launcher, W = 1).

    Raises:
        MissingExtraError: started by an MPI launcher with W > 1 but mpi4py is missing.
        BpttError: mpi4py's MPI sees another number of processes than the launcher started
            (the launcher belongs to another MPI than the one mpi4py was built with).
    """
    size = launched_size()
    if size is None or size == 1:
        return None
    return _world_of_launcher(size)


@functools.cache
def _world_of_launcher(size: int) -> World | None:
    try:
        from mpi4py import MPI
    except ImportError:
        raise MissingExtraError(
            f"This process was started by an MPI launcher ({size or 'several'} processes) but "
            f"mpi4py is not installed, so the processes cannot train together. Install it: "
            f"{INSTALL}; or run one process without mpiexec."
        ) from None
    comm = MPI.COMM_WORLD
    if size and comm.Get_size() != size:
        raise BpttError(
            f"The launcher started {size} processes but MPI sees {comm.Get_size()} in this "
            f"one: mpiexec comes from another MPI than the one mpi4py uses "
            f"({MPI.Get_library_version().splitlines()[0].strip()}). Use that MPI's mpiexec "
            "(`python -m mpi4py --mpi-library` names it), or reinstall mpi4py for yours."
        )
    if comm.Get_size() == 1:
        return None
    world = World(comm)
    _abort_on_uncaught_exceptions(world)
    return world


def collective(error: BaseException) -> BaseException:
    """Mark ``error`` as raised by every process at the same point (no abort needed)."""
    error.collective = True  # type: ignore[attr-defined]
    return error


def exit_code(error: BaseException) -> int:
    """The exit code a command gives for ``error``: 2 a user's mistake, 130 an interrupt."""
    if isinstance(error, KeyboardInterrupt):
        return 130
    return 2 if isinstance(error, BpttError) else 1


class AgreedStop:
    """The stop request of a data-parallel run.

    Attributes:
        local: this process received SIGINT or SIGTERM (sent with the next window's buffer).
        requested: some process did; every process sees it after the same window.
    """

    def __init__(self) -> None:
        self.local = False
        self.requested = False


class World:
    """The processes of one data-parallel run (an MPI communicator) and what they share.

    Args:
        comm: an mpi4py communicator, e.g. ``MPI.COMM_WORLD`` or a sweep's group of it.
    """

    def __init__(self, comm: Any) -> None:
        from mpi4py import MPI

        self.MPI = MPI
        self.comm = comm
        self.rank: int = comm.Get_rank()
        self.size: int = comm.Get_size()
        self.stop = AgreedStop()
        self._own = (0, 0, 0)  # (lo, hi, B) of the training batch in use
        self._layout: Layout | None = None
        self._buffer: np.ndarray | None = None
        self._quiet: Any = None

    def __repr__(self) -> str:
        return f"World(rank={self.rank}, size={self.size})"

    # -- data ------------------------------------------------------------------------------
    def columns(self, batch: Batch) -> Batch:
        """This process's columns of ``batch`` (of B: [r B // W, (r + 1) B // W))."""
        lo, hi = bounds(batch.inputs.shape[1], self.size)[self.rank]
        return batch_columns(batch, lo, hi)

    def own(self, batch: Batch) -> Batch:
        """This process's columns of a training batch, remembered for its dropout masks."""
        B = batch.inputs.shape[1]
        lo, hi = bounds(B, self.size)[self.rank]
        self._own = (lo, hi, B)
        return batch_columns(batch, lo, hi)

    def own_carries(self, carries: Any) -> Any:
        """This process's rows of a whole batch's carried state (a checkpoint's)."""
        if carries is None:
            return None
        lo, hi = bounds(carries[0][0].shape[0], self.size)[self.rank]
        return carry_columns(carries, lo, hi)

    def describe(self, batch_size: int) -> dict[str, Any]:
        """What a checkpoint records of the processes: W and each one's columns."""
        return {"world_size": self.size, "shards": [list(b) for b in bounds(batch_size, self.size)]}

    # -- one window ------------------------------------------------------------------------
    def gradients(
        self,
        model: Any,
        params: Any,
        batch: Batch,
        window: Any,
        carries0: Any = None,
        *,
        rng: np.random.Generator | None = None,
        **options: Any,
    ) -> WindowResult:
        """``window_gradients`` on this process's columns; the dropout masks are columns of
        the whole batch's, so they equal one process's. An empty shard (W > B) has no loss
        positions and runs nothing."""
        if self._layout is None or self._layout.keys != tuple(params):
            self._layout = layout(params)
            self._buffer = np.empty(self._layout.size, dtype=self._layout.dtype)
        lo, hi, B = self._own
        if batch.inputs.shape[1] == 0:
            return WindowResult(math.nan, 0, None, None, batch.targets)
        draws = ColumnDraws(rng, lo, hi, B) if rng is not None and options.get("train") else rng
        return window_gradients(model, params, batch, window, carries0, rng=draws, **options)

    def combine(self, result: WindowResult, carries_finite: bool) -> tuple[WindowResult, bool]:
        """The whole batch's result from every process's (one Allreduce), and whether every
        process's carried state is finite; notes whether any process was asked to stop."""
        if self._layout is None:
            raise BpttError("World.combine follows World.gradients, which lays out the buffer.")
        buf = pack(
            self._layout,
            result,
            carries_finite=carries_finite,
            stop=self.stop.local,
            out=self._buffer,
        )
        self.comm.Allreduce(self.MPI.IN_PLACE, buf, op=self.MPI.SUM)
        reduced = unpack(self._layout, buf, result)
        self.stop.requested = self.stop.requested or reduced.stop
        return reduced.result, reduced.carries_finite

    def sums(self, *values: float) -> tuple[float, ...]:
        """``values`` summed over the processes (float64, one Allreduce)."""
        buf = np.array(values, dtype=np.float64)
        self.comm.Allreduce(self.MPI.IN_PLACE, buf, op=self.MPI.SUM)
        return tuple(float(v) for v in buf)

    # -- agreement -------------------------------------------------------------------------
    def gather_state(self, state: Any) -> tuple[Any, str | None]:
        """(the whole batch's carries on process 0, None elsewhere; a message on process 0 if
        the processes' parameters, step, cursor or generator state differ, else None)."""
        parts = self.comm.gather((state.carries, state_digest(state)), root=0)
        if self.rank != 0:
            return None, None
        digests = [digest for _, digest in parts]
        odd = [r for r, d in enumerate(digests) if d != digests[0]]
        message = None
        if odd:
            message = (
                f"The processes' training states differ (process {odd[0]} from process 0 at "
                f"step {state.step}): their parameters should stay bitwise identical. This is "
                "a bug or a process that ran other code; the previous checkpoint is intact."
            )
        return join_carries([carries for carries, _ in parts]), message

    def on_root(self, fn: Callable[[], T]) -> T:
        """``fn()`` on process 0 (a file operation); its value or its BpttError on every
        process (the error marked collective)."""
        value: Any = None
        failure: BaseException | None = None
        if self.rank == 0:
            try:
                value = fn()
            except BpttError as error:
                failure = error
        value, failure = self.comm.bcast((value, failure), root=0)
        if failure is not None:
            raise collective(failure)
        return value

    def agreed(self, fn: Callable[[], T]) -> T:
        """``fn()`` on every process; if any raised a BpttError, every process raises the
        first one (by rank), marked collective. Anything else propagates (and aborts)."""
        failure: BaseException | None = None
        value: Any = None
        try:
            value = fn()
        except BpttError as error:
            failure = error
        failures = self.comm.allgather(failure)
        first = next((f for f in failures if f is not None), None)
        if first is not None:
            raise collective(first)
        return value

    def check_same(self, what: str, settings: Any) -> None:
        """Every process must run the same ``settings`` (JSON-able), else BpttError
        everywhere."""
        digest = hashlib.blake2b(json.dumps(settings, sort_keys=True, default=str).encode())
        digests = self.comm.allgather(digest.hexdigest())
        odd = [r for r, d in enumerate(digests) if d != digests[0]]
        if odd:
            raise collective(
                BpttError(
                    f"Process {odd[0]} of {self.size} runs another {what} than process 0; "
                    "start every process with the same command and files."
                )
            )

    # -- output, signals and failures ------------------------------------------------------
    def quiet(self) -> Any:
        """A stream that drops what is written (progress of processes other than 0)."""
        if self._quiet is None:
            self._quiet = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the World
        return self._quiet

    @contextmanager
    def stop_on_signals(self) -> Iterator[AgreedStop]:
        """SIGINT/SIGTERM ask every process to stop after the current window (through the
        next window's buffer); a second signal ends every process at once (MPI_Abort; the
        previous checkpoint stays intact)."""
        self.stop = AgreedStop()
        if threading.current_thread() is not threading.main_thread():
            yield self.stop
            return

        def handle(signum: int, frame: Any) -> None:
            if self.stop.local:
                print(
                    f"bptt: process {self.rank}: second interrupt, ending every process",
                    file=sys.stderr,
                    flush=True,
                )
                self.comm.Abort(130)
            self.stop.local = True

        previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        for s in previous:
            signal.signal(s, handle)
        try:
            yield self.stop
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    @contextmanager
    def guard(self, collective_types: tuple[type[BaseException], ...] = ()) -> Iterator[None]:
        """End every process when this one leaves with an exception the others did not
        raise: a one-line message (a BpttError) or the traceback, then MPI_Abort with the
        command's exit code. Exceptions marked collective, ``collective_types`` and
        SystemExit pass through."""
        try:
            yield
        except BaseException as error:
            if getattr(error, "collective", False) or isinstance(
                error, (*collective_types, SystemExit)
            ):
                raise
            self.abort(error)

    def abort(self, error: BaseException) -> None:
        """Report ``error`` and end every process of the job (MPI_Abort)."""
        who = f"process {self.rank} of {self.size}"
        if isinstance(error, BpttError):
            print(f"bptt ({who}): error: {error}".replace("\n", " "), file=sys.stderr)
        elif isinstance(error, KeyboardInterrupt):
            print(f"bptt ({who}): interrupted", file=sys.stderr)
        else:  # the one line first: the launcher may cut a long traceback short
            summary = "".join(traceback.format_exception_only(error)).strip()
            print(f"bptt ({who}): {summary}; ending every process", file=sys.stderr)
            traceback.print_exception(error, file=sys.stderr)
        sys.stderr.flush()
        time.sleep(0.2)  # let the launcher pass the message on before it ends the processes
        self.comm.Abort(exit_code(error))

    def split(self, processes: int) -> World | None:
        """Groups of ``processes`` consecutive ranks; this process's group (None for 1)."""
        if processes < 1 or self.size % processes:
            message = (
                f"{self.size} processes do not split into groups of {processes} processes per "
                f"run; launch a multiple of {processes} (mpiexec -n {2 * max(1, processes)})."
            )
            raise collective(BpttError(message))  # every process finds it
        sub = self.comm.Split(self.rank // processes, self.rank)
        if processes == 1:
            sub.Free()
            return None
        return World(sub)


def state_digest(state: Any) -> str:
    """A digest of what must be identical in every process: parameters, optimizer leaves,
    step, cursor and the generator's state."""
    from bptt.train.checkpoint import flatten

    h = hashlib.blake2b(digest_size=16)
    for name, value in state.params.items():
        h.update(name.encode())
        h.update(np.ascontiguousarray(value).tobytes())
    for leaf in flatten(state.opt_state):
        h.update(np.ascontiguousarray(leaf).tobytes())
    h.update(json.dumps([state.step, list(state.cursor), state.rng_state], default=str).encode())
    return h.hexdigest()


def _abort_on_uncaught_exceptions(world: World) -> None:
    """An exception that ends a script on one process ends all of them (as ``python -m
    mpi4py`` does), unless every process raised it (marked collective)."""
    previous = sys.excepthook

    def hook(kind: type[BaseException], value: BaseException, tb: Any) -> None:
        previous(kind, value, tb)
        if not getattr(value, "collective", False):
            sys.stderr.flush()
            world.comm.Abort(exit_code(value))

    sys.excepthook = hook
