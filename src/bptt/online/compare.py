"""Each estimator against the exact gradient, on the same model, data and state.

``compare_estimators`` runs the model forward once over a batch, step by step, keeps every
step's values (``record_steps``), and feeds the same steps to each estimator: to full BPTT
for the exact gradient g of the batch's mean loss, and to every other estimator ``draws``
times with independent random draws (once if it has none). For the recurrent layer's
parameters (the readout's gradient is exact and immediate for all of them) it reports

    cosine          mean over draws of cos(g^, g)
    cosine_of_mean  cos(mean g^, g)
    bias            |mean g^ - g| / |g|, with bias_stderr = sqrt(variance / draws) (a bias
                    within about 2 stderr is noise of the mean, not bias)
    variance        the sample variance sum_s |g^_s - mean g^|^2 / (draws - 1), over |g|^2
    norm_ratio      |mean g^| / |g|
    seconds_per_step  the estimator's own work (its step and flush calls) per time step,
                    median over draws
    state_bytes     the largest state it held between steps (influence matrices, traces,
                    buffers): its memory.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from bptt.errors import BpttError
from bptt.model import Model
from bptt.online import make_estimator
from bptt.online.backprop import full_bptt
from bptt.online.base import Estimator, Sizes, StepInput, add_params, flat, state_bytes
from bptt.online.stepper import (
    as_features,
    cell_params,
    check_online_model,
    initial_carry,
    run_step,
)
from bptt.types import Array, Carry, CellParams, Params
from bptt.window import Batch, loss_positions


class Recorded(NamedTuple):
    """One forward pass, step by step.

    Attributes:
        steps: the StepInput of every step, in order.
        loss: the batch's mean loss (the sum of the steps' scaled losses).
        sizes: (B, D, H, O).
        carry: the final carry.
    """

    steps: list[StepInput]
    loss: float
    sizes: Sizes
    carry: Carry


class EstimatorReport(NamedTuple):
    """One estimator measured against the exact gradient (see the module docstring)."""

    name: str
    draws: int
    cosine: float
    cosine_of_mean: float
    bias: float
    bias_stderr: float
    variance: float
    norm_ratio: float
    seconds_per_step: float
    state_bytes: int
    field_cosine: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {k: _plain(v) for k, v in self._asdict().items()}


class Comparison(NamedTuple):
    """The exact gradient's size and one EstimatorReport per estimator."""

    exact_norm: float
    loss: float
    steps: int
    batch_size: int
    reports: list[EstimatorReport]

    def to_dict(self) -> dict[str, Any]:
        head = {k: _plain(v) for k, v in self._asdict().items() if k != "reports"}
        return head | {"reports": [r.to_dict() for r in self.reports]}


