"""The Trainer: the training loop, with evaluation, early stopping, checkpoints and signals.

The only stateful code of bptt lives here and in state.py. A run is fully described by its
TrainConfig; every checkpoint holds that config plus the TrainState, so ``--resume`` continues
bit for bit. The parts the loop uses live in their own modules: ``factories`` (task, model,
optimizer, memory policy), ``evaluate``, ``progress``, ``rundir`` (output directory and
metrics.jsonl) and ``resume`` (what a checkpoint holds).

Data order: batch ``i`` of the task (``Task.train_batch(seed, i, batch_size)``) is cut into
the windows of ``windows(T, config.truncation)``; the cursor (i, j) names window j of batch i.
The state is carried from window to window of a batch and starts from zeros at each batch
(or at each window with ``carry=False``).

Under ``mpiexec -n W`` (``bptt.train.distributed``) each process trains on its columns of
every batch, the gradients are summed over the processes once per window, and process 0
writes the files; with one process none of that code runs.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, TextIO

import numpy as np

from bptt.engine.truncated import Window, windows
from bptt.errors import BpttError, BpttStorageError
from bptt.model import Model
from bptt.train.checkpoint import (
    BEST,
    Checkpoint,
    list_checkpoints,
    remove_temporaries,
    save_checkpoint,
    set_aside_later,
)
from bptt.train.config import TrainConfig
from bptt.train.distributed import World, current_world, state_digest
from bptt.train.evaluate import evaluate
from bptt.train.factories import (
    make_task,
    make_training_optimizer,
    memory_policy,
    model_config_for,
)
from bptt.train.memory import check_training_fits
from bptt.train.progress import Progress
from bptt.train.resume import checkpoint_meta, new_run_id, restore, resume_config
from bptt.train.rundir import (
    CHECKPOINT_DIR,
    append_metrics,
    check_output_directory,
    check_writable,
    lock_run,
    truncate_metrics,
    write_config,
)
from bptt.train.state import StepMetrics, init_state, train_step
from bptt.window import Batch

__all__ = [  # the loop, and the names callers have imported from here
    "Trainer",
    "TrainingDivergedError",
    "check_output_directory",
    "check_writable",
    "evaluate",
    "make_task",
    "memory_policy",
    "model_config_for",
    "resume_config",
]


WORSE_EVALS = 3
"""Evaluations without improvement after which the trainer says that the model may overfit."""


class TrainingDivergedError(RuntimeError):
    """Too many non-finite updates in a row; the last good checkpoint is kept."""


class Trainer:
    """Trains one run: builds the task, model and optimizer from a TrainConfig, or resumes.

    Args:
        config: the resolved configuration.
        resume: a checkpoint to continue from (its config is ``resume_config``'s).
        stream: where progress and messages go (stderr by default; process 0's only).
        world: the processes that train together (``bptt.train.distributed.World``), None
            for this process alone, or "auto": the MPI launcher's processes when started by
            one (``mpiexec -n W``), else None.
    """

    def __init__(
        self,
        config: TrainConfig,
        *,
        resume: Checkpoint | None = None,
        stream: TextIO | None = None,
        world: World | str | None = "auto",
    ) -> None:
        self.config = config
        self.world = current_world() if world == "auto" else world
        self.stream = stream or sys.stderr
        if self.world is not None and self.world.rank != 0:
            self.stream = self.world.quiet()  # one voice: process 0's
        self.out = Path(config.out)
        self.checkpoints = self.out / CHECKPOINT_DIR
        self.task = make_task(config)
        self.model = Model(model_config_for(config, self.task))
        check_training_fits(config, self.model.config, self.task, self.model.cell)
        self.optimizer = make_training_optimizer(config)
        self.memory_policy = memory_policy(config, self.model)
        self.best: float | None = None
        self.evals_since_best = 0
        self.last_eval: tuple[int, dict] = (-1, {})
        self.resumed = resume is not None
        self._lock: IO[str] | None = None  # the run directory's lock while fit runs
        if resume is None:
            self.state = init_state(self.model, self.optimizer, config.seed)
            self.run_id = new_run_id()
        else:
            restored = restore(
                resume, model=self.model, optimizer=self.optimizer, vocab=self.task.vocab
            )
            self.state, self.best, self.evals_since_best, self.run_id = restored
        if self.world is not None:  # this process's rows of the saved (whole batch's) state
            self.state = self.state._replace(carries=self.world.own_carries(self.state.carries))
        self._batch: tuple[int, Batch, list[Window]] | None = None

    # -- data ------------------------------------------------------------------------------
    def _batch_of(self, index: int) -> tuple[Batch, list[Window]]:
        """Training batch ``index`` and its BPTT windows (the last one is kept)."""
        if self._batch is None or self._batch[0] != index:
            batch = self.task.train_batch(self.config.seed, index, self.config.batch_size)
            if self.world is not None:
                batch = self.world.own(batch)  # this process's columns
            self._batch = (index, batch, windows(batch.inputs.shape[0], self.config.truncation))
        return self._batch[1], self._batch[2]

    def next_window(self, cursor: tuple[int, int]) -> tuple[Batch, Window, tuple[int, int]]:
        """The whole batch of the window at ``cursor``, the window, and the cursor of it."""
        outer, inner = cursor
        batch, ws = self._batch_of(outer)
        if inner >= len(ws):
            outer, inner = outer + 1, 0
            batch, ws = self._batch_of(outer)
        return batch, ws[inner], (outer, inner)

    # -- records ---------------------------------------------------------------------------
    def save(self, name: str | None = None) -> Path:
        """Write a checkpoint of the current state (as ``name``, e.g. ``BEST``, instead of
        ckpt-<step>.npz); returns its path.

        Raises:
            BpttStorageError: it could not be written; the message names the newest
                checkpoint of the run, which is intact, and the command that resumes.
        """
        s = self.state
        meta = checkpoint_meta(
            s,
            config=self.config,
            model=self.model,
            vocab=self.task.vocab,
            best=self.best,
            evals_since_best=self.evals_since_best,
            run_id=self.run_id,
        )
        carries, differ = s.carries, None
        if self.world is not None:  # every process's rows, joined in column order
            carries, differ = self.world.gather_state(s)
            meta.update(self.world.describe(self.config.batch_size))

        def write() -> Path:
            if differ is not None:
                raise BpttError(differ)
            try:
                return save_checkpoint(
                    self.checkpoints,
                    params=s.params,
                    opt_state=s.opt_state,
                    carries=carries,
                    meta=meta,
                    keep=self.config.keep_checkpoints,
                    name=name,
                )
            except BpttStorageError as error:
                raise BpttStorageError(f"{error}; {self._recovery()}") from None

        return write() if self.world is None else self.world.on_root(write)

    def _recovery(self) -> str:
        """What is intact after a failure, and how to go on."""
        found = list_checkpoints(self.checkpoints)
        if not found:
            return "no checkpoint of this run was written yet. Fix the disk and start again."
        return (
            f"the previous checkpoint {found[-1]} is intact. Free space or fix the "
            f"permissions, then resume with: bptt train --resume {self.out}"
        )

    def log(self, record: dict[str, Any]) -> None:
        """Append ``record`` to metrics.jsonl (process 0 writes it)."""
        if self.world is not None and self.world.rank != 0:
            return
        try:
            append_metrics(self.out, record)
        except BpttStorageError as error:
            raise BpttStorageError(f"{error}; {self._recovery()}") from None

    def _start(self) -> None:
        """Before the first window: the output directory ready for this run, and a
        checkpoint to resume from however early the run is stopped."""
        if self.world is None:
            self._prepare_directory()
        else:  # the same run everywhere; process 0 writes
            self.world.check_same(
                "config or starting state", [self.config.to_dict(), state_digest(self.state)]
            )
            self.world.on_root(self._prepare_directory)
        if not self.resumed:
            self.save()  # step 0

    def _prepare_directory(self) -> None:
        """The output directory, without stale temporaries, with this run's config.toml."""
        try:
            self.out.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise BpttStorageError(
                f"Could not create {self.out} ({error.strerror or error}); choose another --out."
            ) from None
        self._lock = lock_run(self.out)  # released when the run ends (``_fit``)
        remove_temporaries(self.checkpoints)  # left by a writer killed mid-checkpoint
        write_config(self.out, self.config)
        if self.resumed:
            truncate_metrics(self.out, self.state.step)
            set_aside_later(self.checkpoints, self.run_id, self.state.step)

    def evaluate(self, split: str = "valid") -> dict:
        """The task's metric and mean loss on ``split`` with the current parameters."""
        return evaluate(
            self.model, self.state.params, self.task, self.config, split, shard=self.world
        )

    def log_diagnosis(self, step: int, batch: Batch) -> None:
        """Log the main gradient-flow figures of every layer on ``batch`` (float64 copy)."""
        from bptt.diagnostics import diagnose  # heavy (figures), and only used here

        params = {k: v.astype(np.float64) for k, v in self.state.params.items()}
        T = batch.inputs.shape[0]
        d = diagnose(self.model, params, batch, loss=self.task.loss, sweep=[T])
        record: dict[str, Any] = {"event": "diagnose", "step": step, "finite": d.finite}
        if d.lags is not None:
            record["horizon"] = {k: int(v.horizon) for k, v in d.lags.items()}
            record["decay_factor"] = {k: float(v.decay_factor) for k, v in d.lags.items()}
        record["verdict"] = {k: v.verdict for k, v in d.verdicts.items()}
        record["global_norm"] = float(d.norm_stats.norms[0])
        self.log(record)

    # -- the loop --------------------------------------------------------------------------
    def run_windows(self) -> Iterator[tuple[int, StepMetrics]]:
        """Train window by window until ``steps`` updates; yields (step, StepMetrics)."""
        cfg = self.config
        while self.state.step < cfg.steps:
            batch, w, (outer, inner) = self.next_window(self.state.cursor)
            state = self.state
            if inner == 0 or not cfg.carry:
                state = state._replace(carries=None)  # a new batch, or stateless windows
            state, metrics = train_step(
                state,
                batch,
                w,
                model=self.model,
                optimizer=self.optimizer,
                loss=self.task.loss,
                memory_policy=self.memory_policy,
                reduce=self.world,
            )
            self.state = state._replace(cursor=(outer, inner + 1))
            every = cfg.diagnose_every
            root = self.world is None or self.world.rank == 0  # process 0 diagnoses its columns
            if every and metrics.updated and self.state.step % every == 0 and root:
                self.log_diagnosis(self.state.step, batch.slice(w.start, w.stop))
            yield self.state.step, metrics

    def fit(self) -> dict[str, Any]:
        """Train to ``config.steps`` updates; returns the final evaluation and run facts.

        Raises:
            TrainingDivergedError: after ``max_nonfinite`` non-finite updates in a row.
            KeyboardInterrupt: on Ctrl-C or SIGTERM, after the current window and a checkpoint
                (a second signal interrupts at once, still saving the last state). With
                several processes, a signal to any one stops all after the same window and
                one checkpoint; a second signal ends them at once (the last checkpoint stays),
                and an error on one process ends them all (``World.guard``).
        """
        if self.world is None:
            return self._fit()
        with self.world.guard((KeyboardInterrupt, TrainingDivergedError)):
            return self._fit()

    def _fit(self) -> dict[str, Any]:
        try:
            return self._run()
        finally:
            if self._lock is not None:
                self._lock.close()
                self._lock = None

    def _run(self) -> dict[str, Any]:
        cfg = self.config
        self._start()
        t0 = time.perf_counter()
        stopped_early = False
        stopper = _stop_on_signals() if self.world is None else self.world.stop_on_signals()
        with (
            stopper as stop,
            Progress(cfg.steps, self.state.step, self.stream, cfg.log_every) as progress,
        ):
            try:
                for step, m in self.run_windows():
                    if m.nonfinite:
                        self._skipped(step, m, progress)
                    elif m.updated:
                        stopped_early = self._after_update(step, m, progress, t0)
                        if stopped_early:
                            break
                    if stop.requested:  # after the window's records: the resume repeats none
                        raise KeyboardInterrupt
            except KeyboardInterrupt:
                self.save()
                raise
        step, result = self.last_eval
        if step != self.state.step:
            result = self.evaluate("valid")
        return {
            "step": self.state.step,
            "valid": result,
            "seconds": time.perf_counter() - t0,
            "stopped_early": stopped_early,
            "nonfinite_total": self.state.nonfinite_total,
        }

    def _skipped(self, step: int, m: StepMetrics, progress: Progress) -> None:
        """Record a skipped non-finite update; stop the run after too many in a row."""
        streak = self.state.nonfinite_streak
        self.log(
            {
                "event": "nonfinite",
                "step": step,
                "loss": m.loss,
                "grad_norm": m.grad_norm,
                "streak": streak,
            }
        )
        progress.message(
            f"step {step}: non-finite loss or gradient (loss={m.loss}, "
            f"grad norm={m.grad_norm}); update skipped"
        )
        cfg = self.config
        if streak >= cfg.max_nonfinite:
            last = list_checkpoints(self.checkpoints)[-1]  # step 0's at least
            raise TrainingDivergedError(
                f"{streak} non-finite updates in a row at step {step}: training diverged. "
                f"Lower --lr (now {cfg.learning_rate}) or clip gradients (--clip, now "
                f"{cfg.clip}); the last good checkpoint is {last}."
            )

    def _after_update(self, step: int, m: StepMetrics, progress: Progress, t0: float) -> bool:
        """Progress, logging, evaluation and checkpoints after update ``step``; True to stop."""
        cfg = self.config
        progress.update(step, m.loss, m.grad_norm)
        if step % cfg.log_every == 0:
            self.log(
                {
                    "event": "train",
                    "step": step,
                    "loss": m.loss,
                    "grad_norm": m.grad_norm,
                    "time": time.perf_counter() - t0,
                }
            )
        stop = False
        if step % cfg.eval_every == 0 or step == cfg.steps:
            stop = self._after_eval(step, progress)
        if step % cfg.checkpoint_every == 0 or step == cfg.steps or stop:
            self.save()
        return stop

    # -- early stopping --------------------------------------------------------------------
    def _improved(self, value: float) -> bool:
        lower = self.task.metric.lower_is_better
        return self.best is None or (value < self.best if lower else value > self.best)

    def _after_eval(self, step: int, progress: Progress) -> bool:
        """Evaluate, log, and decide whether to stop early (patience or target reached)."""
        result = self.evaluate("valid")
        self.last_eval = (step, result)
        name = self.task.metric.name
        value = result[name]
        self.log({"event": "eval", "step": step, **{f"valid_{k}": v for k, v in result.items()}})
        progress.message(f"step {step}: validation {name} {value:.4f} (loss {result['loss']:.4f})")
        if self._improved(value):
            self.best, self.evals_since_best = value, 0
            self.save(BEST)  # sample and eval use it, whatever happens after
        else:
            self.evals_since_best += 1
            if self.evals_since_best == WORSE_EVALS:
                progress.message(
                    f"step {step}: validation {name} has not improved for {WORSE_EVALS} "
                    f"evaluations (best {self.best:.4f}, now {value:.4f}): the model may "
                    f"overfit. {self.checkpoints / BEST} keeps the best parameters (bptt "
                    "sample and eval use it); --patience N stops at such a point, --dropout "
                    "or more data may help."
                )
        patience, target = self.config.patience, self.config.stop_at
        if patience and self.evals_since_best >= patience:
            progress.message(f"early stop: no improvement in {patience} evaluations")
            return True
        lower = self.task.metric.lower_is_better
        if target is not None and (value <= target if lower else value >= target):
            progress.message(f"stop: validation {name} {value:.4f} reached the target {target}")
            return True
        return False


class _StopRequest:
    """The first SIGINT or SIGTERM asks the loop to stop after the current window; it raises
    nothing itself, so no exception can be lost in code that ignores them (a finaliser). A
    second signal interrupts at once."""

    def __init__(self) -> None:
        self.requested = False

    def handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True


@contextmanager
def _stop_on_signals() -> Iterator[_StopRequest]:
    """Ctrl-C and SIGTERM stop the loop cleanly (with a checkpoint) while it runs."""
    request = _StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request  # signal handlers can only be set from the main thread
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in previous:
        signal.signal(s, request.handle)
    try:
        yield request
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
