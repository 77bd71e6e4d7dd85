"""The diagnosis as a terminal table, PNG figures, one self-contained HTML page and a JSON file.

This is the only module of ``bptt.diagnostics`` that writes files. The HTML page embeds its
figures as base64 data URIs and its style inline, so it works offline and can be mailed as a
single file; the JSON file holds every measured number and every figure's series.

Example::

    diagnoses = compare({"rnn": (rnn, p1), "lstm": (lstm, p2)}, batches, loss="mse")
    print(summary_table(diagnoses))
    paths = write_report(diagnoses, "diagnosis")   # diagnosis/report.html, ...
"""

from __future__ import annotations

import base64
import html
import json
import math
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from bptt.diagnostics.diagnose import Diagnosis
from bptt.diagnostics.figures import FIGURES, figure_data, render_png
from bptt.diagnostics.verdict import EXPLODING, HEALTHY, NONFINITE, VANISHING
from bptt.errors import BpttError

FORMAT_VERSION = 1
COLUMNS = (
    "model",
    "layer",
    "verdict",
    "horizon",
    "decay/step",
    "mean |J_t|",
    "sigma(W_h)",
    "rec. k",
    "clip at",
)


class ReportPaths(NamedTuple):
    """Where ``write_report`` put its files.

    Attributes:
        html: the self-contained HTML report.
        json: every number, per model and per figure.
        figures: figure name -> its PNG file.
    """

    html: Path
    json: Path
    figures: dict[str, Path]


def _as_mapping(diagnoses: Diagnosis | Mapping[str, Diagnosis]) -> dict[str, Diagnosis]:
    if isinstance(diagnoses, Diagnosis):
        return {diagnoses.name: diagnoses}
    if not diagnoses:
        raise BpttError("`diagnoses` is empty; pass a Diagnosis or label -> Diagnosis.")
    return dict(diagnoses)


def summary_rows(diagnoses: Diagnosis | Mapping[str, Diagnosis]) -> list[list[str]]:
    """One row of COLUMNS per model and layer, as formatted strings."""
    rows = []
    for label, d in _as_mapping(diagnoses).items():
        k = "-" if d.truncation is None else str(d.truncation.recommended_k)
        clip = _fmt(d.norm_stats.clip_threshold)
        for layer in d.layers:
            p = None if d.lags is None else d.lags[layer]
            horizon = "-" if p is None else f"{'>=' if p.reaches_start else ''}{p.horizon}"
            if p is not None:
                horizon += f"/{len(p.norms) - 1}"
            jac = None if d.jacobian_norms is None else d.jacobian_norms[layer]
            mean_jac = "-" if jac is None or not np.isfinite(jac).any() else _fmt(np.nanmean(jac))
            rows.append(
                [
                    label,
                    layer,
                    d.verdicts[layer].verdict,
                    horizon,
                    "-" if p is None else _fmt(p.decay_factor, 3),
                    mean_jac,
                    _fmt(d.weight_norms[layer]["all"]),
                    k,
                    clip,
                ]
            )
    return rows