def _plain(value: Any) -> Any:
    """A JSON-ready value: NaN and Inf become None."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def record_steps(
    model: Model, params: Params, batch: Batch, *, loss: str, carry0: Carry | None = None
) -> Recorded:
    """Run the model over ``batch`` one step at a time and keep every step's values.

    Each step's loss is scaled by 1 / (the batch's loss positions), so the steps' losses add
    up to the mean loss ``bptt.window.window_gradients`` computes for the whole batch.

    Raises:
        BpttError: a model the estimators cannot run, padded steps, or no loss position.
    """
    check_online_model(model)
    if batch.mask is not None and not np.all(batch.mask):
        raise BpttError(
            "The online estimators run sequences of one length; this batch has padded steps "
            "(`mask`). Compare on a task without padding (adding, copy, a text)."
        )
    positions = loss_positions(batch)  # (T, B)
    total = int(positions.sum())
    if total == 0:
        raise BpttError("The batch has no loss position: there is no gradient to estimate.")
    dtype = cell_params(model, params).W_h.dtype
    T, B = batch.inputs.shape[:2]
    D = int(model.config.input_size)
    carry = initial_carry(model, params, B) if carry0 is None else carry0
    steps, value = [], 0.0
    for t in range(T):
        resets = None if batch.resets is None else np.asarray(batch.resets[t], dtype=bool)
        carry, inp, step_loss = run_step(
            model,
            params,
            carry,
            as_features(batch.inputs[t], D, dtype),
            batch.targets[t],
            positions[t],
            loss=loss,
            scale=1.0 / total,
            resets=resets,
        )
        steps.append(inp)
        value += step_loss.value
    sizes = Sizes(B, D, model.config.hidden_size, int(model.config.output_size))
    return Recorded(steps, value, sizes, carry)


def run_estimator(
    model: Model,
    params: Params,
    recorded: Recorded,
    estimator: Estimator,
    rng: np.random.Generator,
) -> tuple[CellParams | None, float, int]:
    """Feed the recorded steps to ``estimator``: (summed estimate, seconds, peak state bytes)."""
    cell, p = model.cell, cell_params(model, params)
    seconds, peak, total = 0.0, 0, None
    start = time.perf_counter()
    state = estimator.init(cell, p, recorded.sizes, rng)
    seconds += time.perf_counter() - start
    for inp in recorded.steps:
        start = time.perf_counter()
        state, estimate = estimator.step(cell, p, state, inp)
        seconds += time.perf_counter() - start
        total = add_params(total, estimate)
        peak = max(peak, state_bytes(state))
    start = time.perf_counter()
    state, estimate = estimator.flush(cell, p, state)
    seconds += time.perf_counter() - start
    return add_params(total, estimate), seconds, peak


def compare_estimators(
    model: Model,
    params: Params,
    batch: Batch,
    estimators: Sequence[Estimator | str],
    *,
    loss: str,
    draws: int = 10,
    seed: int = 0,
    carry0: Carry | None = None,
) -> Comparison:
    """Measure every estimator against full BPTT on ``batch`` (see the module docstring).

    Args:
        model, params: a one-layer model (``stepper.check_online_model``), float64 params for
            measurements at 1e-10.
        batch: the data; inputs (T, B, D) floats or (T, B) token ids (one-hot, D = V).
        estimators: Estimator objects or names ("tbptt:10", "uoro", ...).
        loss: "xent" or "mse".
        draws: independent runs of each stochastic estimator (>= 2).
        seed: seeds the draws (draw s of every estimator uses the generator [seed, s]).
        carry0: the carry at the batch start (None: zeros); the exact gradient does not
            flow into it, like a window of truncated BPTT.

    Raises:
        BpttError: ``draws`` < 2, an unknown estimator name, or a model or batch the
            estimators cannot run.
    """
    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 2:
        raise BpttError(f"`draws` must be an integer >= 2 (to measure a variance), got {draws!r}.")
    built = [make_estimator(e) if isinstance(e, str) else e for e in estimators]
    recorded = record_steps(model, params, batch, loss=loss, carry0=carry0)
    exact, _, _ = run_estimator(model, params, recorded, full_bptt(), np.random.default_rng(0))
    reports = []
    for estimator in built:
        n = draws if estimator.stochastic else 1
        reports.append(_measure(model, params, recorded, estimator, exact, n, seed))
    T, B = len(recorded.steps), recorded.sizes.batch
    return Comparison(float(np.linalg.norm(flat(exact))), recorded.loss, T, B, reports)


def _measure(
    model: Model,
    params: Params,
    recorded: Recorded,
    estimator: Estimator,
    exact: CellParams,
    draws: int,
    seed: int,
) -> EstimatorReport:
    g = flat(exact)
    estimates, times, peak = [], [], 0
    for s in range(draws):
        total, seconds, bytes_ = run_estimator(
            model, params, recorded, estimator, np.random.default_rng([seed, s])
        )
        estimates.append(flat(total) if total is not None else np.zeros_like(g))
        times.append(seconds)
        peak = max(peak, bytes_)
    G = np.stack(estimates)  # (draws, P)
    mean = G.mean(axis=0)
    norm = float(np.linalg.norm(g))
    variance = float(((G - mean) ** 2).sum(axis=1).sum() / (draws - 1)) if draws > 1 else 0.0
    variance /= norm**2
    fields = _field_cosines(exact, mean)
    return EstimatorReport(
        name=estimator.name,
        draws=draws,
        cosine=float(np.mean([_cosine(e, g) for e in G])),
        cosine_of_mean=_cosine(mean, g),
        bias=float(np.linalg.norm(mean - g)) / norm,
        bias_stderr=math.sqrt(variance / draws),
        variance=variance,
        norm_ratio=float(np.linalg.norm(mean)) / norm,
        seconds_per_step=float(np.median(times)) / len(recorded.steps),
        state_bytes=int(peak),
        field_cosine=fields,
    )


def _cosine(a: Array, b: Array) -> float:
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    return float(a @ b) / (na * nb) if na > 0 and nb > 0 else math.nan


def _field_cosines(exact: CellParams, mean: Array) -> dict[str, float]:
    """cos(mean estimate, exact) per parameter field (W_x, W_h, b, ...)."""
    out, start = {}, 0
    for name, g in zip(exact._fields, exact, strict=True):
        part = mean[start : start + g.size]
        out[name] = _cosine(part, g.ravel())
        start += g.size
    return out
