"""Bias and cosine of each estimator on a Shakespeare character model, before and after training.

The model: one LSTM layer of ``--hidden`` units on one-hot characters (the vocabulary's 71
symbols), a softmax readout at every step, float64. It is measured twice: at
initialisation, and after ``--updates`` updates of truncated BPTT(50, 50) training with
Adam (bptt.online.train with the tbptt:50 estimator: the chunked training of `bptt train`).
Each time, every estimator sees the same ``--window`` steps of B training streams, starting
from the state the model reaches after ``--warmup`` steps of the same streams (the exact
gradient is full BPTT over the window from that state, which every estimator also starts
from); random estimators are averaged over ``--draws`` draws.

    python experiments/online_shakespeare.py        # docs/online_shakespeare.json and PNGs
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from bptt.model import Model, ModelConfig
from bptt.online import make_estimator
from bptt.online.compare import Comparison, compare_estimators
from bptt.online.figures import comparison_png
from bptt.online.stepper import as_features, initial_carry, run_step
from bptt.online.tasks import for_online
from bptt.online.train import train_online
from bptt.optim import adam, with_clipping
from bptt.train.config import TrainConfig
from bptt.train.evaluate import evaluate
from bptt.train.tasks import shakespeare_task
from bptt.window import loss_positions

DOCS = Path(__file__).resolve().parents[1] / "docs"
ESTIMATORS = (
    "bptt",
    "tbptt:5",
    "tbptt:20",
    "artbp:10",
    "artbp:20",
    "rtrl",
    "uoro",
    "snap1",
    "eprop",
    "eprop-random",
)


def warm_state(model, params, batch, steps):
    """The carry after ``steps`` steps of ``batch`` (no gradient)."""
    carry = initial_carry(model, params, batch.inputs.shape[1])
    positions = loss_positions(batch)
    D = int(model.config.input_size)
    for t in range(steps):
        x = as_features(batch.inputs[t], D, np.float64)
        carry = run_step(
            model, params, carry, x, batch.targets[t], positions[t], loss="xent", scale=1.0
        )[0]
    return carry


def measure(model, params, task, args, offset) -> Comparison:
    stream = task.train_batch(args.seed, 0, args.batch)
    warm = stream.slice(offset, offset + args.warmup)
    window = stream.slice(offset + args.warmup, offset + args.warmup + args.window)
    carry0 = warm_state(model, params, warm, args.warmup)
    estimators = [make_estimator(e) for e in ESTIMATORS]
    return compare_estimators(
        model,
        params,
        window,
        estimators,
        loss="xent",
        draws=args.draws,
        seed=args.seed,
        carry0=carry0,
    )


def show(label: str, result: Comparison) -> None:
    print(f"{label}: loss {result.loss:.3f} nats, |g| {result.exact_norm:.3g}")
    for r in result.reports:
        print(
            f"  {r.name:<13} cos {r.cosine:+.3f} (mean {r.cosine_of_mean:+.3f})  bias "
            f"{r.bias:.3f} +- {r.bias_stderr:.3f}  var {r.variance:.3g}  "
            f"{1e3 * r.seconds_per_step:.2f} ms/step  {r.state_bytes / 2**20:.2f} MiB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--batch", type=int, default=8, help="streams measured")
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--draws", type=int, default=20)
    parser.add_argument("--updates", type=int, default=1500)
    parser.add_argument("--train-batch", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(DOCS))
    args = parser.parse_args()
    task = for_online(shakespeare_task())
    model = Model(ModelConfig(cell="lstm", hidden_size=args.hidden, **task.model_io()))
    params = model.init(np.random.default_rng(args.seed), dtype=np.float64)
    config = TrainConfig(task="shakespeare", batch_size=args.train_batch, seed=args.seed)
    valid = evaluate(model, params, task, config, "valid")
    start = time.perf_counter()
    before = measure(model, params, task, args, offset=50_000)
    show(f"initialisation (valid {valid['bpc']:.3f} bpc)", before)
    trained, records = train_online(
        model,
        params,
        task,
        make_estimator("tbptt:50"),
        with_clipping(adam(2e-3), 5.0),
        updates=args.updates,
        batch_size=args.train_batch,
        seed=args.seed,
        chunk=50,
    )
    valid_after = evaluate(model, trained, task, config, "valid")
    after = measure(model, trained, task, args, offset=50_000)
    show(f"after {args.updates} updates (valid {valid_after['bpc']:.3f} bpc)", after)
    out = Path(args.out)
    H = args.hidden
    for name, result in (("init", before), ("trained", after)):
        title = f"Shakespeare, LSTM H={H}, {name}: T={result.steps}, B={result.batch_size}"
        (out / f"online_shakespeare_{name}.png").write_bytes(comparison_png(result, title=title))
    meta = {"machine": platform.platform(), "python": platform.python_version(), **vars(args)}
    data = {
        "settings": meta,
        "valid_bpc": {"init": valid["bpc"], "trained": valid_after["bpc"]},
        "init": before.to_dict(),
        "trained": after.to_dict(),
        "train_loss": [(r["update"], r["loss"]) for r in records[:: max(1, len(records) // 100)]],
        "seconds": time.perf_counter() - start,
    }
    (out / "online_shakespeare.json").write_text(json.dumps(data) + "\n")


if __name__ == "__main__":
    main()
