"""Acceptance experiments of training, each over 3 seeds; a claim passes when >= 2 do.

    python experiments/acceptance.py adding        LSTM and GRU reach test MSE <= 0.01 at T=100,
                                                   a tanh RNN stays above it (10,000 updates)
    python experiments/acceptance.py shakespeare   LSTM 1x128 BPTT(50, 50) beats a char 3-gram;
                                                   carrying state beats resetting it per chunk
    python experiments/acceptance.py copy          T=50: full BPTT <= 0.5 x baseline,
                                                   BPTT(10, 10) >= 0.95 x baseline (12,000
                                                   updates; full BPTT stops at 0.12 nats)
    python experiments/acceptance.py summary       the table of every result recorded so far

The seeds (and cells, settings) of an experiment are the runs of a sweep
(``bptt.train.sweep.run_sweep``): one after another in one process, or several at a time
under MPI, ``mpiexec -n 3 python experiments/acceptance.py adding`` (one run per process;
``--procs-per-run 2`` trains each run data-parallel over 2 processes, exactly as one).

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
from bptt.train.distributed import World
from bptt.train.evaluate import evaluate
from bptt.train.resume import resume_config
from bptt.train.sweep import SweepRun, run_sweep
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


def _train(settings: dict, world: World | None = None) -> tuple[Trainer, float]:
    """Train, or continue a run found in the output directory (resuming is bit for bit, so a
    run extended to more updates equals a run made with that many from the start), alone or
    data-parallel in ``world``."""
    config = resolve_config(settings)
    ckpt = None
    if list_checkpoints(Path(config.out) / "checkpoints"):
        ckpt = load_checkpoint(config.out)
        config = resume_config(ckpt, {"steps": config.steps, "checkpoint_every": config.steps})
    trainer = Trainer(config, resume=ckpt, stream=sys.stderr, world=world)
    t0 = time.perf_counter()
    trainer.fit()
    return trainer, time.perf_counter() - t0


def _sweep(runs: list[SweepRun], work, procs_per_run: int) -> list[dict] | None:
    """Each run's row, recorded by the first process of its group; None off process 0."""

    def one(run: SweepRun, world: World | None) -> dict:
        row = work(run, world)
        if world is None or world.rank == 0:
            _record(run.name.split("-")[0], row)
        return row

    return run_sweep(runs, one, procs_per_run=procs_per_run)


def adding(seeds: tuple[int, ...], cells: list[str], work: Path, procs_per_run: int = 1) -> None:
    runs = []
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
            runs.append(SweepRun(f"adding-{cell}-{seed}", {"cell": cell, "seed": seed}, settings))

    def one(run: SweepRun, world: World | None) -> dict:
        trainer, seconds = _train(run.settings, world)
        test_config = trainer.config.replace(eval_sequences=10_000)
        params = trainer.state.params
        test = evaluate(trainer.model, params, trainer.task, test_config, "test", shard=world)
        cell = run.values["cell"]
        return {
            **run.values,
            "updates": trainer.state.step,
            "test_mse": test["mse"],
            "baseline_mse": ADDING_BASELINE_MSE,
            "passes": test["mse"] <= 0.01 if cell != "rnn" else test["mse"] > 0.01,
            "seconds": seconds,
            "settings": run.settings,
        }

    _sweep(runs, one, procs_per_run)


def shakespeare(seeds: tuple[int, ...], work: Path, procs_per_run: int = 1) -> None:
    runs = []
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
            name = f"shakespeare-{'carry' if carry else 'reset'}-{seed}"
            runs.append(SweepRun(name, {"carry": carry, "seed": seed}, settings))

    def one(run: SweepRun, world: World | None) -> dict:
        trainer, seconds = _train(run.settings, world)
        valid = trainer.evaluate("valid")
        return {
            **run.values,
            "valid_nats": valid["loss"],
            "valid_bpc": valid["bpc"],
            "seconds": seconds,
            "settings": run.settings,
        }

    if _sweep(runs, one, procs_per_run) is None:
        return  # the n-gram baseline is process 0's
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


def copy(seeds: tuple[int, ...], ks: tuple[int, ...], work: Path, procs_per_run: int = 1) -> None:
    runs = []
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
            runs.append(SweepRun(f"copy-k{k}-{seed}", {"k": k, "seed": seed}, settings))

    def one(run: SweepRun, world: World | None) -> dict:
        trainer, seconds = _train(run.settings, world)
        test_config = trainer.config.replace(eval_sequences=2000)
        params = trainer.state.params
        test = evaluate(trainer.model, params, trainer.task, test_config, "test", shard=world)
        baseline = copy_baseline(50)
        ratio = test["nats"] / baseline
        k = run.values["k"]
        return {
            "bptt": "full" if k == 0 else f"({k}, {k})",
            "seed": run.values["seed"],
            "updates": trainer.state.step,
            "test_nats": test["nats"],
            "baseline_nats": baseline,
            "ratio": ratio,
            "passes": ratio <= 0.5 if k == 0 else ratio >= 0.95,
            "seconds": seconds,
            "settings": run.settings,
        }

    _sweep(runs, one, procs_per_run)


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
    parser.add_argument(
        "--procs-per-run", type=int, default=1, help="under mpiexec: processes per run (1)"
    )
    args = parser.parse_args()
    np.seterr(all="ignore")  # training reports non-finite updates itself
    work, seeds, procs = Path(args.work), tuple(args.seeds), args.procs_per_run
    if args.experiment == "adding":
        adding(seeds, args.cells, work, procs)
    elif args.experiment == "shakespeare":
        shakespeare(seeds, work, procs)
    elif args.experiment == "copy":
        copy(seeds, tuple(args.ks), work, procs)
    else:
        print(summary())


if __name__ == "__main__":
    main()
