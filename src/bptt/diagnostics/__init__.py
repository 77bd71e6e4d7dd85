"""Gradient-flow diagnostics: what a recurrent model forgets, why, and what to change.

Pure functions of a model, its parameters and batches, built on the engine's backward pass
and its per-step observer (no autograd), in evaluation mode and in float64 whatever the
parameters' dtype (see ``_common.float64``). ``diagnose`` runs them all; ``report`` turns the
result into a terminal table, PNG figures, an HTML page and a JSON file.
"""

from bptt.diagnostics.diagnose import Diagnosis, compare, diagnose
from bptt.diagnostics.flow import BatchGradient, batch_gradient
from bptt.diagnostics.gradstats import NormStats, gradient_norm_stats, update_ratios
from bptt.diagnostics.jacobians import (
    GATE_NAMES,
    GateStats,
    carry_jacobian,
    gate_saturation,
    local_jacobian_norms,
    recurrent_weight_norms,
)
from bptt.diagnostics.report import ReportPaths, report_data, summary_table, write_report
from bptt.diagnostics.sensitivity import (
    InputInfluence,
    LagProfile,
    Sensitivity,
    input_influence,
    lag_profile,
    last_step_sensitivity,
)
from bptt.diagnostics.truncation import (
    TruncationBias,
    default_sweep,
    truncated_gradient,
    truncation_bias,
)
from bptt.diagnostics.verdict import (
    EXPLODING,
    HEALTHY,
    NONFINITE,
    VANISHING,
    Verdict,
    VerdictRules,
    layer_verdict,
    recommendations,
)

__all__ = [
    "EXPLODING",
    "GATE_NAMES",
    "HEALTHY",
    "NONFINITE",
    "VANISHING",
    "BatchGradient",
    "Diagnosis",
    "GateStats",
    "InputInfluence",
    "LagProfile",
    "NormStats",
    "ReportPaths",
    "Sensitivity",
    "TruncationBias",
    "Verdict",
    "VerdictRules",
    "batch_gradient",
    "carry_jacobian",
    "compare",
    "default_sweep",
    "diagnose",
    "gate_saturation",
    "gradient_norm_stats",
    "input_influence",
    "lag_profile",
    "last_step_sensitivity",
    "layer_verdict",
    "local_jacobian_norms",
    "recommendations",
    "recurrent_weight_norms",
    "report_data",
    "summary_table",
    "truncated_gradient",
    "truncation_bias",
    "update_ratios",
    "write_report",
]
