"""The copy task curriculum of Menick et al. 2021 (SnAp, arXiv:2006.07232, Sec. 5.1), reduced.

A sequence shows L random bits, then a delimiter, then L blank steps during which the model
must output the bits again; the loss (cross-entropy, in bits per output step) is taken on
those L steps only. The curriculum, as in the paper (after Mujika et al. 2018): L starts at
1 and grows by one when the mean loss of the last batches at the current L falls below 0.15
bits. Every method trains the same one-layer GRU from the same initialisation on the same
data stream for a fixed number of time steps, with Adam; the score is the L reached. RTRL,
UORO, SnAp-1 and SnAp-2 update online after every step, truncated BPTT(K, K) every K steps
and full BPTT at the end of each sequence.

Reduced from the paper (which trains larger networks for far longer): H, B, the step budget
and the learning rate are the options below; SnAp-2 runs on a network whose W_h keeps a
fraction ``--density`` of its weights (every method gets the same sparse network), since on
a dense W_h SnAp-2 is RTRL exactly.

    python experiments/online_copy.py                    # docs/online_copy.json and .png
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
from bptt.online import SnAp, make_estimator
from bptt.online.figures import curves_png
from bptt.online.snap import sparse_mask
from bptt.online.train import init_online, online_sequence, start_sequence
from bptt.optim import adam, with_clipping
from bptt.window import Batch

DOCS = Path(__file__).resolve().parents[1] / "docs"
METHODS = ("bptt", "tbptt:4", "uoro", "snap1", "snap2", "rtrl")
BLANK, DELIMITER = 2, 3  # input ids 0 and 1 are the bits
THRESHOLD = 0.15  # bits per output step
WINDOW = 5  # batches at the current L whose mean loss is compared with the threshold


def copy_batch(rng: np.random.Generator, L: int, B: int) -> Batch:
    """(2L + 1, B) ids: L bits, the delimiter, L blanks; targets the bits after the delimiter."""
    bits = rng.integers(0, 2, (L, B))
    inputs = np.full((2 * L + 1, B), BLANK)
    inputs[:L], inputs[L] = bits, DELIMITER
    targets = np.zeros((2 * L + 1, B), dtype=np.int64)
    targets[L + 1 :] = bits
    loss_mask = np.zeros((2 * L + 1, B), dtype=bool)
    loss_mask[L + 1 :] = True
    return Batch(inputs, targets, loss_mask)


def run(spec: str, args: argparse.Namespace, seed: int) -> dict:
    model = Model(ModelConfig(cell="gru", input_size=4, hidden_size=args.hidden, output_size=2))
    params = model.init(np.random.default_rng(seed), dtype=np.float64)
    mask = None
    if args.density < 1:  # each block's diagonal kept: a unit keeps its own memory
        mask = sparse_mask(
            np.random.default_rng([seed, 7]), (args.hidden, 3 * args.hidden), args.density
        )
    masks = None
    if mask is not None:
        params["layers.0.W_h"] = params["layers.0.W_h"] * mask
        masks = {"layers.0.W_h": mask.astype(np.float64)}
    estimator = SnAp(2, mask=mask) if spec == "snap2" else make_estimator(spec)
    optimizer = with_clipping(adam(args.lr), 1.0)
    state = init_online(model, params, estimator, optimizer, args.batch, np.random.default_rng(1))
    data = np.random.default_rng([seed, 2])
    L, recent, curve, start = 1, [], [], time.perf_counter()
    while state.time_steps < args.steps:
        batch = copy_batch(data, L, args.batch)
        state = start_sequence(model, estimator, state, args.batch)
        state, metrics = online_sequence(
            model, estimator, optimizer, state, batch, loss="xent", masks=masks
        )
        recent.append(metrics.loss_sum / metrics.count / math.log(2))
        if len(recent) >= WINDOW and np.mean(recent[-WINDOW:]) < THRESHOLD:
            L, recent = L + 1, []
        curve.append((state.time_steps, L))
    return {
        "method": estimator.name,
        "seed": seed,
        "length": L,
        "updates": state.updates,
        "time_steps": state.time_steps,
        "seconds": time.perf_counter() - start,
        "curve": curve[:: max(1, len(curve) // 400)] + curve[-1:],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=40000, help="time steps per method")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--density", type=float, default=0.25, help="W_h's kept fraction")
    parser.add_argument("--seeds", default="0,1", help="comma-separated seeds")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--out", default=str(DOCS))
    args = parser.parse_args()
    results = []
    for seed in (int(s) for s in args.seeds.split(",")):
        for spec in args.methods.split(","):
            result = run(spec, args, seed)
            results.append(result)
            print(
                f"seed {seed} {result['method']:<8} reached L = {result['length']:>3} after "
                f"{result['time_steps']} steps, {result['updates']} updates "
                f"({result['seconds']:.0f} s)",
                flush=True,
            )
    out = Path(args.out)
    seed = results[0]["seed"]
    first = [r for r in results if r["seed"] == seed]
    curves = {r["method"]: ([c[0] for c in r["curve"]], [c[1] for c in r["curve"]]) for r in first}
    title = f"Copy curriculum, GRU H={args.hidden}, W_h density {args.density}, seed {seed}"
    png = curves_png(curves, xlabel="time steps", ylabel="sequence length L", title=title)
    (out / "online_copy.png").write_bytes(png)
    meta = {"machine": platform.platform(), "python": platform.python_version(), **vars(args)}
    (out / "online_copy.json").write_text(json.dumps({"settings": meta, "runs": results}) + "\n")


if __name__ == "__main__":
    main()
