"""``diagnose``: every measurement on one model, its verdicts and recommendations; ``compare``.

Example::

    task = sequence_task("adding", 100)
    model = Model(ModelConfig(cell="rnn", hidden_size=32, **task.model_io()))
    params = model.init(np.random.default_rng(0), dtype=np.float64)
    batches = [task.draw(np.random.default_rng(i), 16) for i in range(4)]
    diagnosis = diagnose(model, params, batches, loss=task.loss)
    print(summary_table(diagnosis))
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from bptt.diagnostics._common import check_model, float64
from bptt.diagnostics.flow import batch_gradient
from bptt.diagnostics.gradstats import NormStats, gradient_norm_stats, update_ratios
from bptt.diagnostics.jacobians import (
    GateStats,
    gate_saturation,
    local_jacobian_norms,
    recurrent_weight_norms,
)
from bptt.diagnostics.sensitivity import (
    InputInfluence,
    LagProfile,
    input_influence,
    lag_profile,
    last_step_sensitivity,
)
from bptt.diagnostics.truncation import TruncationBias, check_sweep, truncation_bias
from bptt.diagnostics.verdict import (
    DEFAULT_RULES,
    NONFINITE,
    Verdict,
    VerdictRules,
    layer_verdict,
    recommendations,
)
from bptt.errors import BpttError
from bptt.model import Model
from bptt.types import Array, Params
from bptt.window import Batch


class Diagnosis(NamedTuple):
    """Everything ``diagnose`` measured on one model, keyed by layer-direction name.

    Attributes:
        name: the model's label in reports.
        cell: its cell ("rnn", "lstm", ...).
        seq_len: T of the first batch, on which the per-step measurements run.
        layers: the layer-direction names, in carry order.
        epsilon: the memory-horizon threshold.
        finite: False when a parameter or a batch's gradient is NaN or Inf; the per-step
            measurements are then skipped (None) and the findings say why.
        findings: what stands out, in sentences.
        verdicts: per layer, its Verdict.
        recommendations: advice derived from the measurements, most urgent first.
        step_norms: per layer, (T,) ||dL/dh_t|| on the first batch.
        lags: per layer, the LagProfile of the last output's gradient.
        influence: the input influence of the last output versus lag.
        jacobian_norms: per layer, (T,) mean spectral norm of the one-step carry Jacobian.
        weight_norms: per layer, largest singular values of W_h (whole and per gate).
        saturation: per layer, per gate, its GateStats.
        truncation: the truncation-bias curve on the first batch.
        norm_stats: gradient-norm statistics over all batches.
        update_ratios: per parameter, log10 std(update) / std(param), when updates were given.
    """

    name: str
    cell: str
    seq_len: int
    layers: list[str]
    epsilon: float
    finite: bool
    findings: list[str]
    verdicts: dict[str, Verdict]
    recommendations: list[str]
    step_norms: dict[str, Array] | None
    lags: dict[str, LagProfile] | None
    influence: InputInfluence | None
    jacobian_norms: dict[str, Array] | None
    weight_norms: dict[str, dict[str, float]]
    saturation: dict[str, dict[str, GateStats]] | None
    truncation: TruncationBias | None
    norm_stats: NormStats
    update_ratios: dict[str, float] | None


def diagnose(
    model: Model,
    params: Params,
    batches: Batch | Sequence[Batch],
    *,
    loss: str,
    sweep: Iterable[int] | None = None,
    epsilon: float = 1e-3,
    threshold: float = 0.9,
    updates: Params | None = None,
    carries0: Any = None,
    rules: VerdictRules = DEFAULT_RULES,
    max_sequences: int | None = 4,
    name: str | None = None,
    dependency_span: int | None = None,
    current_window: int | None = None,
) -> Diagnosis:
    """Run every measurement and derive the verdicts and recommendations.

    The per-step measurements (gradient flow, lag profiles, input influence, Jacobians, gate
    saturation, truncation bias) use the first batch; the gradient-norm statistics use all.
    Everything runs in evaluation mode (no dropout) with the parameters held fixed.

    Args:
        model, params: the model and its parameters.
        batches: one Batch or several, each with per-step targets for ``loss``.
        loss: "xent" or "mse".
        sweep: truncation windows k, 1 <= k <= T (None: ``default_sweep(T)``).
        epsilon: the memory-horizon threshold, relative to the lag-0 gradient.
        threshold: the cosine the recommended truncation window must reach.
        updates: optionally one optimizer update, for the update-to-parameter ratios.
        carries0: the state at the first batch's start (None: zeros).
        rules: the verdict thresholds.
        max_sequences: sequences averaged in the Jacobian norms (None: all).
        name: the label in reports (default: the cell name).
        dependency_span, current_window: floors of the advised truncation window (see
            ``verdict.recommendations``).

    Returns:
        A Diagnosis. A model whose parameters or gradients are NaN or Inf is not an error:
        it is reported as a finding with the verdict "non-finite".

    Raises:
        ValueError: a sweep value outside [1, T] (named), an empty list of batches, or a
            model without per-step outputs.
    """
    check_model(model)
    params = float64(params)
    batches = [batches] if isinstance(batches, Batch) else list(batches)
    if not batches:
        raise BpttError("`batches` is empty; pass at least one Batch.")
    first = batches[0]
    T = first.inputs.shape[0]
    sweep = check_sweep(sweep, T)  # a bad sweep fails before any work
    layers = model.layer_prefixes()
    # Only the first batch starts from ``carries0``; the others start from zeros.
    flows = [
        batch_gradient(model, params, b, loss=loss, carries0=carries0 if i == 0 else None)
        for i, b in enumerate(batches)
    ]
    norm_stats = gradient_norm_stats([f.grads for f in flows])
    ratios = None if updates is None else update_ratios(updates, params)
    findings = _nonfinite_findings(params, norm_stats)
    common = {
        "name": name or model.config.cell,
        "cell": model.config.cell,
        "seq_len": T,
        "layers": layers,
        "epsilon": epsilon,
        "weight_norms": recurrent_weight_norms(model, params),
        "norm_stats": norm_stats,
        "update_ratios": ratios,
    }
    if findings:
        return _nonfinite_diagnosis(model.config.cell, common, findings)
    per_step = _per_step_measurements(
        model, params, first, loss, sweep, epsilon, threshold, carries0, max_sequences
    )
    verdicts = {n: layer_verdict(n, per_step["lags"][n], rules) for n in layers}
    advice = recommendations(
        model.config.cell,
        verdicts,
        seq_len=T,
        epsilon=epsilon,
        lags=per_step["lags"],
        saturation=per_step["saturation"],
        weight_norms=common["weight_norms"],
        truncation=per_step["truncation"],
        norm_stats=norm_stats,
        dependency_span=dependency_span,
        current_window=current_window,
    )
    influence, saturation = per_step["influence"], per_step["saturation"]
    return Diagnosis(
        **common,
        **per_step,
        finite=all(v.verdict != NONFINITE for v in verdicts.values()),
        findings=_findings(verdicts, influence, saturation, norm_stats),
        verdicts=verdicts,
        recommendations=advice,
        step_norms=flows[0].step_norms,
    )


def _nonfinite_diagnosis(cell: str, common: dict[str, Any], findings: list[str]) -> Diagnosis:
    """The Diagnosis of a model whose parameters or gradients are not finite: its findings
    and the advice for it; no per-step measurement."""
    layers = common["layers"]
    verdicts = {n: Verdict(n, NONFINITE, findings[0]) for n in layers}
    advice = recommendations(
        cell,
        verdicts,
        seq_len=common["seq_len"],
        epsilon=common["epsilon"],
        norm_stats=common["norm_stats"],
    )
    return Diagnosis(
        **common,
        finite=False,
        findings=findings,
        verdicts=verdicts,
        recommendations=advice,
        step_norms=None,
        lags=None,
        influence=None,
        jacobian_norms=None,
        saturation=None,
        truncation=None,
    )


def _per_step_measurements(
    model: Model,
    params: Params,
    batch: Batch,
    loss: str,
    sweep: list[int],
    epsilon: float,
    threshold: float,
    carries0: Any,
    max_sequences: int | None,
) -> dict[str, Any]:
    """The Diagnosis fields measured on one batch: lags, influence, jacobian_norms,
    saturation and truncation."""
    sens = last_step_sensitivity(model, params, batch, carries0=carries0)
    return {
        "lags": {n: lag_profile(sens.hidden[n], epsilon=epsilon) for n in model.layer_prefixes()},
        "influence": input_influence(sens.inputs),
        "jacobian_norms": local_jacobian_norms(
            model, params, batch, carries0=carries0, max_sequences=max_sequences
        ),
        "saturation": gate_saturation(model, params, batch, carries0=carries0),
        "truncation": truncation_bias(
            model, params, batch, loss=loss, sweep=sweep, threshold=threshold, carries0=carries0
        ),
    }


def compare(
    models: Mapping[str, tuple[Model, Params]],
    batches: Batch | Sequence[Batch],
    *,
    loss: str,
    **options: Any,
) -> dict[str, Diagnosis]:
    """``diagnose`` several models on the same batches, for a side-by-side report.

    Args:
        models: label -> (model, params), e.g. {"rnn": ..., "lstm": ..., "gru": ...}.
        batches, loss: as for ``diagnose``.
        **options: any other keyword of ``diagnose`` (sweep, epsilon, threshold, ...).

    Returns:
        label -> Diagnosis, in the order given; ``summary_table`` and ``write_report``
        accept it as it is.
    """
    if not models:
        raise BpttError("`models` is empty; pass label -> (model, params) pairs.")
    return {
        label: diagnose(model, params, batches, loss=loss, name=label, **options)
        for label, (model, params) in models.items()
    }


def _nonfinite_findings(params: Params, stats: NormStats) -> list[str]:
    """Sentences on parameters and gradients that are NaN or Inf; empty when all are finite."""
    findings = []
    bad = {n: int((~np.isfinite(p)).sum()) for n, p in params.items()}
    bad = {n: c for n, c in bad.items() if c}
    if bad:
        listed = ", ".join(f"{n} ({c} of {params[n].size} entries)" for n, c in bad.items())
        findings.append(f"parameters are not finite: {listed} hold NaN or Inf")
    if stats.nonfinite.size:
        n = len(stats.norms)
        names = [k for k, v in stats.param_norms.items() if not np.isfinite(v).all()]
        findings.append(
            f"gradients are not finite: {stats.nonfinite.size} of {n} batches give a NaN or "
            f"Inf gradient (in {', '.join(names[:4])}{', ...' if len(names) > 4 else ''})"
        )
    return findings


def _findings(
    verdicts: dict[str, Verdict],
    influence: InputInfluence,
    saturation: dict[str, dict[str, GateStats]],
    stats: NormStats,
) -> list[str]:
    """What stands out, beyond the per-layer verdicts."""
    findings = [f"{n}: {v.verdict}: {v.evidence}" for n, v in verdicts.items()]
    share = influence.recent_share
    if np.isfinite(share):
        findings.append(
            f"{share:.0%} of the last output's input influence comes from the most recent "
            f"{influence.recent_steps} of {len(influence.norms)} steps"
        )
    for layer, gates in saturation.items():
        for gate, s in gates.items():
            if s.saturated > 0.5:
                findings.append(
                    f"{layer}: {s.saturated:.0%} of the {gate} {s.kind} activations are "
                    f"saturated ({s.low:.0%} low, {s.high:.0%} high)"
                )
    if stats.spikes.size:
        findings.append(
            f"{stats.spikes.size} of {len(stats.norms)} batches have a gradient norm above "
            f"{stats.spike_factor:g} x the median (batches {stats.spikes.tolist()})"
        )
    return findings
