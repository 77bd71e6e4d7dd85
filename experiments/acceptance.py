"""Acceptance experiments of training, each over 3 seeds; a claim passes when >= 2 do.

    python experiments/acceptance.py adding        LSTM and GRU reach test MSE <= 0.01 at T=100,
                                                   a tanh RNN stays above it (10,000 updates)
    python experiments/acceptance.py shakespeare   LSTM 1x128 BPTT(50, 50) beats a char 3-gram;
                                                   carrying state beats resetting it per chunk
    python experiments/acceptance.py copy          T=50: full BPTT <= 0.5 x baseline,
                                                   BPTT(10, 10) >= 0.95 x baseline (12,000
                                                   updates; full BPTT stops at 0.12 nats)
    python experiments/acceptance.py summary       the table of every result recorded so far

Each run appends one JSON line to experiments/results/<experiment>.jsonl (the config, the
figures, the wall time and the machine), so runs can be spread over several sessions.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from bptt.data.ngram import fit_ngram, ngram_nll, tune_alpha
from bptt.data.synthetic import ADDING_BASELINE_MSE, copy_baseline
from bptt.train.checkpoint import list_checkpoints, load_checkpoint
from bptt.train.config import resolve_config
from bptt.train.evaluate import evaluate
from bptt.train.resume import resume_config
from bptt.train.trainer import Trainer

RESULTS = Path(__file__).resolve().parent / "results"
SEEDS = (0, 1, 2)


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def _record(experiment: str, row: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    row = {**row, "machine": _machine(), "date": time.strftime("%Y-%m-%d %H:%M")}
    with open(RESULTS / f"{experiment}.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
    print(json.dumps(row), flush=True)


def _train(settings: dict) -> tuple[Trainer, float]:
    """Train, or continue a run found in the output directory (resuming is bit for bit, so a
    run extended to more updates equals a run made with that many from the start)."""
    config = resolve_config(settings)
    ckpt = None
    if list_checkpoints(Path(config.out) / "checkpoints"):
        ckpt = load_checkpoint(config.out)
        config = resume_config(ckpt, {"steps": config.steps, "checkpoint_every": config.steps})
    trainer = Trainer(config, resume=ckpt, stream=sys.stderr)
    t0 = time.perf_counter()
    trainer.fit()
    return trainer, time.perf_counter() - t0


def adding(seeds: tuple[int, ...], cells: list[str], work: Path) -> None:
    for cell in cells:
        for seed in seeds:
            settings = dict(
                task="adding",
                seq_len=100,
                cell=cell,
                hidden_size=128,
                batch_size=50,
                bptt="full",
                optimizer="adam",
                learning_rate=1e-3,
                clip=1.0,
                steps=10_000,
                eval_every=500,
                eval_sequences=1000,
                checkpoint_every=10_000,
                log_every=100,
                stop_at=0.002,
                seed=seed,
                out=str(work / f"adding-{cell}-{seed}"),
            )
            trainer, seconds = _train(settings)
            test_config = trainer.config.replace(eval_sequences=10_000)
            test = evaluate(trainer.model, trainer.state.params, trainer.task, test_config, "test")
            _record(
                "adding",
                {
                    "cell": cell,
                    "seed": seed,
                    "updates": trainer.state.step,
                    "test_mse": test["mse"],
                    "baseline_mse": ADDING_BASELINE_MSE,
                    "passes": test["mse"] <= 0.01 if cell != "rnn" else test["mse"] > 0.01,
                    "seconds": seconds,
                    "settings": settings,
                },
            )


def shakespeare(seeds: tuple[int, ...], work: Path) -> None:
    for carry in (True, False):
        for seed in seeds:
            settings = dict(
                task="shakespeare",
                cell="lstm",
                hidden_size=128,
                num_layers=1,
                batch_size=32,
                k1=50,
                k2=50,
                optimizer="adam",
                learning_rate=2e-3,
                clip=5.0,
                steps=1500,
                eval_every=1500,
                checkpoint_every=1500,
                carry=carry,
                sample_length=0,
                seed=seed,
                out=str(work / f"shakespeare-{'carry' if carry else 'reset'}-{seed}"),
            )
            trainer, seconds = _train(settings)
            valid = trainer.evaluate("valid")
            _record(
                "shakespeare",
                {
                    "carry": carry,
                    "seed": seed,
                    "valid_nats": valid["loss"],
                    "valid_bpc": valid["bpc"],
                    "seconds": seconds,
                    "settings": settings,
                },
            )
    task = Trainer(resolve_config({"out": str(work / "ngram")}), stream=io.StringIO()).task
    alphas = (1e-3, 1e-2, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
    alpha, valid_nats = tune_alpha(
        task.splits["train"], task.splits["valid"], task.vocab.size, n=3, alphas=alphas
    )
    model = fit_ngram(task.splits["train"], task.vocab.size, n=3)
    _record(
        "shakespeare-ngram",
        {
            "n": 3,
            "alpha": alpha,
            "alphas": list(alphas),
            "valid_nats": valid_nats,
            "check": ngram_nll(model, task.splits["valid"], alpha),
        },
    )


def copy(seeds: tuple[int, ...], ks: tuple[int, ...], work: Path) -> None:
    for k in ks:
        for seed in seeds:
            settings = dict(
                task="copy",
                seq_len=50,
                cell="lstm",
                hidden_size=128,
                embed_size=16,
                batch_size=32,
                bptt="full" if k == 0 else k,
                optimizer="adam",
                learning_rate=1e-3,
                clip=1.0,
                steps=12_000,
                eval_every=500,
                eval_sequences=1000,
                checkpoint_every=12_000,
                log_every=100,
                seed=seed,
                out=str(work / f"copy-k{k}-{seed}"),
                stop_at=0.12 if k == 0 else None,
            )
            trainer, seconds = _train(settings)
            test_config = trainer.config.replace(eval_sequences=2000)
            test = evaluate(trainer.model, trainer.state.params, trainer.task, test_config, "test")
            baseline = copy_baseline(50)
            ratio = test["nats"] / baseline
            _record(
                "copy",
                {
                    "bptt": "full" if k == 0 else f"({k}, {k})",
                    "seed": seed,
                    "updates": trainer.state.step,
                    "test_nats": test["nats"],
                    "baseline_nats": baseline,
                    "ratio": ratio,
                    "passes": ratio <= 0.5 if k == 0 else ratio >= 0.95,
                    "seconds": seconds,
                    "settings": settings,
                },
            )


def _rows(name: str) -> list[dict]:
    path = RESULTS / f"{name}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def summary() -> str:
    lines = [
        "| experiment | setting | seed | figure | baseline | passes | updates | time (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in _rows("adding"):
        lines.append(
            f"| adding T=100 | {r['cell']} | {r['seed']} | test MSE {r['test_mse']:.4f} "
            f"| {r['baseline_mse']:.4f} | {r['passes']} | {r['updates']} "
            f"| {r['seconds']:.0f} |"
        )
    ngram = _rows("shakespeare-ngram")
    ref = ngram[-1]["valid_nats"] if ngram else math.nan
    for r in _rows("shakespeare"):
        setting = "carry state" if r["carry"] else "reset per chunk"
        lines.append(
            f"| Shakespeare LSTM 1x128 BPTT(50,50) | {setting} | {r['seed']} | valid "
            f"{r['valid_nats']:.4f} nats ({r['valid_bpc']:.3f} bpc) | 3-gram "
            f"{ref:.4f} nats | {r['valid_nats'] < ref} | 1500 | {r['seconds']:.0f} |"
        )
    for r in _rows("copy"):
        lines.append(
            f"| copy T=50 LSTM 128 | BPTT {r['bptt']} | {r['seed']} | test "
            f"{r['test_nats']:.4f} nats ({r['ratio']:.2f} x baseline) | "
            f"{r['baseline_nats']:.4f} | {r['passes']} | {r['updates']} "
            f"| {r['seconds']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment", choices=("adding", "shakespeare", "copy", "summary"))
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--cells", nargs="+", default=["lstm", "gru", "rnn"])
    parser.add_argument("--ks", type=int, nargs="+", default=[0, 10], help="copy: 0 = full")
    parser.add_argument("--work", default="runs/acceptance", help="where runs are written")
    args = parser.parse_args()
    np.seterr(all="ignore")  # training reports non-finite updates itself
    work, seeds = Path(args.work), tuple(args.seeds)
    if args.experiment == "adding":
        adding(seeds, args.cells, work)
    elif args.experiment == "shakespeare":
        shakespeare(seeds, work)
    elif args.experiment == "copy":
        copy(seeds, tuple(args.ks), work)
    else:
        print(summary())


if __name__ == "__main__":
    main()
