"""Figures of the estimators' comparison and of learning curves, as PNG bytes.

No file is written here: each function returns the PNG's bytes and the command line decides
where they go. matplotlib (the ``plot`` extra) is imported only when a figure is drawn,
through its object-oriented API on the Agg canvas, so it runs headless and leaves pyplot's
state alone.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from bptt.errors import MissingExtraError
from bptt.online.compare import Comparison


def _figure(width: float, height: float) -> Any:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise MissingExtraError(
            "Figures need matplotlib: pip install 'bptt[plot]' (the JSON and the table are "
            "written without it)."
        ) from None
    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def _positive(values: Sequence[float], floor: float = 1e-18) -> list[float]:
    """Values for a log axis: NaN stays NaN, zero and below become ``floor``."""
    return [v if not math.isfinite(v) else max(v, floor) for v in values]


def comparison_png(comparison: Comparison, *, title: str = "") -> bytes:
    """Four panels, one bar per estimator: cosine to the exact gradient, relative bias (with
    its standard error), relative variance, and cost per step (time; memory on the bars)."""
    reports = comparison.reports
    names = [r.name for r in reports]
    x = np.arange(len(names))
    figure = _figure(max(7.0, 0.9 * len(names) + 3.0), 7.0)
    axes = figure.subplots(2, 2)
    ax = axes[0][0]
    ax.bar(x, [r.cosine for r in reports], color="tab:blue", label="mean over draws")
    ax.plot(x, [r.cosine_of_mean for r in reports], "k_", markersize=18, label="of the mean")
    ax.axhline(1.0, color="gray", lw=0.8, ls="--")
    ax.set_ylim(min(-0.1, *[r.cosine for r in reports if math.isfinite(r.cosine)]), 1.05)
    ax.set_title("cosine to the exact gradient")
    ax.legend(fontsize=7, loc="lower left")
    ax = axes[0][1]
    biases = _positive([r.bias for r in reports])
    ax.bar(x, biases, color="tab:red")
    ax.errorbar(x, biases, [r.bias_stderr for r in reports], fmt="none", ecolor="k", capsize=3)
    ax.set_yscale("log")
    ax.set_title("relative bias |E g^ - g| / |g|")
    ax = axes[1][0]
    ax.bar(x, _positive([r.variance for r in reports]), color="tab:orange")
    ax.set_yscale("log")
    ax.set_title("relative variance E|g^ - E g^|^2 / |g|^2")
    ax = axes[1][1]
    bars = ax.bar(x, [1e3 * r.seconds_per_step for r in reports], color="tab:green")
    for bar, r in zip(bars, reports, strict=True):
        top = (bar.get_x() + bar.get_width() / 2, bar.get_height())
        ax.annotate(_size(r.state_bytes), top, ha="center", va="bottom", fontsize=7)
    ax.set_yscale("log")
    ax.set_title("ms per step (label: state memory)")
    for row in axes:
        for ax in row:
            ax.set_xticks(x, names, rotation=45, ha="right", fontsize=8)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return _png(figure)


def _size(n: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def curves_png(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    xlabel: str,
    ylabel: str,
    title: str = "",
    logy: bool = False,
    logx: bool = False,
) -> bytes:
    """One line per name: curves[name] = (xs, ys), e.g. a learning curve per estimator."""
    figure = _figure(7.0, 4.5)
    ax = figure.subplots()
    for name, (xs, ys) in curves.items():
        ax.plot(xs, _positive(ys) if logy else ys, label=name, lw=1.2)
    if logy:
        ax.set_yscale("log")
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    figure.tight_layout()
    return _png(figure)
