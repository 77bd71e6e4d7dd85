"""Cost per step of each online estimator over the hidden size H: time and memory.

One batch (B = 1, D = 8, T steps of random inputs, an MSE readout of 4 outputs) is run
forward once per H (SnAp-2 also on a W_h keeping 10% of its weights, which its pattern
follows); every estimator then consumes the same recorded steps
(bptt.online.compare.run_estimator): its time per step (median of ``--repeats`` runs, its own
step and flush calls only) and the largest state it holds. The slope of log(cost) against
log(H) over the largest sizes is the measured order, next to the stated one.

    python experiments/online_cost.py            # docs/online_cost.json, .png, _memory.png
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import numpy as np

from bptt.model import Model, ModelConfig
from bptt.online import make_estimator
from bptt.online.compare import record_steps, run_estimator
from bptt.online.figures import curves_png
from bptt.online.snap import sparse_mask
from bptt.window import Batch

DOCS = Path(__file__).resolve().parents[1] / "docs"
# label -> (estimator, cell, hidden sizes, stated time order, stated memory order, W_h density)
PLAN = {
    "rtrl": ("rtrl", "rnn", (16, 32, 64, 96, 128), 4, 3, 1.0),
    "snap2 (dense = rtrl)": ("snap2", "rnn", (16, 32, 64, 96, 128), 4, 3, 1.0),
    "snap2 (density 0.1)": ("snap2", "rnn", (32, 64, 128, 192, 256), 4, 3, 0.1),
    "uoro": ("uoro", "rnn", (64, 128, 256, 512, 1024), 2, 2, 1.0),
    "snap1": ("snap1", "rnn", (64, 128, 256, 512, 1024), 2, 2, 1.0),
    "eprop": ("eprop", "lstm", (32, 64, 128, 256, 512), 2, 2, 1.0),
    "tbptt:10": ("tbptt:10", "rnn", (64, 128, 256, 512, 1024), 2, 1, 1.0),
    "bptt": ("bptt", "rnn", (64, 128, 256, 512, 1024), 2, 1, 1.0),
}


def measure(
    spec: str, cell: str, H: int, steps: int, repeats: int, density: float = 1.0
) -> tuple[float, int]:
    """(seconds per step, peak state bytes) of one estimator at hidden size H."""
    model = Model(ModelConfig(cell=cell, input_size=8, hidden_size=H, output_size=4))
    params = model.init(np.random.default_rng(0), dtype=np.float64)
    if density < 1.0:
        W_h = params["layers.0.W_h"]
        params["layers.0.W_h"] = W_h * sparse_mask(np.random.default_rng(2), W_h.shape, density)
    rng = np.random.default_rng(1)
    batch = Batch(rng.standard_normal((steps, 1, 8)), rng.standard_normal((steps, 1, 4)))
    recorded = record_steps(model, params, batch, loss="mse")
    times, peak = [], 0
    for r in range(repeats):
        _, seconds, peak = run_estimator(
            model, params, recorded, make_estimator(spec), np.random.default_rng(r)
        )
        times.append(seconds / steps)
    return float(np.median(times)), int(peak)


def slope(sizes: list[int], values: list[float]) -> float:
    """The least-squares slope of log(value) on log(H) over the three largest sizes."""
    x, y = np.log(sizes[-3:]), np.log(values[-3:])
    return float(np.polyfit(x, y, 1)[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(DOCS))
    args = parser.parse_args()
    rows, time_curves, memory_curves = [], {}, {}
    for label, (spec, cell, sizes, time_order, memory_order, density) in PLAN.items():
        costs = [measure(spec, cell, H, args.steps, args.repeats, density) for H in sizes]
        seconds, memory = [c[0] for c in costs], [c[1] for c in costs]
        row = {
            "estimator": label,
            "density": density,
            "cell": cell,
            "sizes": list(sizes),
            "seconds_per_step": seconds,
            "state_bytes": memory,
            "time_order": time_order,
            "time_slope": slope(list(sizes), seconds),
            "memory_order": memory_order,
            "memory_slope": slope(list(sizes), [float(m) for m in memory]),
        }
        rows.append(row)
        print(
            f"{label:<21} {cell:<5} H {sizes[0]}..{sizes[-1]}: time ~ H^{row['time_slope']:.2f} "
            f"(stated {time_order}), memory ~ H^{row['memory_slope']:.2f} (stated {memory_order}); "
            f"at H={sizes[-1]}: {1e3 * seconds[-1]:.2f} ms/step, {memory[-1] / 2**20:.2f} MiB"
        )
        time_curves[label] = (list(sizes), seconds)
        memory_curves[label] = (list(sizes), [float(m) for m in memory])
    out = Path(args.out)
    settings = {"machine": platform.platform(), "python": platform.python_version(), **vars(args)}
    (out / "online_cost.json").write_text(json.dumps({"settings": settings, "rows": rows}) + "\n")
    png = curves_png(
        time_curves,
        xlabel="hidden units H",
        ylabel="seconds per step",
        title="Time per step (B = 1, float64)",
        logy=True,
        logx=True,
    )
    (out / "online_cost.png").write_bytes(png)
    png = curves_png(
        memory_curves,
        xlabel="hidden units H",
        ylabel="state bytes per sequence",
        title="Memory held between steps (B = 1, float64)",
        logy=True,
        logx=True,
    )
    (out / "online_cost_memory.png").write_bytes(png)


if __name__ == "__main__":
    main()
