"""The report's figures: their numbers (``figure_data``) and PNG renderings (``render_png``).

No file is written here: ``render_png`` returns the PNG's bytes, ``report`` decides where they
go. matplotlib (the ``plot`` extra) is imported only when a figure is drawn, through its
object-oriented API on the Agg canvas, so it runs headless and leaves pyplot's state alone.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import numpy as np

from bptt.diagnostics.diagnose import Diagnosis
from bptt.errors import MissingExtraError

FIGURES = {
    "gradient_vs_lag": (
        "Gradient versus lag",
        "The gradient of the last step's output with respect to each layer's hidden state l "
        "steps back, relative to lag 0 (log scale): where a line crosses the dashed epsilon "
        "line is the memory horizon, beyond which the model cannot learn from its inputs; a "
        "rising line means exploding gradients.",
    ),
    "truncation_bias": (
        "Truncation bias",
        "Cosine (top) and norm ratio (bottom) between the truncated BPTT(k, k) gradient and "
        "the full gradient for each window length k: the marker is the recommended k, the "
        "shortest window from which on the cosine stays above the dashed threshold.",
    ),
    "input_influence": (
        "Input influence versus lag",
        "How strongly the last output depends on the input l steps back, relative to the most "
        "influential lag (log scale); the shaded band is the most recent 10% of steps, and a "
        "curve that lives only there is a recency bias.",
    ),
    "gate_saturation": (
        "Gate saturation",
        "Histograms of every gate's activations over the batch (one row per model and layer): "
        "mass piled at 0 or 1 (-1 or 1 for tanh) marks saturated units that pass almost no "
        "gradient, except a forget gate f or update gate z near 1, which keeps memory.",
    ),
    "step_gradient_norms": (
        "Gradient norm per step",
        "||dL/dh_t|| at each step of the first batch with its real loss (log scale): reading "
        "right to left follows the gradient back in time, so a line that drops towards early "
        "steps shows it vanishing and one that climbs shows it exploding.",
    ),
    "local_jacobians": (
        "One-step Jacobian norm",
        "Mean spectral norm of the one-step Jacobian d(carry_t)/d(carry_{t-1}) at each step "
        "(for LSTM the carry is (h, c)): below the dashed line at 1 a step shrinks the "
        "backward gradient, above it a step can amplify it.",
    ),
    "gradient_norms": (
        "Gradient norm per batch",
        "The global gradient norm of each batch before clipping: the dashed line is the "
        "recommended clipping threshold and bars above the dotted line (the spike level, a "
        "multiple of the median) are spikes.",
    ),
}
"""Figure name -> (title, one-sentence caption on how to read it), in report order."""


def figure_data(diagnoses: Mapping[str, Diagnosis]) -> dict[str, dict[str, Any]]:
    """The numbers behind every figure, as plain lists.

    Args:
        diagnoses: label -> Diagnosis.

    Returns:
        Figure name -> {"title", "caption", "series": [...]} and the figure's reference
        values (thresholds); each series names its model and layer.
    """
    data: dict[str, dict[str, Any]] = {
        name: {"title": title, "caption": caption, "series": []}
        for name, (title, caption) in FIGURES.items()
    }
    for label, d in diagnoses.items():
        for layer in d.layers:
            if d.lags is not None:
                p = d.lags[layer]
                data["gradient_vs_lag"]["series"].append(
                    _series(label, layer, np.arange(len(p.ratios)), p.ratios)
                    | {"horizon": p.horizon, "decay_factor": p.decay_factor}
                )
            if d.step_norms is not None:
                y = d.step_norms[layer]
                data["step_gradient_norms"]["series"].append(
                    _series(label, layer, np.arange(len(y)), y)
                )
            if d.jacobian_norms is not None:
                y = d.jacobian_norms[layer]
                data["local_jacobians"]["series"].append(
                    _series(label, layer, np.arange(len(y)), y)
                )
            for gate, s in ({} if d.saturation is None else d.saturation[layer]).items():
                data["gate_saturation"]["series"].append(
                    {"model": label, "layer": layer, "gate": gate, "kind": s.kind}
                    | {"edges": s.edges, "counts": s.counts, "low": s.low, "high": s.high}
                )
        if d.truncation is not None:
            b = d.truncation
            data["truncation_bias"]["series"].append(
                _series(label, None, b.ks, b.cosine)
                | {"norm_ratio": b.norm_ratio, "recommended_k": b.recommended_k}
            )
            data["truncation_bias"]["threshold"] = b.threshold
        if d.influence is not None:
            n = d.influence.norms
            top = np.nanmax(n) if np.isfinite(n).any() else np.nan
            data["input_influence"]["series"].append(
                _series(label, None, np.arange(len(n)), n / top if top > 0 else n)
                | {"recent_steps": d.influence.recent_steps}
                | {"recent_share": d.influence.recent_share}
            )
        s = d.norm_stats
        data["gradient_norms"]["series"].append(
            _series(label, None, np.arange(len(s.norms)), s.norms)
            | {"clip_threshold": s.clip_threshold, "median": s.percentiles["p50"]}
            | {"spike_level": s.spike_factor * s.percentiles["p50"]}
        )
        data["gradient_vs_lag"]["epsilon"] = d.epsilon
    return data


def _series(label: str, layer: str | None, x: Any, y: Any) -> dict[str, Any]:
    return {"model": label, "layer": layer, "x": np.asarray(x), "y": np.asarray(y)}


def render_png(name: str, data: dict[str, Any]) -> bytes:
    """Draw one figure of ``figure_data`` as PNG bytes.

    Args:
        name: a key of FIGURES.
        data: that figure's entry of ``figure_data``.

    Returns:
        The PNG file's contents.
    """
    draw = {
        "gradient_vs_lag": _draw_lag,
        "truncation_bias": _draw_truncation,
        "input_influence": _draw_influence,
        "gate_saturation": _draw_saturation,
        "step_gradient_norms": _draw_steps,
        "local_jacobians": _draw_jacobians,
        "gradient_norms": _draw_norms,
    }[name]
    fig = draw(data)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=96, metadata={"Software": None})
    return buffer.getvalue()


def _figure(rows: int = 1, cols: int = 1, size: tuple[float, float] = (7.5, 4.0)) -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise MissingExtraError(
            "The diagnostics report draws its figures with matplotlib; install it with "
            "`pip install 'bptt[plot]'`."
        ) from error
    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.subplots(rows, cols, squeeze=False)


def _label(series: dict[str, Any], models: int) -> str:
    parts = [series["model"]] if models > 1 or series["layer"] is None else []
    if series["layer"] is not None:
        parts.append(series["layer"])
    return " / ".join(parts)


def _positive(y: Any) -> np.ndarray:
    """y with non-positive and non-finite values as NaN, so a log axis leaves them out."""
    y = np.asarray(y, dtype=np.float64)
    return np.where(np.isfinite(y) & (y > 0), y, np.nan)


def _lines(ax: Any, data: dict[str, Any], *, log: bool) -> None:
    series = data["series"]
    models = len({s["model"] for s in series})
    for s in series:
        y = _positive(s["y"]) if log else np.asarray(s["y"], dtype=np.float64)
        ax.plot(s["x"], y, label=_label(s, models), linewidth=1.5)
    if log:
        ax.set_yscale("log")
    if not series:
        _empty(ax)
    elif len(series) > 1 or models > 1:
        ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3)


def _empty(ax: Any) -> None:
    ax.text(0.5, 0.5, "not measured", ha="center", va="center", transform=ax.transAxes)


def _draw_lag(data: dict[str, Any]) -> Any:
    fig, ((ax,),) = _figure()
    _lines(ax, data, log=True)
    if "epsilon" in data:
        ax.axhline(data["epsilon"], color="gray", linestyle="--", linewidth=1)
    ax.set_xlabel("lag l (steps back from the last output)")
    ax.set_ylabel("||dy_last / dh_{last-l}|| / lag 0")
    ax.set_title(data["title"])
    return fig


def _draw_truncation(data: dict[str, Any]) -> Any:
    fig, ((top,), (bottom,)) = _figure(2, 1, (7.5, 5.5))
    models = len(data["series"])
    for s in data["series"]:
        line = top.plot(s["x"], s["y"], marker="o", markersize=3, label=_label(s, models))[0]
        bottom.plot(s["x"], s["norm_ratio"], marker="o", markersize=3, color=line.get_color())
        k = s["recommended_k"]
        cos_k = np.asarray(s["y"])[np.asarray(s["x"]) == k][0]
        top.plot([k], [cos_k], marker="*", markersize=14, color=line.get_color())
    if not data["series"]:
        _empty(top)
    if "threshold" in data:
        top.axhline(data["threshold"], color="gray", linestyle="--", linewidth=1)
    if models > 1:
        top.legend(fontsize=8)
    top.set_ylabel("cos(g_k, g_full)")
    bottom.set_ylabel("||g_k|| / ||g_full||")
    bottom.set_xlabel("truncation window k (steps, log scale)")
    for ax in (top, bottom):
        ax.set_xscale("log")
        ax.grid(True, alpha=0.3)
    top.set_title(data["title"])
    return fig


def _draw_influence(data: dict[str, Any]) -> Any:
    fig, ((ax,),) = _figure()
    _lines(ax, data, log=True)
    if data["series"]:
        recent = data["series"][0]["recent_steps"]
        ax.axvspan(0, recent - 1, color="tab:orange", alpha=0.15, label="most recent 10%")
    ax.set_xlabel("lag l (steps back from the last output)")
    ax.set_ylabel("||dy_last / dx_{last-l}||, relative")
    ax.set_title(data["title"])
    return fig


def _draw_saturation(data: dict[str, Any]) -> Any:
    series = data["series"]
    rows = list(dict.fromkeys((s["model"], s["layer"]) for s in series))
    cols = max((sum(1 for s in series if (s["model"], s["layer"]) == r) for r in rows), default=1)
    fig, axes = _figure(max(len(rows), 1), cols, (2.4 * cols + 1.0, 1.9 * max(len(rows), 1) + 0.6))
    if not series:
        _empty(axes[0][0])
    for r, key in enumerate(rows):
        gates = [s for s in series if (s["model"], s["layer"]) == key]
        for c in range(cols):
            ax = axes[r][c]
            if c >= len(gates):
                ax.set_visible(False)
                continue
            s = gates[c]
            edges = np.asarray(s["edges"])
            ax.bar(edges[:-1], s["counts"], width=np.diff(edges), align="edge", color="tab:blue")
            ax.set_title(
                f"{key[0]} {key[1]} {s['gate']}: {s['low'] + s['high']:.0%} sat.", fontsize=8
            )
            ax.tick_params(labelsize=7)
    fig.suptitle(data["title"])
    return fig


def _draw_steps(data: dict[str, Any]) -> Any:
    fig, ((ax,),) = _figure()
    _lines(ax, data, log=True)
    ax.set_xlabel("step t")
    ax.set_ylabel("||dL / dh_t||")
    ax.set_title(data["title"])
    return fig


def _draw_jacobians(data: dict[str, Any]) -> Any:
    fig, ((ax,),) = _figure()
    _lines(ax, data, log=False)
    ax.axhline(1.0, color="gray", linestyle="--", linewidth=1)
    ax.set_xlabel("step t")
    ax.set_ylabel("mean ||d carry_t / d carry_{t-1}||_2")
    ax.set_title(data["title"])
    return fig


def _draw_norms(data: dict[str, Any]) -> Any:
    fig, ((ax,),) = _figure()
    series = data["series"]
    width = 0.8 / max(len(series), 1)
    for i, s in enumerate(series):
        x = np.asarray(s["x"], dtype=np.float64) + (i - (len(series) - 1) / 2) * width
        bars = ax.bar(x, _positive(s["y"]), width=width, label=s["model"])
        color = bars.patches[0].get_facecolor() if bars.patches else "gray"
        for level, style in ((s["clip_threshold"], "--"), (s["spike_level"], ":")):
            if np.isfinite(level):
                ax.axhline(level, color=color, linestyle=style, linewidth=1)
    if len(series) > 1:
        ax.legend(fontsize=8)
    ax.set_xlabel("batch")
    ax.set_ylabel("global gradient norm")
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_title(data["title"])
    return fig
