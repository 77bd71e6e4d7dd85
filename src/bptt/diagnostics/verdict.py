"""Verdicts per layer and recommendations, in words and numbers, from the measurements.

The verdict of a layer-direction reads its lag profile (the gradient of the last step's output
with respect to h_{last-l}, relative to lag 0), checking in this order:

    non-finite  the curve holds NaN or Inf.
    exploding   the fitted per-step factor is at least 1 + growth_tolerance (default 1.05), or
                the gradient at some lag is at least explode_ratio (default 10) times the
                lag-0 gradient.
    vanishing   the memory horizon (the last lag before the gradient drops below epsilon of
                its lag-0 value) is shorter than vanishing_fraction (default 1/2) of the
                longest measured lag L - 1: the last output cannot learn from the first half
                of the sequence. Also when no gradient reaches the layer at all.
    healthy     otherwise.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from bptt.diagnostics.gradstats import NormStats
from bptt.diagnostics.jacobians import GateStats
from bptt.diagnostics.sensitivity import LagProfile
from bptt.diagnostics.truncation import TruncationBias

HEALTHY, VANISHING, EXPLODING, NONFINITE = "healthy", "vanishing", "exploding", "non-finite"
VERDICTS = (HEALTHY, VANISHING, EXPLODING, NONFINITE)
RNN_CELLS = ("rnn", "relu", "irnn")
LSTM_FORGET_BIAS = 3.0
"""The forget bias recommended against vanishing: f = s(3) = 0.95 at initialisation."""


class VerdictRules(NamedTuple):
    """Thresholds of the verdicts (see the module docstring).

    Attributes:
        vanishing_fraction: a horizon shorter than this share of the measured lags vanishes.
        growth_tolerance: a per-step factor of at least 1 + this explodes.
        explode_ratio: a gradient this many times the lag-0 gradient explodes.
    """

    vanishing_fraction: float = 0.5
    growth_tolerance: float = 0.05
    explode_ratio: float = 10.0


class Verdict(NamedTuple):
    """One layer-direction's verdict.

    Attributes:
        layer: the layer-direction name (``layers.0``, ``layers.0.reverse``).
        verdict: one of VERDICTS.
        evidence: the numbers behind it, in a sentence.
    """

    layer: str
    verdict: str
    evidence: str


DEFAULT_RULES = VerdictRules()


def layer_verdict(layer: str, profile: LagProfile, rules: VerdictRules = DEFAULT_RULES) -> Verdict:
    """Classify one layer-direction's lag profile.

    Args:
        layer: its name, repeated in the verdict.
        profile: its LagProfile (L lags).
        rules: the thresholds.

    Returns:
        A Verdict whose evidence quotes the ratio at the longest lag, the fitted factor and
        the horizon, e.g. "the gradient reaching 99 steps back is 6.1e-26 of the last
        step's; ...".

    Example::

        >>> from bptt.diagnostics import lag_profile
        >>> layer_verdict("layers.0", lag_profile(0.5 ** np.arange(100))).verdict
        'vanishing'
    """
    norms, ratios = profile.norms, profile.ratios
    last = len(norms) - 1
    if not np.isfinite(norms).all():
        where = int(np.argmax(~np.isfinite(norms)))
        return Verdict(
            layer, NONFINITE, f"the gradient from the last output is NaN or Inf at lag {where}"
        )
    if last < 1:
        return Verdict(layer, HEALTHY, "the sequence has a single step: nothing to propagate")
    if not norms[0] > 0:
        return Verdict(layer, VANISHING, "no gradient from the last output reaches this layer")
    reach = (
        f"the gradient reaching {last} steps back is {_num(ratios[last])} "
        f"{'times' if ratios[last] > 1 else 'of'} the last step's"
    )
    factor = f"{_num(profile.decay_factor, 3)} per step (log-linear fit)"
    peak = float(np.max(ratios))
    if profile.decay_factor >= 1.0 + rules.growth_tolerance or peak >= rules.explode_ratio:
        return Verdict(
            layer,
            EXPLODING,
            f"{reach}; it grows by a factor {factor}, peaking at {_num(peak)} times the "
            "lag-0 gradient",
        )
    horizon = (
        f"it stays above {_num(profile.epsilon)} of the lag-0 value for "
        f"{profile.horizon} of {last} steps (memory horizon {profile.horizon}"
    )
    if profile.horizon < rules.vanishing_fraction * last:
        return Verdict(
            layer,
            VANISHING,
            f"{reach}; it shrinks by a factor {factor} and {horizon}, shorter than "
            f"{_num(rules.vanishing_fraction)} of the sequence)",
        )
    bound = ", the whole sequence: a lower bound" if profile.reaches_start else ""
    return Verdict(layer, HEALTHY, f"{reach}; it changes by a factor {factor}; {horizon}{bound})")


def recommendations(
    cell: str,
    verdicts: dict[str, Verdict],
    *,
    seq_len: int,
    epsilon: float,
    lags: dict[str, LagProfile] | None = None,
    saturation: dict[str, dict[str, GateStats]] | None = None,
    weight_norms: dict[str, dict[str, float]] | None = None,
    truncation: TruncationBias | None = None,
    norm_stats: NormStats | None = None,
    dependency_span: int | None = None,
    current_window: int | None = None,
) -> list[str]:
    """Concrete advice on the architecture, the truncation window and the clipping threshold.

    The truncation window is never advised below what the task needs (``dependency_span``)
    or, while the gradient vanishes, below the window the model trains with: a vanishing
    gradient meets any cosine criterion with a short window and says nothing about how far
    back a trained model must reach.

    Args:
        cell: the model's cell name ("rnn", "relu", "irnn", "lstm", "gru").
        verdicts: per layer-direction name, its Verdict.
        seq_len: T of the diagnosed batch.
        epsilon: the horizon threshold the lag profiles used.
        lags, saturation, weight_norms, truncation, norm_stats: the measurements behind the
            verdicts (None where not measured).
        dependency_span: how many steps back the task's targets depend on its inputs, where
            the task knows it (adding: T; copy: T + 20; a classified sequence: all of it).
        current_window: k2 of the truncation the model was trained with (None: full BPTT or
            a fresh model).

    Returns:
        Sentences, most urgent first: gradients that are not finite, then the architecture,
        the truncation window and the clipping threshold.
    """
    advice: list[str] = []
    clip = norm_stats.clip_threshold if norm_stats is not None else math.nan
    by_kind = {v: [name for name, x in verdicts.items() if x.verdict == v] for v in VERDICTS}
    if by_kind[NONFINITE]:
        advice.append(
            "Gradients are not finite: restart from the last checkpoint whose gradients are, "
            "with a lower learning rate and global-norm clipping"
            + (f" at {_num(clip)}." if math.isfinite(clip) else ".")
        )
    if by_kind[EXPLODING]:
        layer = by_kind[EXPLODING][0]
        sigma = (weight_norms or {}).get(layer, {}).get("all", math.nan)
        advice.append(
            f"Exploding gradients in {', '.join(by_kind[EXPLODING])}: shrink the recurrent "
            f"weights (the largest singular value of {layer}'s W_h is {_num(sigma)}; keep it "
            "near or below 1) or use an lstm or gru cell, and clip the global gradient norm."
        )
    if by_kind[VANISHING]:
        advice.append(_vanishing_advice(cell, by_kind[VANISHING], epsilon, lags, saturation))
    if not advice:
        advice.append(
            "Architecture: no change needed; in every layer the gradient from the last "
            "output reaches back far enough without growing (verdict healthy)."
        )
    if truncation is not None:
        vanishing = bool(by_kind[VANISHING])
        floor = max(dependency_span or 0, (current_window or 0) if vanishing else 0)
        advice.append(_truncation_advice(truncation, seq_len, vanishing, floor, dependency_span))
    if norm_stats is not None and math.isfinite(clip):
        advice.append(_clipping_advice(norm_stats, exploding=bool(by_kind[EXPLODING])))
    return advice


def _clipping_advice(stats: NormStats, *, exploding: bool) -> str:
    n = len(stats.norms)
    batches = f"{n} batch{'es' if n != 1 else ''}"
    pascanu = "Pascanu et al. 2013 advise 0.5 to 10 x the average norm"
    if exploding:
        return (
            f"Clipping threshold: {_num(stats.clip_factor)} x the median pre-clipping norm "
            f"over {batches} would be {_num(stats.clip_threshold)}, but these norms come from "
            "exploding gradients; take the median norm of a model that does not explode "
            f"instead ({pascanu})."
        )
    return (
        f"Clip the global gradient norm at {_num(stats.clip_threshold)}: "
        f"{_num(stats.clip_factor)} x the median pre-clipping norm "
        f"({_num(stats.percentiles['p50'])}) over {batches} ({pascanu}, here "
        f"{_num(stats.mean)}); {len(stats.spikes)} of {n} spiked above "
        f"{_num(stats.spike_factor)} x the median."
    )


def _vanishing_advice(
    cell: str,
    layers: list[str],
    epsilon: float,
    lags: dict[str, LagProfile] | None,
    saturation: dict[str, dict[str, GateStats]] | None,
) -> str:
    horizons = {n: p.horizon for n, p in (lags or {}).items()}
    layer = min(layers, key=lambda n: horizons.get(n, 0))  # the layer that forgets fastest
    profile = (lags or {}).get(layer)
    said = (
        f"the memory horizon of {layer} is {profile.horizon} of {len(profile.norms) - 1} steps"
        if profile is not None
        else f"the gradient vanishes in {layer}"
    )
    gates = (saturation or {}).get(layer, {})
    if cell in RNN_CELLS:
        return f"Switch from {cell} to lstm or gru: {said}."
    if cell == "lstm" and "f" in gates:
        f = gates["f"].mean
        target = 1.0 / (1.0 + math.exp(-LSTM_FORGET_BIAS))
        return (
            f"Raise the LSTM forget-gate bias: {said}; the forget gate averages {_num(f, 2)}, "
            f"which keeps a gradient about {_steps(f, epsilon)} steps (ln {_num(epsilon)} / "
            f"ln f); forget_bias={LSTM_FORGET_BIAS:g} (f = {target:.2f} at initialisation) "
            f"keeps it about {_steps(target, epsilon)}."
        )
    if cell == "gru" and "z" in gates:
        z = gates["z"].mean
        return (
            f"Raise the GRU update-gate bias (the z block of b): {said}; the update gate "
            f"averages {_num(z, 2)}, which keeps a gradient about {_steps(z, epsilon)} steps; "
            "a bias of 3 (z = 0.95) keeps it about "
            f"{_steps(0.95, epsilon)}. Or use lstm with forget_bias={LSTM_FORGET_BIAS:g}."
        )
    return f"Vanishing gradients ({said}): use shorter sequences or a gated cell with memory."


def _truncation_advice(
    bias: TruncationBias, seq_len: int, vanishing: bool, floor: int, span: int | None
) -> str:
    k = bias.recommended_k
    if k < floor:
        return _window_floor_advice(bias, seq_len, floor, span)
    i = int(np.flatnonzero(bias.ks == k)[0])
    if k >= seq_len:
        worst = float(np.nanmin(bias.cosine)) if np.isfinite(bias.cosine).any() else math.nan
        return (
            f"Use full BPTT (k = T = {seq_len}): the shorter windows swept do not all reach "
            f"cosine {_num(bias.threshold)} with the full gradient (lowest {_num(worst, 3)})."
        )
    shorter = f"; k = {bias.ks[i - 1]} gives {_num(bias.cosine[i - 1], 3)}" if i > 0 else ""
    caveat = (
        " This reflects the current, vanishing gradient, which barely reaches back further: "
        "a window shorter than the task's dependency span can never learn that dependency, "
        "so diagnose again once the gradient reaches further."
        if vanishing
        else ""
    )
    return (
        f"Truncate BPTT at k = {k} (BPTT({k}, {k})): the shortest window whose gradient, and "
        f"every longer one's, has cosine >= {_num(bias.threshold)} with the full gradient "
        f"({_num(bias.cosine[i], 3)}, norm ratio {_num(bias.norm_ratio[i], 3)}){shorter}."
        f"{caveat}"
    )


def _window_floor_advice(bias: TruncationBias, seq_len: int, floor: int, span: int | None) -> str:
    """The window the task (or the current setting) needs, when the sweep alone would
    advise a shorter one."""
    why = (
        f"the task's targets depend on inputs up to {span} steps back"
        if span is not None and span >= floor
        else f"the model trains with a window of {floor} steps and its gradient vanishes"
    )
    window = "full BPTT" if floor >= seq_len else f"BPTT over at least {floor} steps"
    return (
        f"Keep {window}: {why}. The sweep's k = {bias.recommended_k} reaches cosine "
        f"{_num(bias.threshold)} only because the gradient barely reaches back now, which "
        "tells nothing about what a trained model needs. Measure again after training: "
        "bptt diagnose --checkpoint RUN_DIRECTORY."
    )


def _steps(gate: float, epsilon: float) -> str:
    """ln(epsilon) / ln(gate), the steps a product of gate values takes to fall to epsilon."""
    if not 0.0 < gate < 1.0:
        return "forever" if gate >= 1.0 else "0"
    return f"{math.log(epsilon) / math.log(gate):.0f}"


def _num(x: float, digits: int = 2) -> str:
    """A number for a sentence: 2 significant digits, scientific when small or large."""
    if not math.isfinite(x):
        return str(x)
    return f"{x:.{digits}g}"
