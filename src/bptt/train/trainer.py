"""The Trainer: the training loop, evaluation, logging, progress and checkpoints.

The only stateful code of bptt lives here and in state.py. A run is fully described by its
TrainConfig; every checkpoint holds that config plus the TrainState, so ``--resume`` continues
bit for bit.
"""

from __future__ import annotations

import dataclasses
import json
import math
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from bptt.engine.schedule import slots_for_bytes
from bptt.engine.truncated import Window, schedule
from bptt.errors import BpttError, BpttPermissionError
from bptt.model import Model, ModelConfig
from bptt.optim import GradientTransformation, make_optimizer, with_clipping
from bptt.train.checkpoint import (
    Checkpoint,
    list_checkpoints,
    save_checkpoint,
    unflatten,
)
from bptt.train.config import (
    ARCHITECTURE_FIELDS,
    TrainConfig,
    parse_memory_budget,
    resolve_config,
)
from bptt.train.real_tasks import REAL_TASKS, ClassificationTask, ForecastTask, real_task
from bptt.train.state import TrainState, init_state, train_step
from bptt.train.tasks import (
    SequenceTask,
    StreamTask,
    sequence_task,
    shakespeare_task,
    text_file_task,
)
from bptt.window import Batch

Task = StreamTask | SequenceTask | ClassificationTask | ForecastTask


class TrainingDivergedError(RuntimeError):
    """Too many non-finite updates in a row; the last good checkpoint is kept."""


def make_task(config: TrainConfig) -> Task:
    if config.task in REAL_TASKS:
        return real_task(config.task, config)
    if config.task == "shakespeare":
        return shakespeare_task()
    if config.task == "text":
        return text_file_task(str(config.text), config.batch_size)
    return sequence_task(config.task, config.seq_len)


def model_config_for(config: TrainConfig, task: Task) -> ModelConfig:
    return ModelConfig(
        cell=config.cell,
        hidden_size=config.hidden_size,
        embed_size=config.embed_size,
        num_layers=config.num_layers,
        dropout=config.dropout,
        forget_bias=config.forget_bias,
        readout="all",
        **task.model_io(),
    )


def memory_policy(config: TrainConfig, model: Model) -> str | int | None:
    """The checkpointing policy of ``config.memory_budget`` for each layer, or None (off).

    A budget in bytes becomes a number of stored states of one step's share of full BPTT's
    memory, about (2G + 3) * B * H float32 values (gates, their gradients, h, c and the
    input projection).
    """
    budget = parse_memory_budget(config.memory_budget)
    if budget is None:
        return None
    kind, amount = budget
    if kind == "sqrt":
        return "sqrt"
    if kind == "states":
        return int(amount)
    G = model.cell.num_gates
    state_bytes = (2 * G + 3) * config.batch_size * config.hidden_size * 4
    return slots_for_bytes(int(amount), state_bytes)


def make_training_optimizer(config: TrainConfig) -> GradientTransformation:
    optimizer = make_optimizer(config.optimizer, config.learning_rate)
    return with_clipping(optimizer, config.clip) if config.clip > 0 else optimizer


def _loss_sums(loss: str, outputs: np.ndarray, batch: Batch) -> tuple[float, int, int]:
    """(summed loss, number of loss terms, correct predictions) at the loss positions."""
    positions = np.ones(outputs.shape[:2], dtype=bool)
    for extra in (batch.loss_mask, batch.mask):
        if extra is not None:
            positions &= extra
    picked = outputs[positions].astype(np.float64)  # (N, O)
    if loss == "mse":
        target = np.asarray(batch.targets)[positions]
        return float(np.sum((picked - target) ** 2)), int(picked.size), 0
    targets = np.asarray(batch.targets)[positions]  # (N,)
    shifted = picked - picked.max(axis=1, keepdims=True)
    with np.errstate(under="ignore"):  # exp of a very negative score is 0, as intended
        log_z = np.log(np.exp(shifted).sum(axis=1))
    nll = log_z - shifted[np.arange(targets.size), targets]
    correct = int((picked.argmax(axis=1) == targets).sum())
    return float(nll.sum()), int(targets.size), correct