def summary_table(diagnoses: Diagnosis | Mapping[str, Diagnosis], *, width: int = 100) -> str:
    """A plain-text table of the verdicts, then each model's findings and recommendations.

    Args:
        diagnoses: one Diagnosis or label -> Diagnosis.
        width: the column at which the sentences wrap.

    Returns:
        The text, ready for print.
    """
    mapping = _as_mapping(diagnoses)
    rows = [list(COLUMNS), *summary_rows(mapping)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for label, d in mapping.items():
        lines += ["", f"{label}: T = {d.seq_len}, epsilon = {d.epsilon:g}", "Findings:"]
        lines += _bullets(d.findings, "- ", width)
        lines.append("Recommendations:")
        lines += _bullets(d.recommendations, "", width, numbered=True)
    return "\n".join(lines)


def _bullets(items: list[str], mark: str, width: int, *, numbered: bool = False) -> list[str]:
    out = []
    for i, item in enumerate(items, 1):
        head = f"  {i}. " if numbered else f"  {mark}"
        out += textwrap.wrap(
            item, width, initial_indent=head, subsequent_indent=" " * len(head)
        ) or [head]
    return out


def report_data(diagnoses: Diagnosis | Mapping[str, Diagnosis]) -> dict[str, Any]:
    """Every number of the diagnosis and of each figure, JSON-ready (NaN and Inf as null)."""
    mapping = _as_mapping(diagnoses)
    return {
        "format": "bptt-diagnosis",
        "version": FORMAT_VERSION,
        "models": {label: _jsonable(d) for label, d in mapping.items()},
        "figures": _jsonable(figure_data(mapping)),
    }


def _jsonable(x: Any) -> Any:
    """Plain JSON values: NamedTuples and dicts to objects, arrays to lists, NaN/Inf to None."""
    if isinstance(x, tuple) and hasattr(x, "_asdict"):
        return {k: _jsonable(v) for k, v in x._asdict().items()}
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple | np.ndarray):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def render_html(diagnoses: Diagnosis | Mapping[str, Diagnosis], images: Mapping[str, bytes]) -> str:
    """The report page: summary table, recommendations and findings, then the figures.

    Args:
        diagnoses: one Diagnosis or label -> Diagnosis.
        images: figure name -> PNG bytes, embedded as data URIs in FIGURES order.

    Returns:
        A complete HTML document with no external reference.
    """
    mapping = _as_mapping(diagnoses)
    esc = html.escape
    first = next(iter(mapping.values()))
    header = "".join(f"<th>{esc(c)}</th>" for c in COLUMNS)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td><span class="badge {_badge(c)}">{esc(c)}</span></td>'
            if i == 2
            else f"<td>{esc(c)}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in summary_rows(mapping)
    )
    advice = "".join(
        f"<h3>{esc(label)}</h3><ol>"
        + "".join(f"<li>{esc(r)}</li>" for r in d.recommendations)
        + "</ol><details open><summary>Findings</summary><ul>"
        + "".join(f"<li>{esc(f)}</li>" for f in d.findings)
        + "</ul></details>"
        for label, d in mapping.items()
    )
    figures = "".join(
        f'<figure id="{esc(name)}"><img alt="{esc(title)}" '
        f'src="data:image/png;base64,{base64.b64encode(images[name]).decode("ascii")}">'
        f"<figcaption><b>{esc(title)}.</b> {esc(caption)}</figcaption></figure>"
        for name, (title, caption) in FIGURES.items()
        if name in images
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Gradient-flow diagnosis: {esc(", ".join(mapping))}</title>
<style>{_STYLE}</style>
</head>
<body>
<main>
<h1>Gradient-flow diagnosis</h1>
<p class="lead">Models: {esc(", ".join(mapping))}. Sequence length T = {first.seq_len};
memory horizon threshold epsilon = {first.epsilon:g} of the lag-0 gradient.</p>
<h2>Summary</h2>
<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>
<p class="note">{esc(_LEGEND)}</p>
<h2>Recommendations</h2>
{advice}
<h2>Figures</h2>
{figures}
</main>
</body>
</html>
"""


_LEGEND = (
    "horizon: the largest lag l at which the last output's gradient with respect to h_(last-l) "
    "is still above epsilon of its lag-0 value, out of the lags measured (>= when it never "
    "drops below); decay/step: the per-step factor of a log-linear fit of that gradient; "
    "mean |J_t|: the mean spectral norm of the one-step carry Jacobian; sigma(W_h): the "
    "largest singular value of the recurrent weights; rec. k: the recommended BPTT(k, k) "
    "window; clip at: the recommended global-norm clipping threshold."
)

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2330;
  background: #f6f7f9; margin: 0; line-height: 1.5; }
main { max-width: 980px; margin: 0 auto; padding: 24px 32px 48px; background: #fff; }
h1 { margin-bottom: 4px; } h2 { border-bottom: 1px solid #dde1e7; padding-bottom: 4px;
  margin-top: 32px; } h3 { margin-bottom: 4px; }
.lead { color: #4a5262; margin-top: 0; } .note { color: #4a5262; font-size: 0.85em; }
table { border-collapse: collapse; width: 100%; font-size: 0.92em; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid #e5e8ec; }
th { background: #eef1f5; font-weight: 600; } tbody tr:hover { background: #f8f9fb; }
.badge { padding: 2px 8px; border-radius: 10px; font-weight: 600; font-size: 0.9em; }
.healthy { background: #d7f2dd; color: #17602b; } .vanishing { background: #dce8fb;
  color: #1c4a8c; } .exploding { background: #fde0dc; color: #9b1c12; }
.non-finite { background: #3b3f46; color: #fff; }
li { margin-bottom: 6px; } details { margin: 4px 0 16px; color: #3a4150; }
figure { margin: 24px 0; } figure img { max-width: 100%; border: 1px solid #e5e8ec; }
figcaption { font-size: 0.92em; color: #3a4150; margin-top: 6px; }
"""


def _badge(verdict: str) -> str:
    return verdict if verdict in (HEALTHY, VANISHING, EXPLODING, NONFINITE) else ""


def write_report(
    diagnoses: Diagnosis | Mapping[str, Diagnosis], out_dir: str | Path
) -> ReportPaths:
    """Write the PNG figures, ``report.html`` and ``diagnosis.json`` into ``out_dir``.

    Args:
        diagnoses: one Diagnosis or label -> Diagnosis (side by side in every figure).
        out_dir: the folder, created if missing.

    Returns:
        The ReportPaths.

    Raises:
        OSError: the folder cannot be created or written.
        ImportError: matplotlib is not installed.
    """
    mapping = _as_mapping(diagnoses)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = figure_data(mapping)
    images = {name: render_png(name, data[name]) for name in FIGURES}
    figures = {}
    for name, png in images.items():
        figures[name] = out / f"{name}.png"
        figures[name].write_bytes(png)
    html_path = out / "report.html"
    html_path.write_text(render_html(mapping, images), encoding="utf-8")
    json_path = out / "diagnosis.json"
    json_path.write_text(
        json.dumps(report_data(mapping), indent=1, allow_nan=False), encoding="utf-8"
    )
    return ReportPaths(html_path, json_path, figures)


def _fmt(x: float, digits: int = 3) -> str:
    """``digits`` significant digits, trailing zeros kept (1.00, not 1); "-" if not finite."""
    return "-" if not math.isfinite(x) else f"{x:#.{digits}g}"
