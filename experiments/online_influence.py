"""Influence balancing (Tallec & Ollivier 2017, arXiv:1702.05043, Sec. 6.1), reproduced.

n = 23 linear units, A = 0.5 I + 0.5 superdiagonal, 10 positive and 13 negative inputs, one
parameter theta (bptt.online.influence), the loss (s_t[0] - 1)^2 at every step, theta_0 = 0.5,
the state starting at ones. Every method runs the same stream of steps and applies plain
SGD with the sum of its gradient estimates since its last update: RTRL, UORO, SnAp-1 and
e-prop after every step, truncated BPTT(K, K) and ARTBP at the end of each segment. The
curve is the long-run loss (s*[0] - 1)^2 of the current theta at the fixed point.

    python experiments/online_influence.py                 # docs/online_influence.png, .json
    python experiments/online_influence.py --steps 5000    # quicker
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from pathlib import Path

import numpy as np

from bptt.model import Model, ModelConfig
from bptt.online import Sizes, make_estimator
from bptt.online.figures import curves_png
from bptt.online.influence import (
    UNITS,
    influence_params,
    steady_state_loss,
    theta_gradient,
)
from bptt.online.stepper import cell_params, run_step

DOCS = Path(__file__).resolve().parents[1] / "docs"
METHODS = (
    "tbptt:1",
    "tbptt:10",
    "tbptt:30",
    "tbptt:100",
    "tbptt:300",
    "artbp:10",
    "artbp:30",
    "snap1",
    "uoro",
    "rtrl",
)


def run(spec: str, steps: int, lr: float, seed: int, record_every: int) -> dict:
    """One method on the stream; returns its curve and where it ended."""
    model = Model(
        ModelConfig(
            cell="bptt.online.influence:LinearCell", input_size=1, hidden_size=UNITS, output_size=1
        )
    )
    theta = 0.5
    params = influence_params(theta)
    estimator = make_estimator(spec)
    p = cell_params(model, params)
    state = estimator.init(model.cell, p, Sizes(1, 1, UNITS, 1), np.random.default_rng(seed))
    carry = model.cell.carry_type(np.ones((1, UNITS)))
    x, target, here = np.ones((1, 1)), np.ones((1, 1)), np.ones(1, dtype=bool)
    pending, curve, diverged = 0.0, [], None
    start = time.perf_counter()
    for t in range(steps):
        carry, inp, _ = run_step(model, params, carry, x, target, here, loss="mse", scale=1.0)
        state, estimate = estimator.step(model.cell, p, state, inp)
        if estimate is not None:
            pending += theta_gradient(estimate.W_x)
            theta -= lr * pending
            pending = 0.0
            params = influence_params(theta)
            p = cell_params(model, params)
        if t % record_every == 0 or t == steps - 1:
            curve.append((t + 1, steady_state_loss(theta), theta))
        if not math.isfinite(theta) or abs(theta) > 1e3:
            diverged = t + 1
            curve.append((t + 1, steady_state_loss(theta), theta))
            break
    return {
        "method": spec,
        "lr": lr,
        "theta": theta,
        "loss": steady_state_loss(theta),
        "diverged_at": diverged,
        "seconds": time.perf_counter() - start,
        "curve": curve,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30000)
    parser.add_argument("--lr", type=float, default=1e-5, help="SGD step of every method")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(DOCS))
    args = parser.parse_args()
    results = []
    for spec in METHODS:
        lr = args.lr
        result = run(spec, args.steps, lr, args.seed, max(1, args.steps // 300))
        results.append(result)
        state = f"diverged at step {result['diverged_at']}" if result["diverged_at"] else "ran"
        print(
            f"{spec:<10} lr {lr:.0e}  {state:<24} theta {result['theta']:+.4f}  "
            f"long-run loss {result['loss']:.3e}  ({result['seconds']:.0f} s)"
        )
    out = Path(args.out)
    curves = {
        r["method"]: ([c[0] for c in r["curve"]], [c[1] for c in r["curve"]]) for r in results
    }
    png = curves_png(
        curves,
        xlabel="time steps",
        ylabel="long-run loss (s*[0] - 1)^2",
        title="Influence balancing, n = 23 (theta* = -1/6)",
        logy=True,
    )
    (out / "online_influence.png").write_bytes(png)
    meta = {"machine": platform.platform(), "python": platform.python_version(), **vars(args)}
    (out / "online_influence.json").write_text(
        json.dumps({"settings": meta, "runs": results}) + "\n"
    )


if __name__ == "__main__":
    main()