def evaluate(model: Model, params: Any, task: Task, config: TrainConfig, split: str) -> dict:
    """The task's metric on ``split`` ("valid" or "test"), with the mean loss.

    Text is read in windows of ``eval_window`` steps with the state carried across windows
    (never reset per chunk), or, for a model trained with ``carry=False``, in windows of k1
    steps from a zero state, as it was trained; synthetic tasks use a fixed set of
    ``eval_sequences`` sequences.
    """
    loss_sum, count, correct = 0.0, 0, 0
    if isinstance(task, StreamTask):
        carries = None
        window = config.eval_window if config.carry else config.k1
        for batch in task.eval_batches(split, config.batch_size, window):
            out, carries, _ = model.forward(
                params,
                batch.inputs,
                resets=batch.resets,
                carries0=carries if config.carry else None,
            )
            s, n, c = _loss_sums(task.loss, out, batch)
            loss_sum, count, correct = loss_sum + s, count + n, correct + c
    else:
        for batch in task.eval_batches(config.seed, config.eval_sequences, 250, split=split):
            out, _, _ = model.forward(params, batch.inputs, mask=batch.mask)
            s, n, c = _loss_sums(task.loss, out, batch)
            loss_sum, count, correct = loss_sum + s, count + n, correct + c
    return {
        task.metric.name: task.score(loss_sum, count, correct),
        "loss": loss_sum / count,
    }


class Progress:
    """A one-line progress bar with rate and ETA on a terminal, plain periodic lines otherwise."""

    def __init__(self, total: int, start: int, stream: TextIO, every: int) -> None:
        self.total, self.start, self.stream, self.every = total, start, stream, every
        self.tty = stream.isatty()
        self.t0 = time.perf_counter()

    def update(self, step: int, loss: float, grad_norm: float) -> None:
        if not self.tty and step % self.every and step != self.total:
            return
        elapsed = time.perf_counter() - self.t0
        rate = (step - self.start) / elapsed if elapsed > 0 else 0.0
        eta = (self.total - step) / rate if rate > 0 else math.inf
        eta_text = f"{int(eta // 60)}m{int(eta % 60):02d}s" if math.isfinite(eta) else "?"
        text = (
            f"step {step}/{self.total}  loss {loss:.4f}  grad-norm {grad_norm:.3g}  "
            f"{rate:.1f} upd/s  ETA {eta_text}"
        )
        if self.tty:
            done = int(30 * step / self.total)
            self.stream.write(f"\r[{'#' * done}{'.' * (30 - done)}] {text}\033[K")
            if step == self.total:
                self.stream.write("\n")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def message(self, text: str) -> None:
        self.stream.write(("\n" if self.tty else "") + text + "\n")
        self.stream.flush()


class Trainer:
    """Trains one run: builds the task, model and optimizer from a TrainConfig, or resumes.

    Args:
        config: the resolved configuration.
        resume: a checkpoint file or run directory to continue from.
        stream: where progress and messages go (stderr by default).
    """

    def __init__(
        self, config: TrainConfig, *, resume: Checkpoint | None = None, stream: TextIO | None = None
    ) -> None:
        self.config = config
        self.stream = stream or sys.stderr
        self.out = Path(config.out)
        self.checkpoints = self.out / "checkpoints"
        self.task = make_task(config)
        self.model = Model(model_config_for(config, self.task))
        self.optimizer = make_training_optimizer(config)
        self.memory_policy = memory_policy(config, self.model)
        self.best: float | None = None
        self.evals_since_best = 0
        self.last_eval: tuple[int, dict] = (-1, {})
        if resume is None:
            self.state = init_state(self.model, self.optimizer, config.seed)
        else:
            self.state = self._restore(resume)
        self._batch_cache: tuple[int, Batch] | None = None
        if isinstance(self.task, StreamTask):
            self.batcher = self.task.batcher("train", config.batch_size, config.k1)
            self.stream_windows = schedule(self.batcher.stream_length, config.k1, config.k2)

    # -- data ------------------------------------------------------------------------------
    def _sequence_batch(self, index: int) -> Batch:
        if self._batch_cache is None or self._batch_cache[0] != index:
            batch = self.task.train_batch(self.config.seed, index, self.config.batch_size)
            self._batch_cache = (index, batch)
        return self._batch_cache[1]

    def _windows_of(self, outer: int) -> list[Window]:
        if isinstance(self.task, StreamTask):
            return self.stream_windows
        T = self._sequence_batch(outer).inputs.shape[0]
        k1, k2 = (T, T) if self.config.full_bptt else (self.config.k1, self.config.k2)
        return schedule(T, k1, k2)

    def next_window(self, cursor: tuple[int, int]) -> tuple[Batch, Window, tuple[int, int]]:
        """The batch of the window at ``cursor``, the window, and the cursor after it."""
        outer, inner = cursor
        windows = self._windows_of(outer)
        if inner >= len(windows):
            outer, inner = outer + 1, 0
            windows = self._windows_of(outer)
        w = windows[inner]
        if isinstance(self.task, StreamTask):
            span = self.batcher.span(w.start, w.stop)
            batch = Batch(span.inputs, span.targets, resets=span.resets)
        else:
            batch = self._sequence_batch(outer).slice(w.start, w.stop)
        return batch, w, (outer, inner)

    # -- checkpoints ---------------------------------------------------------------------------
    def _meta(self) -> dict[str, Any]:
        s = self.state
        vocab = self.task.vocab
        return {
            "step": s.step,
            "cursor": list(s.cursor),
            "rng_state": s.rng_state,
            "nonfinite_streak": s.nonfinite_streak,
            "nonfinite_total": s.nonfinite_total,
            "best": self.best,
            "evals_since_best": self.evals_since_best,
            "config": self.config.to_dict(),
            "model_config": dataclasses.asdict(self.model.config),
            "vocab": None if vocab is None else vocab.to_list(),
        }

    def save(self) -> Path:
        s = self.state
        return save_checkpoint(
            self.checkpoints,
            params=s.params,
            opt_state=s.opt_state,
            carries=s.carries,
            meta=self._meta(),
            keep=self.config.keep_checkpoints,
        )

    def _restore(self, ckpt: Checkpoint) -> TrainState:
        template = self.model.init(np.random.default_rng(0))
        if list(template) != list(ckpt.params) or any(
            template[k].shape != ckpt.params[k].shape for k in template
        ):
            raise BpttError(
                f"Checkpoint {ckpt.path} holds parameters that do not fit this model "
                f"({self.model.config}); it was made with a different config."
            )
        vocab = ckpt.meta.get("vocab")
        if self.task.vocab is not None and vocab != self.task.vocab.to_list():
            raise BpttError(
                f"Checkpoint {ckpt.path} was trained with a different vocabulary than the "
                "current data; resume with the same --task/--text."
            )
        params = {k: np.array(v) for k, v in ckpt.params.items()}
        opt_state = unflatten(self.optimizer.init(params), ckpt.opt_leaves)
        carries = None
        if ckpt.carries is not None:
            carry_type = self.model.cell.carry_type
            carries = tuple(carry_type(**c) for c in ckpt.carries)
        meta = ckpt.meta
        self.best = meta.get("best")
        self.evals_since_best = int(meta.get("evals_since_best", 0))
        return TrainState(
            params,
            opt_state,
            int(meta["step"]),
            tuple(meta["cursor"]),
            carries,
            meta["rng_state"],
            int(meta["nonfinite_streak"]),
            int(meta["nonfinite_total"]),
        )

    # -- the loop ----------------------------------------------------------------------------
    def log(self, record: dict[str, Any]) -> None:
        with open(self.out / "metrics.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    def evaluate(self, split: str = "valid") -> dict:
        return evaluate(self.model, self.state.params, self.task, self.config, split)

    def _improved(self, value: float) -> bool:
        lower = self.task.metric.lower_is_better
        return self.best is None or (value < self.best if lower else value > self.best)

    def log_diagnosis(self, step: int, batch: Batch) -> None:
        """Log the main gradient-flow figures of every layer on ``batch`` (float64 copy)."""
        from bptt.diagnostics import diagnose

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

    def run_windows(self) -> Iterator[tuple[int, Any]]:
        """Train window by window until ``steps`` updates; yields (step, StepMetrics)."""
        cfg = self.config
        while self.state.step < cfg.steps:
            batch, w, (outer, inner) = self.next_window(self.state.cursor)
            state = self.state
            if inner == 0 or not cfg.carry:
                state = state._replace(carries=None)  # a new pass, batch, or stateless chunks
            local = Window(0, w.new_start - w.start, w.stop - w.start, w.next_start - w.start)
            state, metrics = train_step(
                state,
                batch,
                local,
                model=self.model,
                optimizer=self.optimizer,
                loss=self.task.loss,
                memory_policy=self.memory_policy,
            )
            self.state = state._replace(cursor=(outer, inner + 1))
            every = cfg.diagnose_every
            if every and metrics.updated and self.state.step % every == 0:
                self.log_diagnosis(self.state.step, batch)
            yield self.state.step, metrics

    def fit(self) -> dict[str, Any]:
        """Train to ``config.steps`` updates; returns the final evaluation and run facts.

        Raises:
            TrainingDivergedError: after ``max_nonfinite`` non-finite updates in a row.
            KeyboardInterrupt: on Ctrl-C or SIGTERM, after saving a checkpoint.
        """
        cfg = self.config
        self.out.mkdir(parents=True, exist_ok=True)
        progress = Progress(cfg.steps, self.state.step, self.stream, cfg.log_every)
        previous = signal.getsignal(signal.SIGTERM)
        if _in_main_thread():
            signal.signal(signal.SIGTERM, _raise_interrupt)
        t0 = time.perf_counter()
        stopped_early = False
        try:
            for step, m in self.run_windows():
                if m.nonfinite:
                    self.log(
                        {
                            "event": "nonfinite",
                            "step": step,
                            "loss": m.loss,
                            "grad_norm": m.grad_norm,
                            "streak": self.state.nonfinite_streak,
                        }
                    )
                    progress.message(
                        f"step {step}: non-finite loss or gradient (loss={m.loss}, "
                        f"grad norm={m.grad_norm}); update skipped"
                    )
                    if self.state.nonfinite_streak >= cfg.max_nonfinite:
                        raise TrainingDivergedError(
                            f"{self.state.nonfinite_streak} non-finite updates in a row at step "
                            f"{step}: training diverged. Lower --lr (now {cfg.learning_rate}) or "
                            f"clip gradients (--clip, now {cfg.clip}); the last good checkpoint "
                            f"is kept in {self.checkpoints}."
                        )
                    continue
                if not m.updated:
                    continue
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
                if step % cfg.eval_every == 0 or step == cfg.steps:
                    stopped_early = self._after_eval(step, progress)
                if step % cfg.checkpoint_every == 0 or step == cfg.steps or stopped_early:
                    self.save()
                if stopped_early:
                    break
        except KeyboardInterrupt:
            self.save()
            raise
        finally:
            if _in_main_thread():
                signal.signal(signal.SIGTERM, previous)
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

    def _after_eval(self, step: int, progress: Progress) -> bool:
        result = self.evaluate("valid")
        self.last_eval = (step, result)
        name = self.task.metric.name
        value = result[name]
        self.log({"event": "eval", "step": step, **{f"valid_{k}": v for k, v in result.items()}})
        progress.message(f"step {step}: validation {name} {value:.4f} (loss {result['loss']:.4f})")
        if self._improved(value):
            self.best, self.evals_since_best = value, 0
        else:
            self.evals_since_best += 1
        patience, target = self.config.patience, self.config.stop_at
        if patience and self.evals_since_best >= patience:
            progress.message(f"early stop: no improvement in {patience} evaluations")
            return True
        lower = self.task.metric.lower_is_better
        if target is not None and (value <= target if lower else value >= target):
            progress.message(f"stop: validation {name} {value:.4f} reached the target {target}")
            return True
        return False


def _in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def check_writable(out: Path) -> None:
    """Create ``out`` if needed and fail with PermissionError when it cannot be written."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".probe-"):
            pass
    except OSError as error:
        raise BpttPermissionError(
            f"Output directory {out} is not writable ({error.strerror}); choose another with --out."
        ) from None


def check_output_directory(out: Path, *, resuming: bool) -> None:
    """Fail before training when ``out`` cannot be written or holds another run's checkpoints."""
    check_writable(out)
    if not resuming and list_checkpoints(out / "checkpoints"):
        raise BpttError(
            f"Output directory {out} already holds checkpoints of an earlier run; continue it "
            f"with --resume {out}, or choose another --out (nothing was overwritten)."
        )


def resume_config(ckpt: Checkpoint, overrides: dict[str, Any]) -> TrainConfig:
    """The checkpoint's config with ``overrides`` applied; architecture changes are refused."""
    saved = ckpt.meta.get("config")
    if not isinstance(saved, dict):
        raise BpttError(f"Checkpoint {ckpt.path} holds no training config; it cannot resume.")
    conflicts = [
        f"{k}={saved.get(k)!r} in the checkpoint, {v!r} asked"
        for k, v in overrides.items()
        if k in ARCHITECTURE_FIELDS and v is not None and v != saved.get(k)
    ]
    if conflicts:
        raise BpttError(
            f"Incompatible config for resuming {ckpt.path}: {'; '.join(conflicts)}. Start a new "
            "run (another --out) to change these."
        )
    return resolve_config(saved, overrides)
